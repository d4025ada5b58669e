"""Shared format helpers: decoding, CSV line numbers, problem caps, cumulative <-> daily."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.surveillance.formats import common


def test_decode_accepts_utf8_with_and_without_bom() -> None:
    assert common.decode(b"a,b\n", "f.csv") == ("a,b\n", [])
    assert common.decode(b"\xef\xbb\xbfa,b\n", "f.csv") == ("a,b\n", [])


def test_decode_names_line_and_offset_of_first_invalid_byte() -> None:
    data = b"a,b\n1,2\nx,caf\xe9\n\xff\n"
    text, problems = common.decode(data, "f.csv")
    assert text is None
    [p] = problems
    assert (p.file, p.line, p.code) == ("f.csv", 3, "encoding")
    assert "0xE9" in p.message and "byte offset 13" in p.message and "2 invalid bytes" in p.message


def test_decode_uses_an_explicit_encoding_and_never_guesses() -> None:
    data = "date,省\n2020-01-01,湖北\n".encode("gb18030")
    assert common.decode(data, "f.csv")[0] is None
    assert common.decode(data, "f.csv", encoding="gb18030")[0] == "date,省\n2020-01-01,湖北\n"
    with pytest.raises(AccordError, match="unknown text encoding"):
        common.decode(data, "f.csv", encoding="no-such-codec")


def test_decode_refuses_utf16_binary_and_oversized_input() -> None:
    _, [p] = common.decode("a,b\n".encode("utf-16"), "f.csv")
    assert "UTF-16" in p.message
    with pytest.raises(AccordError, match="not a text file"):
        common.decode(b"PK\x03\x04\x00\x00", "book.xlsx")
    with pytest.raises(AccordError, match="over the limit of 1 MB") as info:
        common.decode(b"x" * (2 * 2**20), "big.csv", max_bytes=2**20)
    assert info.value.status == 413


@pytest.mark.shared_data
def test_invalid_utf8_in_the_real_line_list_is_located(data_dir: Path) -> None:
    data = (data_dir / "linelist-xu2020-beoutbreakprepared" / "linelist_outside-hubei.csv").read_bytes()
    text, [p] = common.decode(data, "linelist_outside-hubei.csv")
    assert text is None
    assert p.line == 599 and "0xA0" in p.message and "byte offset 163,037" in p.message
    assert "153 invalid bytes" in p.message  # as the data README says
    # the clean sibling file decodes
    assert (
        common.decode(
            (data_dir / "linelist-xu2020-beoutbreakprepared" / "linelist_hubei.csv").read_bytes(), "linelist_hubei.csv"
        )[1]
        == []
    )


def test_read_csv_line_numbers_follow_the_source_file() -> None:
    text = 'a,b\n1,"two\nlines"\n\n3,4\n5,"x\n\ny"\n6,7\n'
    table, problems = common.read_csv(text, "f.csv")
    assert problems == []
    assert table.index.tolist() == [2, 5, 6, 9]  # the blank line 4 is dropped; quoted newlines counted
    assert table["a"].tolist() == ["1", "3", "5", "6"]
    assert all(str(t) == "str" for t in table.dtypes)


def test_read_csv_problems_for_broken_input() -> None:
    assert common.read_csv("", "f.csv")[1][0].code == "empty"
    [p] = common.read_csv("a,b\n1,2\n3,4,5\n", "f.csv")[1]
    assert (p.line, p.code) == (3, "malformed") and "3 fields where the header has 2" in p.message
    [p] = common.read_csv('a,b\n1,2\n3,"4\n5,6\n', "f.csv")[1]
    assert p.line == 3 and "never closed" in p.message
    [p] = common.read_csv("a,b,a\n1,2,3\n", "f.csv")[1]
    assert p.code == "duplicate-column" and "columns 1 and 3" in p.message
    table, problems = common.read_csv(" a , b\n", "f.csv")
    assert problems == [] and table.empty and list(table.columns) == ["a", "b"]


def test_require_columns_names_every_missing_column() -> None:
    table = pd.DataFrame(columns=["date", "value"])
    [p] = common.require_columns(table, ["jurisdiction", "date", "indicator"], "f.csv")
    assert "jurisdiction, indicator" in p.message and "date, value" in p.message and p.line == 1


def test_problems_are_capped_with_a_count_of_the_rest() -> None:
    problems = common.Problems("f.csv")
    problems.add_rows(np.ones(120, dtype=bool), np.arange(2, 122), "bad")
    listed = problems.as_list()
    assert len(listed) == 51 and listed[-1].message == "... and 70 more problems"
    assert len(problems) == 120


def test_numbers_and_dates_report_bad_cells() -> None:
    problems = common.Problems("f.csv")
    lines = np.array([2, 3, 4, 5])
    values = common.to_numbers(pd.Series(["1", " 2.5", "x", ""]), lines, problems, "value")
    assert values.iloc[:2].tolist() == [1.0, 2.5] and values.iloc[2:].isna().all()
    dates = common.to_dates(pd.Series(["2020-02-12", "2020-02-30", "12/02/2020", ""]), lines, problems, "date")
    assert dates.dtype == "datetime64[ns]" and dates.iloc[0] == pd.Timestamp("2020-02-12")
    found = [(p.line, p.field) for p in problems.as_list()]
    assert found == [(3, "date"), (4, "value"), (4, "date"), (5, "date")]


def test_format_numbers_round_trips() -> None:
    values = pd.Series([1.0, -3.0, 0.1, 1e300, np.nan, 2.5e-7])
    text = common.format_numbers(values)
    assert text.tolist()[:2] == ["1", "-3"] and text.iloc[4] == ""
    assert pd.to_numeric(text.replace("", np.nan)).equals(values)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(-1000, 100_000), min_size=1, max_size=30), min_size=1, max_size=6))
def test_cumulative_to_daily_then_cumsum_is_identity(series: list[list[int]]) -> None:
    groups = np.repeat(np.arange(len(series)), [len(s) for s in series])
    cumulative = pd.Series(np.concatenate(series).astype(float))
    daily, previous = common.cumulative_to_daily(cumulative, groups)
    assert np.array_equal(common.daily_to_cumulative(daily, groups).to_numpy(), cumulative.to_numpy())
    firsts = np.concatenate(([True], groups[1:] != groups[:-1]))
    assert previous[firsts].isna().all() and previous[~firsts].notna().all()
    reasons = common.decrease_reasons(daily, previous, cumulative, "from {prev} to {cur}")
    assert ((reasons != "") == (daily < 0)).all()


def test_decrease_reasons_name_both_totals() -> None:
    cumulative = pd.Series([3.0, 5.0, 4.0])
    daily, previous = common.cumulative_to_daily(cumulative, np.zeros(3))
    assert daily.tolist() == [3.0, 2.0, -1.0]
    reasons = common.decrease_reasons(
        daily, previous, cumulative, "{what} fell from {prev} to {cur}", what=pd.Series(["x", "y", "z"])
    )
    assert reasons.tolist() == ["", "", "z fell from 5 to 4"]


def test_observation_frame_has_the_canonical_layout() -> None:
    frame = common.observation_frame(
        jurisdiction=["CN"], date=[pd.Timestamp("2020-01-01 13:00")], indicator="new_confirmed", value=[1]
    )
    assert tuple(frame.columns) == common.FRAME_COLUMNS
    assert frame["date"].iloc[0] == pd.Timestamp("2020-01-01") and frame["date"].dtype == "datetime64[ns]"
    assert frame["value"].dtype == "float64" and frame["line"].dtype == "int64"
    assert frame[["disaggregation", "reason", "jurisdiction_name"]].iloc[0].tolist() == ["", "", ""]
    assert tuple(common.empty_frame().columns) == common.FRAME_COLUMNS
