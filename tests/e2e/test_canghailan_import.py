"""The canghailan China file (`../shared/data/china-covid19-canghailan`) imported into a store, end to end:
MCA admin codes as the places tree, then the cumulative national / province / city rows as one submission,
turned into daily counts with decreases kept and flagged, and uncoded buckets made explicit children.

SQLite takes the whole file (61,820 rows, about 200,000 observations of China). PostgreSQL takes the rows of
the country, Hubei and Beijing only (every day, about 5% of the file): the whole file takes 25-40 s there on
a 2-core machine, more than this suite can spend; the storage paths are the same.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import create_pg_database, drop_pg_database, migrated_sqlite

from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.places import china_codes
from accord.places import service as places
from accord.places.model import Jurisdiction
from accord.surveillance import exchange, service
from accord.surveillance.model import Flag, Observation, Submission

FOLDER = "china-covid19-canghailan"
CHINA_FILE = "china_covid19_daily_dec2019_apr2020.csv"
SUBSET_PROVINCES = {"420000", "110000"}  # Hubei, Beijing (with their cities and buckets)

pytestmark = pytest.mark.shared_data


@dataclass
class Imported:
    backend: str
    sessions: sessionmaker[Session]
    data: bytes
    result: dict[str, object]
    whole_file: bool
    mca_places: int

    def series(self, code: str, indicator: str, **kw: object) -> pd.DataFrame:
        with transaction(self.sessions) as s:
            return service.series(s, code, indicator, view="all", **kw)  # type: ignore[arg-type]

    def value(self, code: str, indicator: str, day: str, column: str = "value") -> float:
        frame = self.series(code, indicator)
        hit = frame[frame["date"] == pd.Timestamp(day)]
        assert len(hit) == 1, f"{code} {indicator} has no figure on {day}"
        return float(hit[column].iat[0])

    def count(self, table: type) -> int:
        with transaction(self.sessions) as s:
            return int(s.scalar(select(func.count()).select_from(table)) or 0)


def subset(data: bytes) -> bytes:
    """Header, national rows of China, and every row of the SUBSET_PROVINCES."""
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    country, province = header.index("countryCode"), header.index("provinceCode")
    keep = [r for r in rows[1:] if r[country] == "CN" and (r[province] == "" or r[province] in SUBSET_PROVINCES)]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *keep])
    return out.getvalue().encode("utf-8")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], ids=["sqlite", "pg"]
)
def imported(
    request: pytest.FixtureRequest, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Imported]:
    folder = data_dir / FOLDER
    name = None
    if request.param == "sqlite":
        engine = make_engine(migrated_sqlite(tmp_path_factory.mktemp("china") / "accord.db"))
    else:
        admin = request.getfixturevalue("pg_admin")
        name, url = create_pg_database(admin, migrated=True)
        engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        with transaction(sessions) as s:
            service.seed_indicators(s)
            codes = china_codes.parse((folder / "ChinaAreaCode.csv").read_bytes(), "ChinaAreaCode.csv")
            assert codes.problems == []
            places.import_places(s, codes.frame, file="ChinaAreaCode.csv")
        data = (folder / CHINA_FILE).read_bytes()
        whole = request.param == "sqlite"
        if not whole:
            data = subset(data)
        with transaction(sessions) as s:
            result = exchange.import_bytes(s, "canghailan", data, CHINA_FILE, actor=SYSTEM)
        yield Imported(request.param, sessions, data, result, whole, len(codes.frame))
    finally:
        engine.dispose()
        if name:
            drop_pg_database(request.getfixturevalue("pg_admin"), name)


def test_the_import_is_one_fresh_submission(imported: Imported) -> None:
    r = imported.result
    assert r["replayed"] is False and r["revised"] == 0 and r["unchanged"] == 0
    assert r["rows"] == r["new"] == imported.count(Observation)
    assert imported.count(Submission) == 1
    if imported.whole_file:
        assert r["rows"] > 190_000  # ~50,000 China rows x 4 series
        assert any("skipped 11,555 rows" in n for n in r["notes"])  # type: ignore[attr-defined]


def test_clinically_diagnosed_jump_of_2020_02_12(imported: Imported) -> None:
    # nothing is approved, so the figures are provisional: view='all'
    assert imported.value("420000", "new_confirmed", "2020-02-12") == 13_797
    assert imported.value("CN", "new_confirmed", "2020-02-12") == 14_109
    assert imported.series("CN", "new_confirmed")["provisional"].all()
    with transaction(imported.sessions) as s:
        assert service.series(s, "420100", "new_confirmed", view="public").empty


def test_wuhan_death_revision_and_fall_in_cured_are_kept_and_flagged(imported: Imported) -> None:
    assert imported.value("420100", "new_deaths", "2020-04-17") == 3869 - 2579 == 1290
    assert imported.value("420100", "cum_deaths", "2020-04-16") == 2579
    assert imported.value("420100", "cum_deaths", "2020-04-17") == 3869
    assert imported.value("420100", "new_recovered", "2020-04-17") == -948  # kept, not clipped to 0
    assert imported.value("420100", "cum_recovered", "2020-04-16") == 47_283
    assert imported.value("420100", "cum_recovered", "2020-04-17") == 46_335
    with transaction(imported.sessions) as s:
        flags, _ = service.flags(s, root_code="420100", code="cumulative_decrease", limit=1000)
        history = service.history(s, "420100", "new_recovered", date(2020, 4, 17))
    wuhan = [f for f in flags if f["jurisdiction"] == "420100" and f["date"] == "2020-04-17"]
    assert len(wuhan) == 1
    assert wuhan[0]["indicator"] == "new_recovered" and wuhan[0]["severity"] == "warning"
    assert "47283" in wuhan[0]["message"] and "46335" in wuhan[0]["message"]
    assert history["value"].tolist() == [-948]
    assert history["reason"].tolist() == ["cumulative cured decreased from 47283 to 46335 as reported"]


def test_uncoded_buckets_are_unallocated_children_of_their_province(imported: Imported) -> None:
    with transaction(imported.sessions) as s:
        beijing = places.get(s, "110000")
        children = {j.code: j for j, depth in places.subtree(s, beijing.id, max_distance=1) if depth == 1}
    buckets = {code: j for code, j in children.items() if code.startswith("110000-X-")}
    # 外地来京 (arrivals from other provinces), 境外输入 (imported from abroad), 未公布来源 (source not published)
    for slug, local in (("waidilaijing", "外地来京"), ("jingwaishuru", "境外输入"), ("weigongbulaiyuan", "未公布来源")):
        bucket = buckets.get(f"110000-X-{slug}")
        assert bucket is not None, f"no bucket 110000-X-{slug} under Beijing: {sorted(buckets)}"
        assert bucket.level == "unallocated" and bucket.local_name == local
    # every place the import created is a bucket or a city the MCA list lacks, under a province
    assert imported.result["jurisdictions_created"] == imported.count(Jurisdiction) - imported.mca_places > 0
    with transaction(imported.sessions) as s:
        bucket_levels = set(s.scalars(select(Jurisdiction.level).where(Jurisdiction.code.like("%-X-%"))))
    assert bucket_levels <= {"unallocated", "uncoded"} and "unallocated" in bucket_levels
    # the buckets carry the figures the bulletins gave them, on the days after 2020-03-05 too
    arrivals = imported.series("110000-X-waidilaijing", "cum_confirmed")
    assert arrivals["date"].max() >= pd.Timestamp("2020-04-01")
    assert arrivals["value"].iloc[-1] > 0
    # and they count towards Beijing's city-level sum: the sum of its children that day
    day = "2020-04-01"
    child_sum = sum(
        float(frame.loc[frame["date"] == pd.Timestamp(day), "value"].sum())
        for frame in (imported.series(code, "new_confirmed") for code in children)
    )
    assert imported.value("110000", "new_confirmed", day, "children") == child_sum


def test_province_own_total_beside_its_city_sum(imported: Imported) -> None:
    with transaction(imported.sessions) as s:
        hubei = places.get(s, "420000")
        cities = [j.code for j, depth in places.subtree(s, hubei.id, max_distance=1) if depth == 1]
        exceed, total = service.flags(s, code="children_exceed_parent", limit=5)
    city_sum = 0.0
    for code in cities:
        frame = imported.series(code, "new_confirmed")
        city_sum += float(frame.loc[frame["date"] == pd.Timestamp("2020-02-12"), "value"].sum())
    own = imported.value("420000", "new_confirmed", "2020-02-12", "own")
    children = imported.value("420000", "new_confirmed", "2020-02-12", "children")
    unallocated = imported.value("420000", "new_confirmed", "2020-02-12", "unallocated")
    assert own == 13_797
    assert children == city_sum < own  # the clinically diagnosed cases were not assigned to cities that day
    assert unallocated == own - children > 0
    assert total > 0
    for flag in exceed:
        frame = imported.series(flag["jurisdiction"], flag["indicator"])
        row = frame[frame["date"] == pd.Timestamp(flag["date"])].iloc[0]
        assert row["children"] > row["own"], flag


def test_importing_the_same_file_again_is_a_no_op(imported: Imported) -> None:
    before = (imported.count(Observation), imported.count(Submission), imported.count(Flag))
    with transaction(imported.sessions) as s:
        again = exchange.import_bytes(s, "canghailan", imported.data, CHINA_FILE, actor=SYSTEM)
    assert again["replayed"] is True
    assert again["submission_id"] == imported.result["submission_id"]
    assert (imported.count(Observation), imported.count(Submission), imported.count(Flag)) == before


def test_as_of_before_the_import_knows_nothing(imported: Imported) -> None:
    recorded = datetime.fromisoformat(str(imported.result["recorded_at"]))
    before = imported.series("420100", "new_deaths", as_of=recorded - timedelta(seconds=1))
    assert before.empty
    after = imported.series("420100", "new_deaths", as_of=recorded + timedelta(seconds=1))
    assert float(after.loc[after["date"] == pd.Timestamp("2020-04-17"), "value"].iat[0]) == 1290
    assert len(after) == len(imported.series("420100", "new_deaths"))
