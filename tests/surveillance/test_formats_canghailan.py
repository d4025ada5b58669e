"""The canghailan China file: levels, uncoded buckets, cumulative -> daily, and the real-file facts."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from accord.surveillance.formats import canghailan
from accord.surveillance.formats.common import ParseResult

HEADER = (
    "date,country,countryCode,province,provinceCode,city,cityCode,confirmed,suspected,cured,dead,"
    "countryEnglishName,provinceEnglishName\n"
)
ROWS = """2020-02-10,中国,CN,,,,,40235,23589,3281,909,China,
2020-02-10,中国,CN,湖北省,420000,,,31728,,1795,974,China,Hubei
2020-02-10,中国,CN,湖北省,420000,武汉市,420100,18454,,1044,748,China,Hubei
2020-02-10,中国,CN,北京市,110000,外地来京,,20,0,1,0,China,Beijing
2020-02-10,中国,CN,新疆维吾尔自治区,650000,第八师石河子市,,3,0,0,0,China,Xinjiang
2020-02-10,日本,JP,,,,,26,0,1,0,Japan,
2020-02-11,中国,CN,湖北省,420000,,,33366,,2639,1068,China,Hubei
2020-02-11,中国,CN,湖北省,420000,武汉市,420100,19558,,1377,820,China,Hubei
2020-02-11,中国,CN,北京市,110000,外地来京,,19,0,1,0,China,Beijing
2020-02-13,中国,CN,湖北省,420000,武汉市,420100,32994,,1915,1036,China,Hubei
2020-02-13,中国,CN,香港特别行政区,810000,香港特别行政区,810000,53,0,1,1,China,
"""


def parse(rows: str = ROWS, country: str | None = "CN") -> ParseResult:
    return canghailan.parse((HEADER + rows).encode(), "china.csv", country=country)


def daily(frame: pd.DataFrame, code: str, indicator: str) -> dict[str, float]:
    part = frame[(frame["jurisdiction"] == code) & (frame["indicator"] == indicator)]
    return dict(zip(part["date"].dt.strftime("%m-%d"), part["value"], strict=True))


def test_levels_and_daily_counts() -> None:
    result = parse()
    assert result.problems == []
    frame = result.frame
    assert daily(frame, "CN", "new_confirmed") == {"02-10": 40235.0}  # first row: its cumulative
    assert daily(frame, "420000", "new_deaths") == {"02-10": 974.0, "02-11": 94.0}
    # 02-12 is missing for Wuhan: a gap, and 02-13 is diffed against 02-11
    assert daily(frame, "420100", "new_confirmed") == {"02-10": 18454.0, "02-11": 1104.0, "02-13": 13436.0}
    assert daily(frame, "420000", "new_suspected") == {}  # empty cells are no report
    assert set(frame["indicator"]) == {"new_confirmed", "new_suspected", "new_recovered", "new_deaths"}
    names = frame.drop_duplicates("jurisdiction").set_index("jurisdiction")["jurisdiction_name"]
    assert names["CN"] == "中国" and names["420100"] == "武汉市"


def test_decrease_is_a_negative_count_with_a_reason() -> None:
    frame = parse().frame
    row = frame[
        (frame["jurisdiction"] == "110000-X-waidilaijing")
        & (frame["indicator"] == "new_confirmed")
        & (frame["value"] < 0)
    ]
    assert row["value"].tolist() == [-1.0]
    assert row["reason"].tolist() == ["cumulative confirmed decreased from 20 to 19 as reported"]
    assert (frame.loc[frame["value"] >= 0, "reason"] == "").all()


def test_uncoded_buckets_become_child_places() -> None:
    result = parse()
    places = result.places.set_index("code")
    assert places.loc["110000-X-waidilaijing"].to_dict() | {"population": None} == {
        "name": "Arrivals from other provinces",
        "local_name": "外地来京",
        "level": "unallocated",
        "parent_code": "110000",
        "population": None,
        "line": 5,
    }
    assert places.loc["650000-X-dibashishihezishi", "name"] == "XPCC Division 8 (Shihezi)"
    assert places.loc["650000-X-dibashishihezishi", "level"] == "uncoded"
    # a city row restating its province (cityCode = provinceCode) is the region's city-level bucket
    assert places.loc["810000-X-xianggang", "name"] == "Hong Kong"
    assert "810000" not in set(result.frame["jurisdiction"])
    assert any("restate their province" in n for n in result.notes)


def test_other_countries_are_skipped_with_a_note() -> None:
    result = parse()
    assert "JP" not in set(result.frame["jurisdiction"])
    assert "skipped 1 rows of 1 other countries (kept CN)" in result.notes
    everything = parse(country=None).frame
    assert daily(everything, "JP", "new_confirmed") == {"02-10": 26.0}


def test_problems() -> None:
    rows = ROWS + (
        "2020-02-11,中国,CN,湖北省,420000,武汉市,420100,1,,1,1,China,Hubei\n"
        "2020-02-1x,中国,CN,湖北省,420000,,,1,,1,1,China,Hubei\n"
        "2020-02-14,中国,CN,湖北省,420000,,,many,,1,1,China,Hubei\n"
        "2020-02-14,中国,CN,湖北省,,黄冈市,421100,1,,1,1,China,Hubei\n"
    )
    found = [(p.line, p.field, p.code, p.message) for p in parse(rows).problems]
    assert found[0][:3] == (13, None, "duplicate") and found[0][3].endswith("as line 9")
    assert found[1][:3] == (14, "date", "bad-date")
    assert found[2][:3] == (15, "confirmed", "not-a-number")
    assert found[3][:2] == (16, "provinceCode")
    [p] = canghailan.parse(b"date,country,confirmed\n", "c.csv").problems
    assert p.code == "missing-column" and "countryCode" in p.message


def test_render_then_parse() -> None:
    frame = parse().frame
    coded = frame[~frame["jurisdiction"].str.contains("-X-")]
    text = canghailan.render(coded)
    lines = text.decode().splitlines()
    assert lines[0] == HEADER.strip()
    assert "2020-02-13,中国,CN,湖北省,420000,武汉市,420100,32994,,1915,1036,China,Hubei" in lines
    again = canghailan.parse(text, "again.csv").frame
    key = ["jurisdiction", "date", "indicator"]
    pd.testing.assert_frame_equal(
        again.drop(columns="line").sort_values(key).reset_index(drop=True),
        coded.drop(columns="line").sort_values(key).reset_index(drop=True),
    )


@pytest.fixture(scope="module")
def real(data_dir: Path) -> tuple[ParseResult, float]:
    data = (data_dir / "china-covid19-canghailan" / "china_covid19_daily_dec2019_apr2020.csv").read_bytes()
    start = time.perf_counter()
    result = canghailan.parse(data, "china_covid19_daily_dec2019_apr2020.csv")
    return result, time.perf_counter() - start


def value(frame: pd.DataFrame, code: str, day: str, indicator: str) -> pd.Series:
    return frame[
        (frame["jurisdiction"] == code) & (frame["date"] == pd.Timestamp(day)) & (frame["indicator"] == indicator)
    ].iloc[0]


@pytest.mark.shared_data
def test_real_file_facts(real: tuple[ParseResult, float]) -> None:
    result, seconds = real
    assert result.problems == []
    assert seconds < 5, f"the China file took {seconds:.2f} s to parse"
    frame = result.frame
    # Hubei's clinically diagnosed cases, 2020-02-12
    assert value(frame, "420000", "2020-02-12", "new_confirmed")["value"] == 13_797
    assert value(frame, "CN", "2020-02-12", "new_confirmed")["value"] == 14_109
    # the Wuhan death revision of 2020-04-17: deaths 2,579 -> 3,869, cured fell from 47,283 to 46,335
    assert value(frame, "420100", "2020-04-17", "new_deaths")["value"] == 3869 - 2579
    cured = value(frame, "420100", "2020-04-17", "new_recovered")
    assert cured["value"] == 46335 - 47283
    assert cured["reason"] == "cumulative cured decreased from 47283 to 46335 as reported"
    assert "skipped 11,555 rows of 210 other countries (kept CN)" in result.notes
    # every uncoded bucket is a child of a province, with an ASCII code
    places = result.places
    buckets = places[places["code"].str.contains("-X-", regex=False)]
    assert buckets["code"].str.fullmatch(r"\d{2}0000-X-[a-z0-9-]+").all()
    assert set(buckets["level"]) == {"unallocated", "uncoded"}
    assert set(buckets["code"]) == set(frame.loc[frame["jurisdiction"].str.contains("-X-"), "jurisdiction"])
    # pseudo codes (1100xx for 未公布来源 in Beijing) are read by name: one series per bucket, never a code
    assert not frame["jurisdiction"].str.contains(r"^\d{4}[a-z]", regex=True).any()
    # coded cities are offered as places too, so codes the MCA list lacks (136100 公主岭) can be created
    coded = places[~places["code"].str.contains("-X-", regex=False)]
    assert (coded["level"] == "city").all() and "136100" in set(coded["code"])
