"""Public pages through the ASGI client: overview and its twins, drill-down, provenance, bulletin, feed,
errata, open data, scorecard, 404s, escaping, and that provisional figures never show."""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from disclosure_data import LAST, T0, build_store
from fastapi.testclient import TestClient

import accord.app
from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.disclosure import pages
from accord.places import service as places
from accord.settings import Settings
from accord.surveillance import service as surveillance

PROVISIONAL = 7777


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("disclosure")
    sessions, _ = build_store(path)
    with transaction(sessions) as s:
        places.import_places(
            s,
            pd.DataFrame(
                [("AR-X", "<script>alert(1)</script>", None, "province", "AR", 10)],
                columns=["code", "name", "local_name", "level", "parent_code", "population"],
            ),
        )
        # a provisional report for the day after: never public
        frame = pd.DataFrame(
            [("AR-01-01-001", LAST + dt.timedelta(days=1), "new_confirmed", "", PROVISIONAL)],
            columns=["jurisdiction", "date", "indicator", "disaggregation", "value"],
        )
        surveillance.submit(s, frame, actor=SYSTEM, source="test:provisional", now=T0 + dt.timedelta(days=40))
    app = accord.app.create_app(Settings(data_dir=path))
    pages.install(app)
    with TestClient(app) as c:
        yield c


def test_overview_html_cards_table_map_and_links(client: TestClient) -> None:
    r = client.get("/public/AR")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    html = r.text
    assert 'id="card-new_confirmed"' in html and 'id="children"' in html and 'class="map choropleth"' in html
    assert 'href="/public/AR-01"' in html and "/public/_vendor/plotly.min.js" in html
    assert f'value="{LAST}"' in html
    # escaped, never executed
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_overview_twins_agree_with_the_api(client: TestClient) -> None:
    js = client.get("/public/AR-01.json").json()
    assert js["date"] == LAST.isoformat() and js["path"] == ["AR", "AR-01"]
    csv = pd.read_csv(io.StringIO(client.get("/public/AR-01.csv").text))
    assert list(csv["code"]) == [d["code"] for d in js["data"]]
    for code, cum in zip(csv["code"], csv["cum_confirmed"], strict=True):
        api = client.get("/api/v1/series", params={"jurisdiction": code, "indicator": "cum_confirmed"}).json()
        assert api["data"][-1]["value"] == cum
    card = {c["key"]: c for c in js["cards"]}["new_confirmed"]
    series = client.get("/api/v1/series", params={"jurisdiction": "AR-01", "indicator": "new_confirmed"}).json()
    assert card["value"] == series["data"][-1]["value"]


def test_sorting_drill_down_language_and_cartogram(client: TestClient) -> None:
    js = client.get("/public/AR.json", params={"sort": "per100k", "dir": "desc"}).json()
    values = [d["per100k"] for d in js["data"] if d["per100k"] is not None]
    assert values == sorted(values, reverse=True)
    city = client.get("/public/AR-01-01", params={"lang": "zh"}).text
    assert "累计确诊" in city and 'lang="zh-Hans"' in city and 'class="map cartogram"' in city
    assert "lang=zh" in city.split('id="children"')[1]  # drill-down links keep the language


def test_date_picker_and_helpful_404s(client: TestClient) -> None:
    earlier = (LAST - dt.timedelta(days=5)).isoformat()
    assert client.get("/public/AR.json", params={"date": earlier}).json()["date"] == earlier
    for url, words in [
        ("/public/NOPE", "no jurisdiction with code"),
        ("/public/AR?date=2019-01-01", "published figures run from"),
        ("/public/AR?date=tomorrow", "is not a date"),
        ("/public/AR/nothing", "no page"),
        ("/public/AR/provenance?indicator=bogus", "no indicator"),
    ]:
        r = client.get(url)
        assert r.status_code == 404 and "text/html" in r.headers["content-type"] and words in r.text
        assert "Traceback" not in r.text
    assert client.get("/public/NOPE.json").headers["content-type"] == "application/problem+json"


