"""The public pages on the real China 2020 data (``../shared/data/china-covid19-canghailan``): MCA codes as the
tree, the canghailan file imported and everything published. Hubei's own totals differ from the sum of its
cities (the clinically diagnosed cases of 2020-02-12 were reported province-wide first and assigned to Wuhan
the next day): the overview shows the province's own figures with the difference as unallocated, and the
scorecard counts the days its children summed above it.

Only the national rows and Hubei's rows of the file are imported (the whole file takes most of a minute on
a 2-core machine; the full import is tested in ``tests/e2e/test_canghailan_import.py``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import accord.app
from accord import migrate
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.places import china_codes
from accord.places import service as places
from accord.settings import Settings
from accord.surveillance import exchange, service

FOLDER = "china-covid19-canghailan"
CHINA_FILE = "china_covid19_daily_dec2019_apr2020.csv"
HUBEI = "420000"

pytestmark = pytest.mark.shared_data


def national_and_hubei(data: bytes) -> bytes:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    header = rows[0]
    country, province = header.index("countryCode"), header.index("provinceCode")
    keep = [r for r in rows[1:] if r[country] == "CN" and r[province] in ("", HUBEI)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *keep])
    return out.getvalue().encode("utf-8")


@pytest.fixture(scope="module")
def client(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = data_dir / FOLDER
    path = tmp_path_factory.mktemp("china-public")
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        service.seed_indicators(s)
        codes = china_codes.parse((folder / "ChinaAreaCode.csv").read_bytes(), "ChinaAreaCode.csv")
        places.import_places(s, codes.frame, file="ChinaAreaCode.csv")
    with transaction(sessions) as s:
        data = national_and_hubei((folder / CHINA_FILE).read_bytes())
        exchange.import_bytes(s, "canghailan", data, CHINA_FILE, actor=SYSTEM)
    with transaction(sessions) as s:
        assert service.publish_due(s, datetime(2100, 1, 1, tzinfo=UTC), 1) > 0
    engine.dispose()
    app = accord.app.create_app(Settings(data_dir=path))
    with TestClient(app) as c:
        yield c


def test_hubei_overview_shows_its_own_totals_and_the_unallocated_difference(client: TestClient) -> None:
    js = client.get(f"/public/{HUBEI}.json", params={"date": "2020-02-12"}).json()
    cards = {c["key"]: c for c in js["cards"]}
    assert cards["new_confirmed"]["value"] == 13_797  # the province's own report, not the cities' 1,638
    cities = sum(d["new_confirmed"] or 0 for d in js["data"])
    assert cities == 13_797 - 12_159
    assert js["unallocated"]["day"] == 12_159
    html = client.get(f"/public/{HUBEI}", params={"date": "2020-02-12"}).text
    assert "13,797" in html and 'id="unallocated"' in html and "12,159" in html
    # the next day the cases were assigned to Wuhan: the cities now sum above the province's own report
    nxt = client.get(f"/public/{HUBEI}.json", params={"date": "2020-02-13"}).json()
    assert nxt["unallocated"]["day"] == -10_017
    assert "-10,017" in client.get(f"/public/{HUBEI}", params={"date": "2020-02-13", "lang": "zh"}).text
    prov = client.get(f"/public/{HUBEI}/provenance.json", params={"date": "2020-02-12"}).json()
    assert (prov["own"], prov["children_sum"]) == (13_797, 1_638)


def test_scorecard_lists_hubeis_children_versus_parent_mismatches(client: TestClient) -> None:
    sc = client.get(f"/public/{HUBEI}/scorecard.json", params={"date": "2020-02-13"}).json()
    row = next(d for d in sc["data"] if d["jurisdiction"] == HUBEI)
    assert row["mismatches"] >= 1
    assert "Hubei" in client.get(f"/public/{HUBEI}/scorecard", params={"date": "2020-02-13"}).text


def test_national_bulletin_of_2020_02_12(client: TestClient) -> None:
    b = client.get("/public/CN/bulletin.json", params={"date": "2020-02-12"}).json()
    assert b["new_confirmed"] == 14_109
    assert {p["code"]: p["new_confirmed"] for p in b["parts"]}[HUBEI] == 13_797
    assert "14,109" in client.get("/public/CN/bulletin.md", params={"date": "2020-02-12"}).text
    zh = client.get("/public/CN/bulletin", params={"date": "2020-02-12", "lang": "zh"}).text
    assert "新增确诊病例14,109例" in zh and "湖北省13,797例" in zh
