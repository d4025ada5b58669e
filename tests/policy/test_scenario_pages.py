"""The scenarios page for a jurisdiction of the store: frontier chart data, table, JSON and CSV twins, the API,
errors named; the page drawn in a real browser (frontier with greyed dominated points, linked curves)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import accord.app
from accord import migrate
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.places import service as places
from accord.policy import measures
from accord.policy.scenarios import pages as scenario_pages
from accord.settings import Settings
from accord.surveillance import service as surveillance
from tests.analytics.analytics_data import DAYS, PUBLISHED_AT, START, T0, load
from tests.conftest import SMALL_TREE

CHROMIUM = Path("/usr/bin/chromium")
QUERY = "level=city&timings=0,20&intensities=distancing,full%20lockdown&durations=30,open&days=80"


def _build(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, SMALL_TREE)
        places.import_places(s, pd.DataFrame([("AR-X", "<script>alert(1)</script>", None, "city", "AR-02", 5000)],
                                             columns=["code", "name", "local_name", "level", "parent_code",
                                                      "population"]))  # fmt: skip
        load(s)
        day = START + dt.timedelta(days=DAYS - 1)
        frame = pd.DataFrame([("AR-01-01", day, "icu_capacity", "", 15), ("AR-02-01", day, "icu_capacity", "", 40)],
                             columns=["jurisdiction", "date", "indicator", "disaggregation", "value"])  # fmt: skip
        surveillance.submit(s, frame, actor=SYSTEM, source="test:capacity", now=T0 + dt.timedelta(days=DAYS))
        surveillance.publish_due(s, PUBLISHED_AT, 1)
        # the North province closed its schools (a directive down the tree): the background of every scenario
        measures.add_measure(s, SYSTEM, measures.MeasureInput("AR-01", "C1", 3, START, None), notify=False)
    engine.dispose()


def _app(path: Path) -> accord.app.FastAPI:
    app = accord.app.create_app(Settings(data_dir=path))
    scenario_pages.install(app)  # as accord.app does
    return app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario-web")
    _build(path)
    return path


@pytest.fixture(scope="module")
def client(served: Path) -> Iterator[TestClient]:
    with TestClient(_app(served)) as c:
        yield c


def test_page_table_twins_api(client: TestClient) -> None:
    page = client.get(f"/public/AR/scenarios?{QUERY}")
    assert page.status_code == 200, page.text
    assert "frontier-chart" in page.text and "<script>alert(1)" not in page.text
    data = client.get(f"/public/AR/scenarios.json?{QUERY}").json()
    assert len(data["scenarios"]) == 9  # baseline + 2 x 2 x 2
    assert {r["code"] for r in data["regions"]} == {"AR-01-01", "AR-01-02", "AR-02-01", "AR-X"}
    assert data["units_with_measures"] == 2  # Riverton and Hillside, under North's school closure
    assert any(s["on_frontier"] for s in data["scenarios"]) and any(not s["on_frontier"] for s in data["scenarios"])
    assert len(data["scenarios"][0]["curves"]["icu"]) == 80
    csv = client.get(f"/public/AR/scenarios.csv?{QUERY}")
    assert csv.text.splitlines()[0].startswith("name,")
    api = client.get(f"/api/v1/scenarios/grid?jurisdiction=AR&{QUERY}&format=csv")
    assert api.status_code == 200 and api.text == csv.text


def test_errors_are_named(client: TestClient) -> None:
    bad = client.get("/public/AR/scenarios.json?intensities=curfew&durations=x")
    assert bad.status_code == 400
    assert "curfew" in bad.json()["detail"] and "durations" in bad.json()["detail"]
    assert client.get("/public/AR/scenarios?days=9999").status_code == 400
    assert client.get("/public/NOPE/scenarios.json").status_code == 404


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
def test_browser_draws_frontier_and_linked_curves(served: Path) -> None:
    import socket

    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app(served), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                        args=["--headless", "--no-sandbox", "--disable-gpu",
                                              "--disable-background-networking"])  # fmt: skip
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/public/AR/scenarios?{QUERY}")
            page.wait_for_selector("#frontier-chart .scatterlayer .point", timeout=30000)
            grey = page.eval_on_selector_all("#frontier-chart .trace:first-child .point",
                                             "els => els.map(e => e.style.fill)")  # fmt: skip
            assert grey and all("192, 196, 204" in g for g in grey)
            before = page.eval_on_selector_all("#curves-chart .scatterlayer .trace", "els => els.length")
            page.locator("#frontier-chart .trace:first-child .point").first.click(force=True)
            page.wait_for_function(f"document.querySelectorAll('#curves-chart .scatterlayer .trace').length > {before}")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
