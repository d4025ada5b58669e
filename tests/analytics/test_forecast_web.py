"""Nowcast, forecast and scenario endpoints and the public forecast page (fans, fit table, twins) through the ASGI
client; the Rt page's map of the latest Rt per area; a headless Chromium drawing the fan charts where installed."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from test_analytics_web import CHROMIUM, EVIL, build, make_app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("forecast-web")
    return path, build(path)


@pytest.fixture(scope="module")
def client(served: tuple[Path, str]) -> Iterator[TestClient]:
    with TestClient(make_app(served[0])) as c:
        yield c


def test_forecast_api_and_page_agree(client: TestClient) -> None:
    params = {"jurisdiction": "AR", "members": 20, "horizon": 7}
    js = client.get("/api/v1/analytics/forecast", params=params).json()
    data = pd.DataFrame(js["data"])
    assert js["members"] == 20 and js["quantiles"] == [0.025, 0.25, 0.5, 0.75, 0.975]
    fc = data[data["kind"] == "forecast"]
    assert set(fc["jurisdiction"]) == {"AR-01", "AR-02", "AR-X"} and len(fc) == 21
    assert (fc["q025"] <= fc["q50"]).all() and (fc["q50"] <= fc["q975"]).all()
    fit = pd.DataFrame(client.get("/api/v1/analytics/forecast", params={**params, "part": "fit"}).json()["data"])
    assert {"r0", "r0_lower", "r0_upper", "rho", "nb_size"} <= set(fit.columns)
    # the page's twin: same numbers (same seed), published figures
    twin = pd.read_csv(io.StringIO(client.get("/public/AR/forecast.csv", params={"members": 20, "horizon": 7}).text))
    assert twin["q50"].fillna(-1).tolist() == data["q50"].fillna(-1).tolist()
    page = client.get("/public/AR/forecast", params={"members": 20, "horizon": 7})
    assert page.status_code == 200
    chart = json.loads(re.search(r'id="forecast-data">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
    assert [s["code"] for s in chart["series"]] == ["AR-01", "AR-02", "AR-X"]
    assert len(chart["series"][0]["q"]) == 5 and len(chart["series"][0]["xf"]) == 7
    assert EVIL not in page.text and "&lt;script&gt;" in page.text  # the hostile name is escaped
    assert 'id="json-twin"' in page.text and 'id="fit"' in page.text


def test_scenario_api(client: TestClient) -> None:
    same = client.get("/api/v1/analytics/scenario", params={"jurisdiction": "AR", "members": 10, "contacts": 1.0})
    table = pd.DataFrame(same.json()["data"])
    assert (table.filter(like="difference_") == 0).all().all()
    cut = client.get(
        "/api/v1/analytics/scenario",
        params={"jurisdiction": "AR", "members": 10, "contacts": 0.1, "regions": "AR-01", "format": "csv"},
    )
    frame = pd.read_csv(io.StringIO(cut.text)).set_index("jurisdiction")
    assert frame.loc["AR-01", "difference_q50"] < 0
    bad = client.get("/api/v1/analytics/scenario", params={"jurisdiction": "AR", "regions": "AR-77", "members": 5})
    assert bad.status_code == 400 and "AR-77" in bad.json()["detail"] + json.dumps(bad.json())


def test_limits_and_permissions(client: TestClient, served: tuple[Path, str]) -> None:
    r = client.get("/api/v1/analytics/forecast", params={"jurisdiction": "AR", "members": 5000})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert client.get("/public/AR/forecast", params={"members": "many"}).status_code == 400
    # nowcasts read provisional revisions: not for the public
    assert client.get("/api/v1/analytics/nowcast", params={"jurisdiction": "AR"}).status_code in (401, 403)
    auth = {"Authorization": f"Bearer {served[1]}"}
    now = client.get("/api/v1/analytics/nowcast", params={"jurisdiction": "AR", "as_of": "2020-03-02T00:00:00Z"},
                     headers=auth)  # fmt: skip
    assert now.status_code == 200
    assert {"provisional", "nowcast", "lower", "upper"} <= set(pd.DataFrame(now.json()["data"]).columns)


def test_rt_page_has_a_map_of_the_latest_rt(client: TestClient) -> None:
    page = client.get("/public/AR/rt").text
    svg = re.search(r'<svg id="rt-map".*?</svg>', page, re.S)
    assert svg is not None
    codes = re.findall(r'data-code="([^"]+)" data-rt="([^"]*)"', svg.group(0))
    assert {c for c, _ in codes} == {"AR-01", "AR-02", "AR-X"}
    latest = pd.DataFrame(client.get("/api/v1/analytics/rt/latest", params={"jurisdiction": "AR"}).json()["data"])
    shown = dict(codes)
    assert shown["AR-01"] == f"{latest.set_index('jurisdiction').loc['AR-01', 'mean']:,.2f}"
    assert 'class="rt0"' in svg.group(0)  # AR-X: no estimate


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_browser_draws_the_fans(served: tuple[Path, str]) -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(served[0]), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = b.new_page()
            page.goto(f"http://127.0.0.1:{port}/public/AR/forecast?members=20&horizon=7", timeout=120_000)
            page.wait_for_selector('.fan[data-code="AR-01"][data-drawn="1"]', timeout=60_000)
            assert page.locator(".fan[data-drawn='1'] .main-svg").count() >= 3
            b.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_forecast_page_shows_measured_skill_and_no_forecast_where_the_data_are_too_few(client: TestClient) -> None:
    """The weekly, scored forecast of each area with the skill measured on the areas' own published history; an
    area whose last week holds too few cases gets no forecast, no fan and no 'R now', and the page says why."""
    page = client.get("/public/AR/forecast", params={"members": 20, "horizon": 7})
    assert page.status_code == 200
    weekly = re.search(r'<table id="weekly-forecast">(.*?)</table>', page.text, re.S).group(1)  # type: ignore[union-attr]
    twin = client.get("/public/AR/forecast.json", params={"members": 20, "horizon": 7}).json()
    no_forecast = twin["no_forecast"]
    assert no_forecast, "the test data hold an area with too few recent cases"
    for code, why in no_forecast.items():
        row = re.search(rf'<tr data-code="{code}">(.*?)</tr>', weekly, re.S).group(1)  # type: ignore[union-attr]
        assert "No forecast:" in row and "fewer than the 20 a forecast needs" in row and why in row
        assert f'class="note no-fan" data-code="{code}"' in page.text
        fit_row = re.search(rf'<tr data-code="{code}">(.*?)</tr>', page.text.split('id="fit"')[1], re.S)
        assert fit_row is not None and "–" in fit_row.group(1)
    chart = json.loads(re.search(r'id="forecast-data">(.*?)</script>', page.text, re.S).group(1))  # type: ignore[union-attr]
    for s in chart["series"]:
        assert (s["q"] == []) == (s["code"] in no_forecast)
    supported = [r for r in twin["weekly"] if not r["no_forecast"]]
    assert supported and all(r["q025"] <= r["q50"] <= r["q975"] for r in supported)
    skill = pd.DataFrame(twin["skill"])
    assert list(skill["horizon"]) == ["1", "2", "3", "4", "all"]
    if (skill["forecasts"] > 0).any():
        assert 'id="skill"' in page.text and "Relative WIS" in page.text
    else:
        assert 'id="not-measured"' in page.text
