"""JHU CSSE COVID-19 time series: wide by date (``M/D/YY`` columns), **cumulative** counts.

Two layouts, told apart by their header:

- global: ``Province/State, Country/Region, Lat, Long, dates...``. There are no codes:
  ``jurisdiction = ''`` and ``jurisdiction_name`` = Province/State if set, else Country/Region (the service
  resolves names); where that is ambiguous within the file, "Province/State, Country/Region" (the real
  files have "Diamond Princess" both as a country-level row and as a province of Canada).
- US: ``UID, iso2, iso3, code3, FIPS, Admin2, Province_State, Country_Region, Lat, Long_, Combined_Key,
  [Population,] dates...``. ``jurisdiction`` is the FIPS code as text, zero-padded to 5 digits for counties
  (``1001.0`` -> ``01001``) and 2 digits for state-level rows without Admin2 (American Samoa ``60``); rows
  without FIPS (Dukes and Nantucket, prisons, Utah health districts) get ``''``. ``jurisdiction_name`` is
  ``"Admin2, Province_State"`` (or Province_State alone).

The indicator is an option (``new_confirmed``, ``new_deaths``, ``new_recovered``), inferred from a file name
that contains confirmed / deaths / recovered. Each row is differenced in date order (first day = its
cumulative; empty cells are gaps). A decrease becomes a negative daily count with the reason "cumulative
decreased from X to Y as published by JHU CSSE": never clipped.
"""

from __future__ import annotations

import io
import re
from typing import Final

import numpy as np
import pandas as pd

from accord.surveillance.formats.common import (
    MAX_BYTES,
    ParseResult,
    Problems,
    cumulative_to_daily,
    decrease_reasons,
    duplicate_problems,
    failed,
    format_numbers,
    header_only_note,
    numeric_block,
    observation_frame,
    place_key,
    read_table,
    string_column,
    take_strings,
)

GLOBAL_COLUMNS: Final = ("Province/State", "Country/Region", "Lat", "Long")
US_COLUMNS: Final = (
    "UID",
    "iso2",
    "iso3",
    "code3",
    "FIPS",
    "Admin2",
    "Province_State",
    "Country_Region",
    "Lat",
    "Long_",
    "Combined_Key",
)
US_OPTIONAL: Final = ("Population",)
INDICATORS: Final[dict[str, str]] = {"confirmed": "new_confirmed", "deaths": "new_deaths", "recovered": "new_recovered"}
_DATE_COLUMN: Final = re.compile(r"\d{1,2}/\d{1,2}/\d{2}")
REASON: Final = "cumulative decreased from {prev} to {cur} as published by JHU CSSE"


def infer_indicator(filename: str) -> str | None:
    lowered = filename.lower()
    found = [ind for word, ind in INDICATORS.items() if word in lowered]
    return found[0] if len(found) == 1 else None


def parse(
    data: bytes, filename: str, *, indicator: str | None = None, encoding: str | None = None, max_bytes: int = MAX_BYTES
) -> ParseResult:
    table, problems = read_table(data, filename, encoding, max_bytes, (), "the JHU CSSE layout")
    if table is None:
        return failed(problems)
    series = indicator or infer_indicator(filename)
    if series is None or series not in INDICATORS.values():
        problems.add(
            f"cannot tell which series this is from '{filename}'; pass indicator= one of "
            + ", ".join(INDICATORS.values()),
            field="indicator",
            code="missing-option",
        )
        return failed(problems)
    us = "UID" in table.columns
    ids = US_COLUMNS if us else GLOBAL_COLUMNS
    dates, ok = _check_header(table, ids, problems)
    if not ok:
        return failed(problems)
    code, name = _us_places(table) if us else _global_places(table)
    lines = table.index.to_numpy()
    duplicate_problems(
        pd.DataFrame({"code": code, "name": name, "line": lines}),
        ["code", "name"],
        problems,
        "place (same " + ("FIPS, Admin2 and Province_State" if us else "Province/State and Country/Region") + ")",
    )
    frame = _daily(table, dates, code, name, lines, series, problems)
    return ParseResult(frame, problems.as_list(), header_only_note(table))


def _check_header(table: pd.DataFrame, ids: tuple[str, ...], problems: Problems) -> tuple[list[str], bool]:
    columns = list(table.columns)
    missing = [c for c in ids if c not in columns]
    dates = [c for c in columns if _DATE_COLUMN.fullmatch(c)]
    unknown = [c for c in columns if c not in ids + US_OPTIONAL and c not in dates]
    if missing:
        problems.add(
            "missing columns " + ", ".join(missing) + " of the JHU CSSE layout",
            line=1,
            field=",".join(missing),
            code="missing-column",
        )
    for column in unknown:
        problems.add(
            f"unknown column '{column}' (date columns are M/D/YY)", line=1, field=column, code="unknown-column"
        )
    if not dates:
        problems.add("no date columns (M/D/YY) in the header", line=1, code="missing-column")
    return dates, not (missing or unknown or not dates)


