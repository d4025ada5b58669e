"""The policy capability end to end on a small demo country: the demo extension, the API (JSON/CSV, problems,
auth), the public pages and their twins, and the risk map and in-force page in a real headless Chromium."""

from __future__ import annotations

import datetime as dt
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import uvicorn
from fastapi.testclient import TestClient
from rich.console import Console

import accord.app
from accord import migrate
from accord.auth import service as auth
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.demo import country, outbreak
from accord.demo.context import DemoContext
from accord.places import service as places
from accord.policy import demo, pages
from accord.settings import Settings
from accord.surveillance import service as surveillance

CHROMIUM = Path("/usr/bin/chromium")
XSS = '<script>alert("x")</script>'
NOW = dt.datetime(2020, 4, 1, 12, tzinfo=dt.UTC)
DAYS = 60


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], DemoContext]:
    path = tmp_path_factory.mktemp("policy")
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    geo = country.generate_country(seed=3, provinces=2, cities=8, communities=40)
    start = (NOW - dt.timedelta(days=DAYS + 1)).date()
    truth = outbreak.simulate_outbreak(geo, days=DAYS, seed=3, start=start)
    cases = truth[(truth["indicator"] == "new_confirmed") & (truth["disaggregation"] == "")]
    frame = cases.assign(date=cases["date"].astype(str))[["jurisdiction", "date", "indicator", "value"]]
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, geo, file="demo")
        surveillance.submit(s, frame, actor=SYSTEM, source="demo truth", now=NOW)
        auth.add_user(s, "chief", "coordinator", "AR")
        auth.add_user(s, "north", "coordinator", "AR-01")
    with transaction(sessions) as s:
        tokens = [auth.issue_token(s, "chief"), auth.issue_token(s, "north")]
    ctx = DemoContext(sessions, geo, truth, start, NOW, 3, "AR", Settings(data_dir=path), Console(quiet=True))
    lines = demo.extend(ctx)
    engine.dispose()
    return path, lines + tokens, ctx


@pytest.fixture(scope="module")
def client(store: tuple[Path, list[str], DemoContext]) -> Iterator[TestClient]:
    app = accord.app.create_app(Settings(data_dir=store[0]))
    pages.install(app)
    with TestClient(app) as c:
        yield c


def _h(store: tuple[Path, list[str], DemoContext], who: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {store[1][-2 + who]}"}


def test_demo_extension(store: tuple[Path, list[str], DemoContext], client: TestClient) -> None:
    lines = store[1][:-2]
    assert lines[0].startswith("policy: national lockdown directive from")
    assert "risk areas classified daily" in lines[1] and "over 40 communities" in lines[1]
    lockdown = store[2].start + dt.timedelta(days=demo.LOCKDOWN_DAY)
    body = client.get("/api/v1/policy/in-force/AR", params={"on": lockdown.isoformat()}).json()
    assert {e["indicator"]: e["level"] for e in body["data"]}["C6"] == 2
    assert client.get("/api/v1/policy/in-force/AR", params={"on": "2019-01-01"}).json()["data"] == []


Store = tuple[Path, list[str], DemoContext]


def test_in_force_api_and_page_name_who_ordered_it(store: Store, client: TestClient) -> None:
    city = store[1][2].rsplit("/", 1)[-1]
    day = store[2].start + dt.timedelta(days=demo.LOCKDOWN_DAY + 5)
    community = store[2].geo.loc[store[2].geo["parent_code"] == city, "code"].iloc[0]
    body = client.get(f"/api/v1/policy/in-force/{community}", params={"on": day.isoformat()}).json()
    c6 = next(e for e in body["data"] if e["indicator"] == "C6")
    assert (c6["level"], c6["ordered_by"]) == (3, city)
    assert c6["overridden"][0]["jurisdiction"] == "AR"
    csv = pd.read_csv(io.StringIO(client.get(f"/public/policy/in-force/{community}.csv?date={day}").text))
    assert csv.set_index("indicator").loc["C6", "ordered_by"] == city
    html = client.get(f"/public/policy/in-force/{community}?date={day}").text
    assert f'<span class="note">{city}</span>' in html
    assert client.get("/public/policy/in-force/NOPE").status_code == 404
    assert client.get("/public/policy/in-force/NOPE.json").headers["content-type"].startswith("application/problem")


def test_issue_measure_via_api(store: tuple[Path, list[str], DemoContext], client: TestClient) -> None:
    body = {"jurisdiction": "AR-01", "indicator": "C5", "level": 2, "start": "2020-03-01", "notes": XSS}
    assert client.post("/api/v1/policy/measures", json=body).status_code == 401
    r = client.post("/api/v1/policy/measures", json=body, headers=_h(store, 1))
    assert r.status_code == 201, r.text
    again = client.post("/api/v1/policy/measures", json=body, headers=_h(store, 1))
    assert again.status_code == 409 and f"measure {r.json()['id']}" in again.json()["detail"]
    outside = client.post("/api/v1/policy/measures", json={**body, "jurisdiction": "AR-02"}, headers=_h(store, 1))
    assert outside.status_code == 403
    bad = client.post("/api/v1/policy/measures", json={**body, "indicator": "C5", "level": 7}, headers=_h(store, 0))
    assert bad.status_code == 422 and "out of range" in bad.text
    inbox = client.get("/api/v1/policy/inbox/AR-01", headers=_h(store, 1)).json()["data"]
    assert inbox[0]["measure"]["indicator"] == "C5"
    assert client.get("/api/v1/policy/inbox/AR-02", headers=_h(store, 1)).status_code == 403
    page = client.get("/public/policy/measures?jurisdiction=AR-01").text
    assert XSS not in page and "&lt;script&gt;" in page  # escaped


def test_risk_page_twins_and_api(store: tuple[Path, list[str], DemoContext], client: TestClient) -> None:
    last = (NOW - dt.timedelta(days=1)).date()
    js = client.get("/public/policy/risk.json").json()
    assert js["date"] == last.isoformat() and js["rule"]["version"] == "cn-2020-v1"
    assert sum(js["counts"].values()) == 40 and len(js["data"]) == 40
    csv = pd.read_csv(io.StringIO(client.get(f"/public/policy/risk.csv?date={last}").text))
    api = client.get("/api/v1/policy/risk", params={"on": last.isoformat(), "format": "csv"}).text
    assert csv.equals(pd.read_csv(io.StringIO(api)))
    html = client.get(f"/public/policy/risk?date={last}&level=medium").text
    assert 'id="map"' in html and html.count("<tr data-code=") == js["counts"]["medium"]
    assert client.get("/public/policy/risk?date=notaday").status_code == 422
    hist = client.get(f"/api/v1/policy/risk/{csv['jurisdiction'].iloc[0]}/history").json()["data"]
    assert len(hist) == DAYS + 1 - 13  # start + 13 .. now - 1, one run


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_risk_map_to_in_force_in_a_browser(store: tuple[Path, list[str], DemoContext]) -> None:
    from playwright.sync_api import sync_playwright

    app = accord.app.create_app(Settings(data_dir=store[0]))
    pages.install(app)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = b.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"http://127.0.0.1:{port}/public/policy/risk?lang=zh")
            assert page.locator("#map a").count() == 40  # a cartogram: this store has no boundaries
            assert "风险" in page.locator("h1").inner_text()
            page.locator("#map a").first.click()
            page.wait_for_url("**/public/policy/in-force/**")
            assert page.locator("#in-force tbody tr").count() >= 5
            assert page.locator("td.ordered-by").first.inner_text().strip() != ""
            b.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
