"""Limits of every importer: a table too wide, a line or a field too long, a count beyond any population, a reason
longer than the JSON API allows. Each is refused before the expensive work with one sentence naming file, line
and field, and the store is unchanged. The CSV kit (formats.common) and every reader that calls pandas itself."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from accord.analytics import service as analytics
from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.errors import AccordError
from accord.policy.scenarios import regions as scenario_regions
from accord.resources import capacity_reports
from accord.rumors import service as rumors
from accord.surveillance import exchange, validation
from accord.surveillance.formats import dhis2
from accord.surveillance.formats.common import (
    MAX_COLUMNS,
    MAX_FIELD_CHARS,
    MAX_LINE_CHARS,
    longest_line,
    read_csv,
    shape_problem,
)
from accord.surveillance.model import Observation
from accord.tracing import linelist
from accord.tracing.api import MAPPINGS

WIDE = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)) + "\n" + ",".join("1" for _ in range(MAX_COLUMNS + 1))
LONG_LINE = "a,b\n1," + "x" * (MAX_LINE_CHARS + 1) + "\n"


def test_longest_line_counts_characters_and_every_kind_of_line_end() -> None:
    assert longest_line("ab\r\ncdef\rg\nhi") == (2, 4)
    assert longest_line("") == (1, 0)
    assert longest_line("é" * 10) == (1, 20)  # short lines are measured in bytes: an upper bound is enough
    line, chars = longest_line("a\n" + "é" * (MAX_LINE_CHARS + 1) + "\r\n")
    assert (line, chars) == (2, MAX_LINE_CHARS + 1)  # a long one in characters, without its line end


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (WIDE, 1, (f"{MAX_COLUMNS + 1:,} columns", f"at most {MAX_COLUMNS:,}")),
        (LONG_LINE, 2, (f"{MAX_LINE_CHARS + 3:,} characters", "per line")),
        ("a,b\r\n1,2\r\n3,4\r\n5," + "y" * (MAX_FIELD_CHARS + 1) + "\r\n", 4, (f"at most {MAX_FIELD_CHARS:,}",)),
        ('a,b\n1,"' + "z\n" * (MAX_FIELD_CHARS // 2 + 1) + '"\n', 2, ("field", f"at most {MAX_FIELD_CHARS:,}")),
    ],
    ids=["columns", "line", "field", "quoted-multiline-field"],
)
def test_read_csv_refuses_tables_too_big_to_parse(text: str, line: int, words: tuple[str, ...]) -> None:
    table, problems = read_csv(text, "big.csv")
    assert table.empty and len(problems) == 1
    sentence = problems[0].sentence()
    assert sentence.startswith(f"big.csv, line {line}")
    for word in words:
        assert word in sentence


def test_tables_within_the_limits_read_as_before() -> None:
    table, problems = read_csv("a,b\r\n1," + "y" * MAX_FIELD_CHARS + "\r\n", "ok.csv")
    assert not problems and table.index.tolist() == [2] and len(table["b"].iloc[0]) == MAX_FIELD_CHARS
    assert shape_problem(",".join(["c"] * MAX_COLUMNS), "ok.csv") is None


def test_capacity_reports_empty_or_too_big_are_problems_not_crashes() -> None:
    for text, words in (("", "empty"), ("  \n", "empty"), (WIDE, "columns"), (LONG_LINE, "per line")):
        parsed = capacity_reports.parse_saner(text, {"beds"}, "cap.csv")
        assert parsed.rows.empty and words in parsed.problems[0].sentence()
        parsed = capacity_reports.parse_covid19scenarios(text.replace(",", "\t"), date(2026, 3, 1), "cap.tsv")
        assert parsed.rows.empty and words in parsed.problems[0].sentence()
    malformed = capacity_reports.parse_saner('date,jurisdiction,beds\n"2026-03-01,AR,1\n', {"beds"}, "cap.csv")
    assert "not a readable table" in malformed.problems[0].sentence()


def test_the_other_csv_readers_share_the_limits() -> None:
    mapping = linelist.load_mapping((MAPPINGS / "xu2020.toml").read_text(), "xu2020.toml")
    parsed = linelist.parse(WIDE.encode(), mapping, "cases.csv")
    assert parsed.frame.empty and "columns" in parsed.problems[0].sentence()
    with pytest.raises(AccordError, match="per line"):
        analytics.read_capacity(LONG_LINE.encode(), "capacity.csv")
    with pytest.raises(AccordError, match="columns"):
        scenario_regions.read_regions(WIDE.encode(), "regions.csv")


def test_json_nested_too_deeply_is_a_problem() -> None:
    parsed = dhis2.parse(b"[" * 100_000, "deep.json")
    assert "nested too deeply" in parsed.problems[0].sentence()
    with pytest.raises(AccordError, match="nested too deeply"):
        rumors.parse_claim_reviews(b"[" * 100_000, "AR")


# ------------------------------------------------------------------------------------------ values and reasons
def rows(values: list[float], reasons: list[str]) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "jurisdiction": ["AR"] * n,
            "indicator": ["new_confirmed"] * n,
            "disaggregation": [""] * n,
            "date": pd.to_datetime(["2026-03-01"] * n),
            "value": np.array(values, dtype=float),
            "reason": reasons,
            "jurisdiction_known": [True] * n,
            "in_batch_duplicate": [False] * n,
        }
    )


def test_values_beyond_the_ceiling_and_long_reasons_are_errors() -> None:
    ceiling = validation.MAX_VALUE
    findings = validation.check_rows(
        rows([ceiling, ceiling + 1, float(2**63), -5, 3], ["", "", "", "r" * 2_001, "r" * 2_000]),
        date(2026, 3, 2),
    )
    errors = {(f.row, f.code) for f in findings if f.severity is validation.Severity.ERROR}
    assert errors == {(1, "value_out_of_range"), (2, "value_out_of_range"), (3, "reason_too_long")}
    too_long = next(f for f in findings if f.code == "reason_too_long")
    assert too_long.field == "reason" and "2,001 characters" in too_long.message


def test_an_import_with_a_count_beyond_any_population_changes_nothing(
    small_tree: sessionmaker[Session],
) -> None:
    data = (
        "jurisdiction,date,indicator,value\n"
        "AR-01-01-001,2026-03-01,new_confirmed,3\n"
        "AR-01-01-002,2026-03-01,new_confirmed,9223372036854775807\n"
    )
    with pytest.raises(AccordError) as refused, transaction(small_tree) as s:
        exchange.import_bytes(s, "csv", data.encode(), "report.csv", actor=SYSTEM)
    assert "report.csv, line 3, field 'value'" in str(refused.value)
    with transaction(small_tree) as s:
        assert int(s.scalar(select(func.count()).select_from(Observation)) or 0) == 0