def _global_places(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Province/State if set, else Country/Region; "Province/State, Country/Region" where the short name
    would be ambiguous (Diamond Princess is both a country-level row and a province of Canada)."""
    province, country = string_column(table, "Province/State"), string_column(table, "Country/Region")
    name = province.where(province != "", country)
    pair = province + "\x00" + country
    ambiguous = (name.map(pair.groupby(name).nunique()) > 1) & (province != "")
    name = name.where(~ambiguous, province + ", " + country)
    return np.full(len(table), "", dtype=object), name.to_numpy()


def _us_places(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    admin2, state = string_column(table, "Admin2"), string_column(table, "Province_State")
    fips = pd.to_numeric(string_column(table, "FIPS"), errors="coerce")
    digits = fips.astype("Int64").astype(str).replace("<NA>", "")
    code = np.where(digits == "", "", np.where(admin2 == "", digits.str.zfill(2), digits.str.zfill(5)))
    name = np.where(admin2 == "", state, admin2 + ", " + state)
    return code, name


def _daily(
    table: pd.DataFrame,
    dates: list[str],
    code: np.ndarray,
    name: np.ndarray,
    lines: np.ndarray,
    indicator: str,
    problems: Problems,
) -> pd.DataFrame:
    """Stack the date block into long form (row by row, dates in order) and difference each row."""
    days = pd.to_datetime(pd.Series(dates), format="%m/%d/%y").astype("datetime64[ns]").to_numpy()
    order = np.argsort(days, kind="stable")
    block = table[[dates[i] for i in order]]
    n, m = block.shape
    fast = numeric_block(block)
    cumulative = (
        pd.Series(fast.ravel())
        if fast is not None
        else _slow_numbers(block, lines, np.asarray(dates, dtype=object)[order], problems)
    )
    row = np.repeat(np.arange(n), m)
    column = np.tile(np.arange(m), n)
    known = np.isfinite(cumulative.to_numpy())
    row, column, cumulative = row[known], column[known], cumulative[known].reset_index(drop=True)
    daily, previous = cumulative_to_daily(cumulative, row)
    return observation_frame(
        jurisdiction=take_strings(code, row),
        jurisdiction_name=take_strings(name, row),
        date=days[order][column],
        indicator=indicator,
        value=daily,
        reason=decrease_reasons(daily, previous, cumulative, REASON),
        line=lines[row],
    )


def _slow_numbers(block: pd.DataFrame, lines: np.ndarray, fields: np.ndarray, problems: Problems) -> pd.Series:
    """Cell by cell (row-major), reporting every cell that is not a number."""
    n, m = block.shape
    text = pd.Series(block.to_numpy(dtype=object).ravel()).astype(str).str.strip()
    cumulative = pd.to_numeric(text, errors="coerce").astype("float64")
    bad = (text != "").to_numpy() & ~np.isfinite(cumulative.to_numpy())
    problems.add_rows(
        bad, np.repeat(lines, m), "'" + text + "' is not a number", field=np.tile(fields, n), code="not-a-number"
    )
    return cumulative.where(~bad)


def render(frame: pd.DataFrame, *, indicator: str = "new_confirmed", country: str | None = None) -> bytes:
    """The global layout, cumulative by date, for one indicator (totals only).

    Each place is one row: ``Country/Region`` is its name (or code), ``Province/State`` is empty, unless
    ``country`` is given, then every place is a Province/State of that country. Lat/Long are left empty.
    Every date from the first to the last is a column; a place's total is 0 before its first value and
    carries forward over days without one.
    """
    rows = frame[(frame["indicator"] == indicator) & (frame["disaggregation"].fillna("") == "")]
    rows = rows.assign(key=place_key(rows), date=pd.to_datetime(rows["date"]))
    label = rows["jurisdiction_name"].fillna("").astype(str)
    label = label.where(label != "", rows["jurisdiction"].astype(str))
    labels = label.groupby(rows["key"]).first()
    wide = rows.pivot_table(index="key", columns="date", values="value", aggfunc="sum")
    if len(wide.columns):
        wide = wide.reindex(columns=pd.date_range(wide.columns.min(), wide.columns.max(), freq="D"))
    cumulative = wide.fillna(0.0).cumsum(axis=1)
    out = pd.DataFrame(
        {
            "Province/State": labels.reindex(cumulative.index).to_numpy() if country else "",
            "Country/Region": country if country else labels.reindex(cumulative.index).to_numpy(),
            "Lat": "",
            "Long": "",
        }
    )
    days = pd.DatetimeIndex(cumulative.columns)
    values = pd.DataFrame({f"{d.month}/{d.day}/{d:%y}": format_numbers(cumulative[d]).to_numpy() for d in days})
    buffer = io.StringIO()
    pd.concat([out, values], axis=1).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")
