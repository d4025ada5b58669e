"""The analytics API and the public Rt page through the ASGI client: routes ahead of the disclosure catch-alls,
JSON / CSV / Parquet, the latest estimate per child, problem documents, the page with its chart data and table,
its twins, escaping, suppression, and a headless Chromium drawing the chart where one is installed."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from analytics_data import DAYS, START, load
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.browser import CHROMIUM, chromium, serving
from tests.conftest import SMALL_TREE

import accord.app
from accord import migrate
from accord.analytics import pages
from accord.auth import service as auth
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.disclosure.suppression import SuppressionPolicy
from accord.places import service as places
from accord.settings import Settings
from accord.surveillance import service as surveillance

EVIL = "<script>alert(1)</script>"


def build(path: Path) -> str:
    """The analytics store plus a province with a hostile name; returns an analyst's token."""
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, SMALL_TREE)
        places.import_places(
            s,
            pd.DataFrame(
                [("AR-X", EVIL, None, "province", "AR", 10)],
                columns=["code", "name", "local_name", "level", "parent_code", "population"],
            ),
        )
        load(s)
        auth.add_user(s, "analyst", "analyst", "AR")
        token = auth.issue_token(s, "analyst")
    with transaction(sessions) as s:
        # a provisional day: never public
        frame = pd.DataFrame(
            [("AR-01-02", START + dt.timedelta(days=DAYS), "new_confirmed", "", 900)],
            columns=["jurisdiction", "date", "indicator", "disaggregation", "value"],
        )
        surveillance.submit(
            s, frame, actor=SYSTEM, source="test:provisional", now=dt.datetime(2020, 3, 1, tzinfo=dt.UTC)
        )
    engine.dispose()
    return token


def make_app(path: Path) -> accord.app.FastAPI:
    app = accord.app.create_app(Settings(data_dir=path))
    pages.install(app)  # the line app.py adds after rumor_pages.install(app)
    return app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("analytics-web")
    return path, build(path)


@pytest.fixture(scope="module")
def client(served: tuple[Path, str]) -> Iterator[TestClient]:
    with TestClient(make_app(served[0])) as c:
        yield c


def _paths(routes: list[object]) -> list[str]:
    """Route paths in matching order, looking into routers that FastAPI wraps when they are included."""
    out: list[str] = []
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            out += _paths(inner.routes)
        elif isinstance(r, APIRoute):
            out.append(r.path)
    return out


def test_routes_sit_ahead_of_the_disclosure_catch_alls(client: TestClient) -> None:
    paths = _paths(client.app.router.routes)  # type: ignore[attr-defined]
    assert paths.index("/public/{code}/rt") < paths.index("/public/{code}/{view}")
    assert paths.count("/api/v1/analytics/rt") == 1
    pages.install(client.app)  # type: ignore[attr-defined]  # twice: the API is not added again
    assert _paths(client.app.router.routes).count("/api/v1/analytics/rt") == 1  # type: ignore[attr-defined]
    assert client.get("/public/AR/rt").status_code == 200
    # the disclosure pages still answer
    assert client.get("/public/AR").status_code == 200 and client.get("/public/AR/errata").status_code == 200


def test_rt_api_json_csv_parquet(client: TestClient) -> None:
    js = client.get("/api/v1/analytics/rt", params={"jurisdiction": "AR"}).json()
    assert js["window"] == 7 and js["si_mean"] == 7.5 and js["view"] == "public"
    assert js["origin"]["AR-01"] == "parts" and any("unknown origin" in n for n in js["notes"])
    data = pd.DataFrame(js["data"])
    assert set(data["jurisdiction"]) == {"AR-01", "AR-02"}  # AR-X reports nothing
    assert data["date"].max() == (START + dt.timedelta(days=DAYS - 1)).isoformat()  # provisional day left out
    csv = pd.read_csv(
        io.StringIO(client.get("/api/v1/analytics/rt", params={"jurisdiction": "AR", "format": "csv"}).text)
    )
    assert list(csv.columns) == list(data.columns)
    pd.testing.assert_series_equal(csv["mean"], data["mean"], check_names=False)
    r = client.get("/api/v1/analytics/rt", params={"jurisdiction": "AR", "format": "parquet", "level": "city"})
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    assert set(pd.read_parquet(io.BytesIO(r.content))["jurisdiction"]) == {"AR-01-01", "AR-01-02", "AR-02-01"}


def test_rt_latest_lists_every_child_for_a_map(client: TestClient) -> None:
    js = client.get("/api/v1/analytics/rt/latest", params={"jurisdiction": "AR"}).json()
    latest = {d["jurisdiction"]: d for d in js["data"]}
    assert set(latest) == {"AR-01", "AR-02", "AR-X"}
    assert latest["AR-X"]["status"] == "no reports" and latest["AR-X"]["mean"] is None
    full = pd.DataFrame(client.get("/api/v1/analytics/rt", params={"jurisdiction": "AR"}).json()["data"])
    last = full[full["jurisdiction"] == "AR-01"].iloc[-1]
    assert latest["AR-01"]["mean"] == pytest.approx(last["mean"]) and latest["AR-01"]["date"] == last["date"]
    assert latest["AR-01"]["trend"] in {"growing", "declining", "uncertain"}


