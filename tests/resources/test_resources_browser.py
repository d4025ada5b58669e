"""The plan review page and the stock-out ranking in a real headless Chromium: the Sankey and the flow map are
drawn by plotly.js from the wheel, a coordinator edits a quantity and approves with a token (through the API),
and the ranking's filter keeps its state in the URL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update

import accord.app
from accord import migrate
from accord.auth import service as auth
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.places import service as places
from accord.places.model import Jurisdiction
from accord.resources import movements, needs_offers, plans
from accord.resources.ledger import AccountKind
from accord.resources.movements import Side
from accord.settings import Settings
from tests.browser import ARTIFACTS, MARKS, chromium, serving
from tests.conftest import SMALL_TREE

DAY = date(2026, 3, 1)
pytestmark = MARKS


def _store(path: Path) -> tuple[int, str]:
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        places.import_places(s, SMALL_TREE)
        for k, code in enumerate(SMALL_TREE["code"]):
            s.execute(update(Jurisdiction).where(Jurisdiction.code == code).values(lon=100 + k, lat=30 + (k % 3)))
        auth.add_user(s, "chief", "coordinator", "AR")
    with transaction(sessions) as s:
        token = auth.issue_token(s, "chief")
        for code, kind, qty in (("AR-01", "stockpile", 900), ("AR-02", "stockpile", 400)):
            movements.post_movement(
                s,
                SYSTEM,
                "receipt",
                resource="n95",
                quantity=qty,
                unit=None,
                source=Side(AccountKind.SUPPLY, code),
                target=Side(AccountKind(kind), code),
                day=DAY,
            )
        movements.post_movement(
            s,
            SYSTEM,
            "receipt",
            resource="gowns",
            quantity=50,
            unit=None,
            source=Side(AccountKind.SUPPLY, "AR-02-01"),
            target=Side(AccountKind.STOCK, "AR-02-01"),
            day=DAY,
        )
        movements.post_movement(
            s,
            SYSTEM,
            "consume",
            resource="gowns",
            quantity=40,
            unit=None,
            source=Side(AccountKind.STOCK, "AR-02-01"),
            target=Side(AccountKind.CONSUMED, "AR-02-01"),
            day=DAY,
        )
        for code, qty in (("AR-01-01-001", 600), ("AR-01-02", 300), ("AR-02-01", 300)):
            needs_offers.post_need(
                s, SYSTEM, code, "n95", qty, by_date=date(2026, 3, 4), justification="wards", today=DAY
            )
    with transaction(sessions) as s:
        pid = plans.solve_plan(s, SYSTEM, "AR", ["n95"], 7, start=DAY).id
    engine.dispose()
    return pid, token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, str, Path]]:
    path = tmp_path_factory.mktemp("resources-browser")
    pid, token = _store(path)
    app = accord.app.create_app(Settings(data_dir=path))
    with serving(app) as base_url:
        yield base_url, pid, token, path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


def test_review_edit_and_approve_a_plan(browser: object, server: tuple[str, int, str, Path]) -> None:
    base, pid, token, path = server
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(f"{base}/public/resources/plans/{pid}")
    page.wait_for_selector("#sankey .sankey-node", timeout=20000)  # plotly drew the Sankey
    page.wait_for_selector("#flowmap .scatterlayer .trace", timeout=20000)
    assert page.locator("#sankey .sankey-node").count() >= 4  # 2 origins, 3 destinations
    page.screenshot(path=str(ARTIFACTS / "resources-plan-desktop.png"), full_page=True)
    first = page.locator("input.qty").first
    sid = first.get_attribute("data-id")
    first.fill("7")
    page.fill("#token", "wrong")
    page.click("#save")
    page.wait_for_function("document.getElementById('message').textContent.length > 0")
    assert "token" in page.inner_text("#message").lower()
    page.fill("#token", token)
    page.click("#save")
    page.wait_for_function("document.getElementById('message').textContent.includes('saved')")
    page.click("#approve")
    page.wait_for_function("document.getElementById('status').textContent.trim() === 'approved'", timeout=15000)
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    with transaction(session_factory(engine)) as s:
        _, ships = plans.plan_frames(s, pid)
    engine.dispose()
    row = ships.set_index("id").loc[int(str(sid))]
    assert row["quantity"] == 7 and row["status"] == "dispatched"


def test_stockout_ranking_filters_in_the_url(browser: object, server: tuple[str, int, str, Path]) -> None:
    base = server[0]
    page = browser.new_page(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.goto(f"{base}/public/resources/AR?date=2026-03-02")
    assert page.locator("#ranking tbody tr[data-resource='gowns']").count() == 1
    page.select_option("select[name=resource]", "gowns")
    page.click(".filters button")
    page.wait_for_url("**resource=gowns**")
    rows = page.locator("#ranking tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-level") == "critical"  # 10 left at 40/7 a day
    page.screenshot(path=str(ARTIFACTS / "resources-stockout-phone.png"), full_page=True)
