"""Accord's own long CSV: one observation per row.

Header: ``jurisdiction,date,indicator,disaggregation,value,reason``; ``disaggregation``, ``reason`` and
``jurisdiction_name`` are optional (a row needs a jurisdiction code or a name). Dates are ``YYYY-MM-DD``.
Only stored indicators are accepted: cumulative ones are derived from their daily counts, so a file that
carries them is refused with a message saying which count to submit. The same checks serve JSON records
from the HTTP API (:func:`parse_json`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from accord.surveillance import indicators
from accord.surveillance.formats.common import (
    MAX_BYTES,
    ParseResult,
    Problems,
    duplicate_problems,
    failed,
    format_dates,
    format_numbers,
    header_only_note,
    observation_frame,
    read_table,
    string_column,
    to_dates,
    to_numbers,
)

REQUIRED = ("jurisdiction", "date", "indicator", "value")
OPTIONAL = ("jurisdiction_name", "disaggregation", "reason")
KEY = ("jurisdiction", "jurisdiction_name", "date", "indicator", "disaggregation")


def parse(data: bytes, filename: str, *, encoding: str | None = None, max_bytes: int = MAX_BYTES) -> ParseResult:
    table, problems = read_table(data, filename, encoding, max_bytes, REQUIRED, "Accord long CSV")
    if table is None:
        return failed(problems)
    return _validate(table, table.index.to_numpy(), problems, header_only_note(table), header_line=1)


def parse_json(records: Sequence[object], source: str = "request") -> ParseResult:
    """Validate a list of JSON objects with the CSV's fields; ``line`` is the 1-based record index."""
    problems = Problems(source)
    rows: list[Mapping[str, object]] = []
    numbers: list[int] = []
    for i, record in enumerate(records, start=1):
        if isinstance(record, Mapping):
            rows.append(record)
            numbers.append(i)
        else:  # reported once; its fields are not checked further
            problems.add(f"record is a {type(record).__name__}, not an object", line=i, code="malformed")
    table = pd.DataFrame.from_records(rows, columns=_json_columns(rows))
    table = table.map(_json_text).astype(str)
    lines = np.asarray(numbers, dtype=np.int64)
    missing = [c for c in REQUIRED if c not in table.columns]
    for name in missing:
        table[name] = ""  # reported per record below, as an empty required field
    return _validate(table, lines, problems, [] if records else ["no records"], header_line=None)


def _json_columns(rows: Sequence[Mapping[str, object]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(str(k) for k in row))
    return list(seen)


def _json_text(value: object) -> str:
    # JSON numbers become their shortest text; null and missing keys become '' (no value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()  # rejected later as 'not a number' where a number is due
    return repr(value) if isinstance(value, float) else str(value)


def _validate(
    table: pd.DataFrame, lines: np.ndarray, problems: Problems, notes: list[str], header_line: int | None
) -> ParseResult:
    unknown = [c for c in table.columns if c not in REQUIRED + OPTIONAL]
    for column in unknown:
        problems.add(
            f"unknown column '{column}'; the columns are {', '.join(REQUIRED + OPTIONAL)}",
            line=header_line,
            field=column,
            code="unknown-column",
        )
    code = string_column(table, "jurisdiction")
    name = string_column(table, "jurisdiction_name")
    problems.add_rows(
        ((code == "") & (name == "")).to_numpy(),
        lines,
        "jurisdiction is empty",
        field="jurisdiction",
        code="empty-value",
    )
    indicator = string_column(table, "indicator")
    disaggregation = string_column(table, "disaggregation")
    check_indicators(indicator, disaggregation, lines, problems)
    frame = observation_frame(
        jurisdiction=code,
        jurisdiction_name=name,
        date=to_dates(table["date"], lines, problems, "date"),
        indicator=indicator,
        disaggregation=disaggregation,
        value=to_numbers(table["value"], lines, problems, "value", required=True),
        reason=string_column(table, "reason"),
        line=lines,
    )
    duplicate_problems(frame, KEY, problems, "observation (same jurisdiction, date, indicator, disaggregation)")
    return ParseResult(frame, problems.as_list(), notes)


def check_indicators(
    indicator: pd.Series,
    disaggregation: pd.Series,
    lines: np.ndarray,
    problems: Problems,
    field: str = "indicator",
    disaggregation_field: str = "disaggregation",
) -> None:
    """Unknown, empty and derived (cumulative) indicators, and disaggregations the indicator lacks."""
    known = indicator.isin(list(indicators.STORED_CODES))
    derived = indicator.map({i.code: i.derived_from for i in indicators.CORE_INDICATORS if i.derived_from}).fillna("")
    problems.add_rows(
        (derived != "").to_numpy(),
        lines,
        indicator + " is derived from " + derived + "; submit daily counts (" + derived + ")",
        field=field,
        code="derived-indicator",
    )
    stored = ", ".join(indicators.STORED_CODES)
    problems.add_rows((indicator == "").to_numpy(), lines, "indicator is empty", field=field, code="empty-value")
    problems.add_rows(
        (~known & (derived == "") & (indicator != "")).to_numpy(),
        lines,
        "unknown indicator '" + indicator + f"'; known: {stored}",
        field=field,
        code="unknown-indicator",
    )
    pairs = [(i.code, d) for i in indicators.CORE_INDICATORS for d in i.disaggregations]
    ok = pd.MultiIndex.from_arrays([indicator, disaggregation]).isin(pairs)
    allowed = indicator.map({i.code: _allowed_text(i) for i in indicators.CORE_INDICATORS}).fillna("")
    problems.add_rows(
        known.to_numpy() & ~ok,
        lines,
        "'" + disaggregation + "' is not a disaggregation of " + indicator + "; " + allowed,
        field=disaggregation_field,
        code="unknown-disaggregation",
    )


def _allowed_text(indicator: indicators.Indicator) -> str:
    parts = [d for d in indicator.disaggregations if d]
    if not parts:
        return "it has none: leave disaggregation empty for the total"
    return "use '' for the total or one of " + ", ".join(parts)


def render(frame: pd.DataFrame, *, names: bool = False) -> bytes:
    """The long CSV (UTF-8, ``\\n`` line ends); ``names=True`` adds the ``jurisdiction_name`` column."""
    out = pd.DataFrame(
        {
            "jurisdiction": frame["jurisdiction"].astype(str).to_numpy(),
            "jurisdiction_name": frame["jurisdiction_name"].astype(str).to_numpy()
            if "jurisdiction_name" in frame
            else "",
            "date": format_dates(frame["date"]).to_numpy(),
            "indicator": frame["indicator"].astype(str).to_numpy(),
            "disaggregation": frame["disaggregation"].fillna("").astype(str).to_numpy(),
            "value": format_numbers(frame["value"]).to_numpy(),
            "reason": frame["reason"].fillna("").astype(str).to_numpy() if "reason" in frame else "",
        }
    )
    if not names:
        out = out.drop(columns="jurisdiction_name")
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")