def test_problems_and_provisional_view(client: TestClient, served: tuple[Path, str]) -> None:
    r = client.get("/api/v1/analytics/rt", params={"jurisdiction": "NOPE"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = client.get("/api/v1/analytics/rt", params={"jurisdiction": "AR", "window": 0})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "window"
    r = client.get("/api/v1/analytics/rt", params={"jurisdiction": "AR", "window": 45})
    assert r.status_code == 422 and r.json()["type"] == "/problems/not-enough-data"
    assert client.get("/api/v1/analytics/rt", params={"jurisdiction": "AR", "view": "all"}).status_code == 403
    r = client.get(
        "/api/v1/analytics/rt",
        params={"jurisdiction": "AR", "view": "all", "level": "city"},
        headers={"Authorization": f"Bearer {served[1]}"},
    )
    assert r.status_code == 200
    assert max(d["date"] for d in r.json()["data"]) == (START + dt.timedelta(days=DAYS)).isoformat()


def test_hospital_api_with_and_without_capacity(client: TestClient) -> None:
    bare = client.get("/api/v1/analytics/hospital", params={"jurisdiction": "AR", "level": "city"}).json()
    assert {d["jurisdiction"] for d in bare["data"]} == {"AR-01-01", "AR-01-02", "AR-02-01"}
    r = client.post(
        "/api/v1/analytics/hospital",
        params={"jurisdiction": "AR", "level": "city"},
        content=b"jurisdiction,beds,icu_beds\nAR-02-01,10,9\n",
        headers={"Content-Type": "text/csv"},
    )
    row = {d["jurisdiction"]: d for d in r.json()["data"]}["AR-02-01"]
    assert row["beds"] == 10 and row["days_to_beds_capacity"] == 0 and row["beds_occupancy"] > 1
    bad = client.post("/api/v1/analytics/hospital", params={"jurisdiction": "AR"}, content=b"jurisdiction,beds\nA,x\n")
    assert bad.status_code == 422 and "line 2" in bad.json()["detail"]


def _chart(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="rt-data">(.*?)</script>', html, re.S)
    assert m
    return json.loads(m.group(1))


def test_page_chart_table_twins_and_escaping(client: TestClient) -> None:
    r = client.get("/public/AR/rt")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    html = r.text
    assert 'id="rt-chart"' in html and "/public/_vendor/plotly.min.js" in html and pages.SCRIPT in html
    assert 'href="/public/AR-01/rt"' in html and 'id="rt-latest"' in html and 'href="/public/AR/rt.csv"' in html
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    chart = _chart(html)
    assert [s["code"] for s in chart["series"]] == ["AR", "AR-01", "AR-02"] and chart["series"][0]["root"]
    twin = client.get("/public/AR/rt.json").json()
    rows = pd.DataFrame(twin["data"])
    ar01 = rows[rows["jurisdiction"] == "AR-01"]
    assert chart["series"][1]["x"] == ar01["date"].tolist()
    assert chart["series"][1]["mean"] == pytest.approx(ar01["mean"].tolist())
    assert {d["jurisdiction"] for d in twin["latest"]} == {"AR", "AR-01", "AR-02", "AR-X"}
    csv = pd.read_csv(io.StringIO(client.get("/public/AR/rt.csv").text))
    assert len(csv) == len(rows) and "withheld" in csv.columns
    assert client.get(pages.SCRIPT).headers["content-type"].startswith("text/javascript")


def test_page_state_language_and_errors(client: TestClient) -> None:
    html = client.get("/public/AR/rt", params={"window": 10, "lang": "zh"}).text
    assert "有效再生数" in html and 'value="10"' in html and "window=10" in html and "lang=zh" in html
    js = client.get("/public/AR/rt.json", params={"window": 10}).json()
    assert js["window"] == 10
    r = client.get("/public/AR/rt", params={"window": "<b>x</b>"})
    assert r.status_code == 400 and "&lt;b&gt;x&lt;/b&gt;" in r.text and "<b>x</b>" not in r.text
    assert client.get("/public/NOPE/rt").status_code == 404
    assert client.get("/public/NOPE/rt.json").headers["content-type"] == "application/problem+json"
    short = client.get("/public/AR/rt", params={"window": 45})
    assert short.status_code == 200 and 'id="problem"' in short.text and 'id="rt-chart"' not in short.text
    leaf = client.get("/public/AR-01-02/rt").text  # a leaf shows itself
    assert [s["code"] for s in _chart(leaf)["series"]] == ["AR-01-02"]


def test_suppression_policy_withholds_small_counts_on_the_page(served: tuple[Path, str]) -> None:
    app = make_app(served[0])
    app.state.suppression = SuppressionPolicy(below=5, from_depth=2)
    with TestClient(app) as c:
        twin = c.get("/public/AR/rt.json", params={"level": "city"}).json()
        api = c.get("/api/v1/analytics/rt", params={"jurisdiction": "AR", "level": "city"}).json()
    rows = pd.DataFrame(twin["data"])
    assert rows["withheld"].any() and rows.loc[rows["withheld"], "mean"].isna().all()
    assert not rows[rows["jurisdiction"] == "AR"]["withheld"].any()  # the country is above the suppressed depth
    assert pd.DataFrame(api["data"])["mean"].notna().all()  # the open-data API is not suppressed


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_browser_draws_the_rt_chart(served: tuple[Path, str]) -> None:
    with serving(make_app(served[0])) as base, chromium() as b:
        page = b.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/public/AR/rt")
        page.wait_for_selector('#rt-chart[data-drawn="1"]', timeout=15_000)
        assert page.locator("#rt-chart .scatterlayer .trace").count() >= 3 and not errors
