"""Accord's long CSV (and the same checks on JSON records)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.surveillance import indicators
from accord.surveillance.formats import longcsv
from accord.surveillance.formats.common import FRAME_COLUMNS

GOOD = b"""jurisdiction,date,indicator,disaggregation,value,reason
420000,2020-02-12,new_confirmed,,13797,clinically diagnosed cases included
420000,2020-02-12,new_confirmed,imported,0,
420100,2020-02-12,new_deaths,,-3,"revised, see bulletin"
"""


def messages(data: bytes) -> list[tuple[int | None, str | None, str]]:
    return [(p.line, p.field, p.message) for p in longcsv.parse(data, "f.csv").problems]


def test_parse_good_file() -> None:
    result = longcsv.parse(GOOD, "f.csv")
    assert result.problems == [] and result.notes == []
    frame = result.frame
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert frame["value"].tolist() == [13797.0, 0.0, -3.0]  # a negative count is kept: the service flags it
    assert frame["disaggregation"].tolist() == ["", "imported", ""]
    assert frame["reason"].iloc[2] == "revised, see bulletin"
    assert frame["line"].tolist() == [2, 3, 4]
    assert frame["date"].iloc[0] == pd.Timestamp("2020-02-12")


def test_optional_columns_may_be_left_out() -> None:
    result = longcsv.parse(b"jurisdiction,date,indicator,value\nCN,2020-01-01,new_tests,5\n", "f.csv")
    assert result.problems == [] and result.frame["disaggregation"].iloc[0] == ""


def test_cumulative_indicators_are_refused_with_the_count_to_submit() -> None:
    [(line, field, message)] = messages(b"jurisdiction,date,indicator,value\nCN,2020-01-01,cum_confirmed,5\n")
    assert (line, field) == (2, "indicator")
    assert message == "cum_confirmed is derived from new_confirmed; submit daily counts (new_confirmed)"


def test_unknown_indicator_disaggregation_and_column() -> None:
    found = messages(
        b"jurisdiction,date,indicator,disaggregation,value,colour\n"
        b"CN,2020-01-01,new_cases,,5,red\nCN,2020-01-01,new_deaths,imported,1,\n"
    )
    assert found[0][:2] == (1, "colour")
    assert found[1][0] == 2 and "unknown indicator 'new_cases'" in found[1][2]
    assert found[2][:2] == (3, "disaggregation") and "has none" in found[2][2]


def test_duplicate_keys_name_both_lines() -> None:
    [(line, _, message)] = messages(
        b"jurisdiction,date,indicator,value\nCN,2020-01-01,new_tests,5\n"
        b"CN,2020-01-02,new_tests,5\nCN,2020-01-01,new_tests,6\n"
    )
    assert line == 4 and message.endswith("as line 2")


def test_bad_values_dates_and_empty_fields() -> None:
    found = messages(
        b"jurisdiction,date,indicator,value\nCN,2020-13-01,new_tests,5\nCN,2020-01-01,new_tests,"
        b"five\n,2020-01-02,new_tests,\n"
    )
    assert [(line, field) for line, field, _ in found] == [(2, "date"), (3, "value"), (4, "jurisdiction"), (4, "value")]
    assert "'five' is not a number" in found[1][2]


def test_broken_files() -> None:
    assert messages(b"")[0][2] == "file is empty"
    assert longcsv.parse(b"jurisdiction,date,indicator,value\n", "f.csv").notes == [
        "the file has a header but no data rows"
    ]
    [(_, _, message)] = messages(b"jurisdiction,date,value\n")
    assert message.startswith("missing column indicator")
    [(line, _, message)] = messages(b"jurisdiction,date,indicator,value\nCN,2020-01-01,new_tests,5,9\n")
    assert line == 2 and message.startswith("malformed CSV")
    [(line, _, message)] = messages(b"jurisdiction,date,indicator,value\nCN,2020-01-01,new_tests,\xff\n")
    assert line == 2 and "not valid UTF-8" in message


def test_parse_json_records() -> None:
    result = longcsv.parse_json(
        [
            {"jurisdiction": "CN", "date": "2020-01-01", "indicator": "new_confirmed", "value": 3},
            {"jurisdiction": "CN", "date": "2020-01-02", "indicator": "new_confirmed", "value": 2.5, "reason": None},
            "not a record",
            {"jurisdiction": "CN", "date": "2020-01-01", "indicator": "new_confirmed", "value": True},
        ]
    )
    assert result.frame["value"].tolist()[:2] == [3.0, 2.5] and result.frame["line"].tolist() == [1, 2, 4]
    found = [(p.line, p.message) for p in result.problems]
    assert found[0] == (3, "record is a str, not an object")
    assert (4, "'true' is not a number") in found
    assert any(line == 4 and "as line 1" in m for line, m in found)


def test_render_writes_the_import_header() -> None:
    text = longcsv.render(longcsv.parse(GOOD, "f.csv").frame).decode()
    assert text.splitlines()[0] == "jurisdiction,date,indicator,disaggregation,value,reason"
    assert text.splitlines()[3] == '420100,2020-02-12,new_deaths,,-3,"revised, see bulletin"'


codes = st.text(st.sampled_from("ABCXYZ0123456789-"), min_size=1, max_size=8)
texts = st.text(st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from('\n,"'), max_size=20)
pairs = st.sampled_from([(i.code, d) for i in indicators.CORE_INDICATORS if i.stored for d in i.disaggregations])
rows = st.tuples(
    codes,
    st.dates(min_value=pd.Timestamp("2019-12-01").date(), max_value=pd.Timestamp("2023-12-31").date()),
    pairs,
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    texts,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows, max_size=25, unique_by=lambda r: (r[0], r[1], r[2])))
def test_render_then_parse_is_identity(data: list[tuple[Any, ...]]) -> None:
    frame = pd.DataFrame(
        {
            "jurisdiction": pd.Series([r[0] for r in data], dtype=str),
            "jurisdiction_name": "",
            "date": pd.to_datetime([r[1] for r in data]).astype("datetime64[ns]"),
            "indicator": pd.Series([r[2][0] for r in data], dtype=str),
            "disaggregation": pd.Series([r[2][1] for r in data], dtype=str),
            "value": pd.Series([r[3] for r in data], dtype="float64"),
            "reason": pd.Series([r[4] for r in data], dtype=str),
        }
    )
    result = longcsv.parse(longcsv.render(frame), "round.csv")
    assert result.problems == []
    back = result.frame.drop(columns="line")
    expected = frame.assign(reason=frame["reason"].str.strip())  # fields are read stripped
    pd.testing.assert_frame_equal(back, expected.loc[:, list(back.columns)], check_dtype=False)