def test_provisional_figures_never_show(client: TestClient) -> None:
    assert client.get("/public/AR.json").json()["date"] == LAST.isoformat()
    after = (LAST + dt.timedelta(days=1)).isoformat()
    assert client.get("/public/AR", params={"date": after}).status_code == 404
    for url in ("/public/AR-01-01-001.json", "/public/AR/errata.csv", "/public/AR/bulletin.md"):
        assert str(PROVISIONAL) not in client.get(url).text


def test_provenance_shows_the_published_value_and_corrections(client: TestClient) -> None:
    r = client.get("/public/AR-01-01-001/provenance.json", params={"indicator": "new_confirmed", "date": str(LAST)})
    body = r.json()
    assert body["value"] == 99 and body["own"] == 99
    stages = [(d["stage"], d["value"], d["previous_value"]) for d in body["data"]]
    assert stages[0][0] == "as_published" and stages[-1] == ("correction", 99, stages[0][1])
    assert body["data"][-1]["reason"] == "late lab results added"
    html = client.get("/public/AR-01-01-001/provenance", params={"indicator": "cum_confirmed"}).text
    assert 'id="revisions"' in html and "late lab results added" in html
    # a province that reported its own total: the difference to its children is shown as unallocated
    prov = client.get("/public/AR-01/provenance.json", params={"indicator": "new_confirmed"}).json()
    assert prov["own"] == 5000 and prov["children_sum"] < 5000 and len(prov["children"]) >= 1


def test_bulletin_in_both_languages_and_the_feed(client: TestClient) -> None:
    md = client.get("/public/AR/bulletin.md").text
    assert md.startswith("# Arcadia: epidemic situation on") and "new confirmed" in md
    zh = client.get("/public/AR/bulletin", params={"lang": "zh"}).text
    assert "疫情通报" in zh and "新增确诊病例" in zh
    feed = client.get("/public/AR/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    entries = ET.fromstring(feed.content).findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 14


def test_errata_scorecard_opendata_and_codebook(client: TestClient) -> None:
    errata = pd.read_csv(io.StringIO(client.get("/public/AR/errata.csv").text))
    assert set(errata["reason"]) == {"late lab results added"} and set(errata["new_value"]) == {99}
    assert "late lab results added" in client.get("/public/AR/errata").text
    sc = client.get("/public/AR/scorecard.json").json()
    assert sc["levels"] and {d["level"] for d in sc["data"]} >= {"community"}
    assert 'id="units"' in client.get("/public/AR/scorecard").text
    page = client.get("/public/AR/opendata").text
    assert "download.csv?level=province&amp;layout=owid" in page
    owid = pd.read_csv(
        io.StringIO(client.get("/public/AR/download.csv", params={"level": "province", "layout": "owid"}).text)
    )
    assert set(owid["iso_code"]) == {"AR-01", "AR-02", "AR-03"}
    pq = pd.read_parquet(
        io.BytesIO(client.get("/public/AR/download.parquet", params={"level": "city", "layout": "parquet"}).content)
    )
    assert PROVISIONAL not in set(pq["value"]) and len(pq) > 0
    assert client.get("/public/AR/download.csv", params={"level": "planet"}).status_code == 404
    book = pd.read_csv(io.StringIO(client.get("/public/AR/codebook.csv").text))
    assert {"layout", "column", "meaning", "unit", "aggregation"} <= set(book.columns)


def test_static_files_and_plotly_are_served_locally(client: TestClient) -> None:
    assert client.get("/public/_static/disclosure.css").status_code == 200
    assert client.get("/public/_static/disclosure.js").status_code == 200
    r = client.get("/public/_vendor/plotly.min.js")
    assert r.status_code == 200 and len(r.content) > 1_000_000
    assert client.get("/public", follow_redirects=False).headers["location"] == "/public/AR"
    assert Path(pages.HERE / "static").is_dir()
