"""Small-count suppression through the public pages, twins, downloads and bulletin: no count of 1-4 of a
community leaks, totals never give one back, and sums over days that cover a withheld day are withheld."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pandas as pd
import pytest
from disclosure_data import LAST, START, build_store
from fastapi.testclient import TestClient

import accord.app
from accord.disclosure import config
from accord.disclosure.suppression import SuppressionPolicy
from accord.settings import Settings

POLICY = SuppressionPolicy(below=5, from_depth=3)  # communities: AR (0) > province (1) > city (2) > community (3)
CITY = "AR-01-01"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("suppressed")
    build_store(path)
    app = accord.app.create_app(Settings(data_dir=path))
    app.state.suppression = POLICY
    with TestClient(app) as c:
        yield c


def small(value: object) -> bool:
    try:
        return 1 <= float(str(value)) < 5
    except ValueError:
        return False


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not config.load_policy().enabled
    monkeypatch.setenv("ACCORD_SUPPRESS_BELOW", "5")
    monkeypatch.setenv("ACCORD_SUPPRESS_FROM_DEPTH", "2")
    assert config.load_policy() == SuppressionPolicy(5, 2)


def test_children_of_a_city_never_leak_through_the_table_or_its_total(client: TestClient) -> None:
    days = pd.date_range(LAST - pd.Timedelta(days=6), LAST).strftime("%Y-%m-%d")
    withheld = 0
    for day in days:
        js = client.get(f"/public/{CITY}.json", params={"date": day}).json()
        total = {c["key"]: c for c in js["cards"]}["new_confirmed"]["value"]
        values = [d["new_confirmed"] for d in js["data"]]
        assert not any(small(v) for v in values), values
        hidden = [v for v in values if isinstance(v, str)]
        withheld += len(hidden)
        assert set(hidden) <= {"<5", "x"}
        if not isinstance(total, str):
            assert len(hidden) != 1  # a shown total minus shown children never isolates one
        # sums over days of a community: withheld wherever a day is
        for d in js["data"]:
            if isinstance(d["new_confirmed"], str):
                assert d["last7"] == "x" and d["cum_confirmed"] == "x" and d["per100k"] == "x"
    assert withheld > 0
    csv = client.get(f"/public/{CITY}.csv").text
    assert "<5" in csv
    html = client.get(f"/public/{CITY}").text
    assert 'id="suppression-note"' in html and "&lt;5" in html


def test_downloads_withhold_the_same_cells(client: TestClient) -> None:
    long = pd.read_csv(
        io.StringIO(client.get("/public/AR/download.csv", params={"level": "community", "layout": "csv"}).text),
        dtype=str,
        keep_default_na=False,
    )
    counted = long[long["indicator"].isin(["new_confirmed", "new_deaths", "new_recovered"])]
    assert not counted["value"].map(small).any()
    assert (counted["suppressed"] != "").any() and set(counted["suppressed"]) <= {"", "<5", "x"}
    owid = pd.read_csv(
        io.StringIO(client.get("/public/AR/download.csv", params={"level": "community", "layout": "owid"}).text),
        dtype=str,
        keep_default_na=False,
    )
    assert not owid["new_cases"].map(small).any() and not owid["new_deaths"].map(small).any()
    hidden = owid["new_cases"].isin(["<5", "x"])
    assert (owid.loc[hidden, "total_cases"] == "").all()
    jhu = client.get("/public/AR/download.csv", params={"level": "community", "layout": "jhu"}).text
    assert jhu.count("\n") > 10
    pq = pd.read_parquet(
        io.BytesIO(
            client.get("/public/AR/download.parquet", params={"level": "community", "layout": "parquet"}).content
        )
    )
    cases = pq[pq["indicator"] == "new_confirmed"]
    assert not cases["value"].between(1, 4).any() and (cases["suppressed"] != "").any()
    # cities are above the suppressed depth, but still no single withheld child per city and day
    cities = pd.read_csv(
        io.StringIO(client.get("/public/AR/download.csv", params={"level": "city", "layout": "csv"}).text),
        dtype=str,
        keep_default_na=False,
    )
    assert not (cities["suppressed"] == "<5").any()
    city_hidden = cities[(cities["indicator"] == "new_confirmed") & (cities["disaggregation"] == "")]
    city_hidden = city_hidden.set_index(["jurisdiction", "date"])["suppressed"] != ""
    totals = counted[(counted["indicator"] == "new_confirmed") & (counted["disaggregation"] == "")]
    per_group = totals.assign(city=totals["jurisdiction"].str.slice(0, 8), hidden=totals["suppressed"] != "")
    counts = per_group.groupby(["city", "date"])["hidden"].sum()
    counts = counts + city_hidden.reindex(counts.index, fill_value=False).astype(int)
    assert not (counts == 1).any()


def test_bulletin_errata_and_provenance(client: TestClient) -> None:
    b = client.get(f"/public/{CITY}/bulletin.json").json()
    assert not any(small(p["new_confirmed"]) for p in b["parts"])
    md = client.get(f"/public/{CITY}/bulletin.md").text
    rows = [line for line in md.splitlines() if line.startswith("| ") and "Jurisdiction" not in line]
    assert not any(re.search(r"\| [1-4] \|", r) for r in rows)
    feed = client.get(f"/public/{CITY}/feed.atom").text
    assert "&lt;5" in feed or "<5" in feed
    errata = pd.read_csv(io.StringIO(client.get("/public/AR/errata.csv").text), dtype=str, keep_default_na=False)
    assert not errata["old_value"].map(small).any() and not errata["new_value"].map(small).any()
    # a withheld community figure: its provenance withholds the value and its history too
    js = client.get(f"/public/{CITY}.json", params={"date": str(START)}).json()
    code = next(d["code"] for d in js["data"] if isinstance(d["new_confirmed"], str))
    prov = client.get(f"/public/{code}/provenance.json", params={"date": str(START)}).json()
    assert isinstance(prov["value"], str) and not any(small(d["value"]) for d in prov["data"])
