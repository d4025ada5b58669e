"""Tracing pages in a real headless Chromium: a tracer signs in on a phone-sized screen, sees today's list and
records an outcome with one tap; the chain view draws its graph and timeline. Screenshots in test-artifacts/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

import accord.app
from accord import migrate
from accord.auth import service as auth
from accord.db import make_engine, session_factory, transaction
from accord.places import service as places
from accord.settings import Settings
from accord.surveillance import service as surveillance
from accord.tracing import cases, contacts, persons, worklists
from accord.tracing.model import Task
from tests.browser import ARTIFACTS, MARKS, chromium, serving

from ..conftest import SMALL_TREE
from .conftest import A, make_users

TODAY = dt.date.today()
HOSTILE = "<img src=x onerror=alert(1)>"

pytestmark = MARKS


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str], object]]:
    path = tmp_path_factory.mktemp("tracing-browser")
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, SMALL_TREE)
    users = make_users(sessions)
    ta = users["tracer-a"]
    with transaction(sessions) as s:
        refs = [
            persons.register_person(s, ta, A, {"name": n, "phone": f"+86 1380000{i:04d}"}).person.ref
            for i, n in enumerate(["Li Wei", "Wang Fang", HOSTILE, "Zhao Min", "Chen Jing"])
        ]
        onsets = [TODAY - dt.timedelta(days=d) for d in (9, 6, 5, 3)]
        for ref, onset in zip(refs[:4], onsets, strict=True):
            cases.create_case(s, ta, ref, "confirmed", onset + dt.timedelta(days=1), onset_date=onset)
        for a, b in ((0, 1), (0, 2), (1, 3)):
            contacts.add_contact(
                s,
                ta,
                refs[a],
                refs[b],
                last_exposure=onsets[b] - dt.timedelta(days=2),
                setting="household",
                infector=True,
            )
        contacts.add_contact(s, ta, refs[3], refs[4], last_exposure=TODAY - dt.timedelta(days=2), setting="work")
        worklists.generate_followups(s, TODAY)
        worklists.add_task(s, ta, "delivery", A, TODAY, person_ref=refs[4], note="rice and vegetables")
        tokens = {name: auth.issue_token(s, name) for name in ("tracer-a", "coord")}
    app = accord.app.create_app(Settings(data_dir=path))
    with serving(app) as base_url:
        yield base_url, tokens, sessions
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


def test_task_list_at_phone_width_one_tap(browser: object, site: tuple[str, dict[str, str], object]) -> None:
    base, tokens, sessions = site
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)  # type: ignore[attr-defined]
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{base}/tracing/tasks")
    page.wait_for_url("**/tracing/login**")
    page.fill("input[name=token]", tokens["tracer-a"])
    page.click("button[type=submit]")
    page.wait_for_url("**/tracing/tasks")
    cards = page.locator("section.t")
    assert cards.count() == 2  # Chen Jing's symptom check and the delivery to her household
    assert page.locator("text=Chen Jing").count() == 2
    # nothing wider than the phone: no horizontal scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    button = page.locator("section.t[data-status=open] button.main").first
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44  # a thumb can hit it
    page.screenshot(path=str(ARTIFACTS / "tracing-tasks-phone.png"), full_page=True)
    button.click()
    page.wait_for_selector("#message")
    assert "Saved" in page.inner_text("#message")
    assert page.locator("section.t[data-status=done]").count() == 1
    with transaction(sessions) as s:  # type: ignore[arg-type]
        assert sorted(t.status for t in s.scalars(select(Task))) == ["done", "open"]
    assert dialogs == []
    context.close()


def test_chain_view_draws_graph_and_timeline(browser: object, site: tuple[str, dict[str, str], object]) -> None:
    base, tokens, _ = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_extra_http_headers({"Authorization": f"Bearer {tokens['coord']}"})
    page.goto(f"{base}/tracing/chains/AR-01-01")
    page.wait_for_selector("#graph[data-drawn='1']", timeout=20000)
    page.wait_for_selector("#timeline[data-drawn='1']", timeout=20000)
    assert page.locator("#clusters tbody tr").count() == 1
    assert page.locator("#clusters tbody tr td").nth(1).inner_text() == "4"
    assert page.locator("#graph .scatterlayer .point").count() == 4
    assert "Serial interval" in page.inner_text("#summary")
    page.screenshot(path=str(ARTIFACTS / "tracing-chains-desktop.png"), full_page=True)
    html = page.content()
    assert HOSTILE not in html and "Li Wei" not in html  # the chain view carries no names
    assert dialogs == []
    page.close()
