"""WHO COVID-19 global data: ``Date_reported,Country_code,Country,WHO_region,New_cases,Cumulative_cases,
New_deaths,Cumulative_deaths``.

Read: ``New_cases`` -> new_confirmed and ``New_deaths`` -> new_deaths (the cumulative columns are derived
here, so they are not read); an empty cell is no report. ``jurisdiction`` is ``Country_code`` (ISO alpha-2
as WHO publishes it; codes WHO uses for non-countries pass through: the service resolves or refuses them),
``jurisdiction_name`` is ``Country``. Dates are ``YYYY-MM-DD`` (a trailing
``T00:00:00Z`` as in older files is accepted). Negative daily counts are kept with a reason.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping
from typing import Final

import numpy as np
import pandas as pd

from accord.surveillance.formats.common import (
    MAX_BYTES,
    ParseResult,
    daily_to_cumulative,
    duplicate_problems,
    failed,
    format_dates,
    format_numbers,
    header_only_note,
    observation_frame,
    place_key,
    read_table,
    string_column,
    to_dates,
    to_numbers,
)

COLUMNS: Final = (
    "Date_reported",
    "Country_code",
    "Country",
    "WHO_region",
    "New_cases",
    "Cumulative_cases",
    "New_deaths",
    "Cumulative_deaths",
)
REQUIRED: Final = ("Date_reported", "Country_code", "Country", "New_cases", "New_deaths")
COLUMN_INDICATORS: Final = {"New_cases": "new_confirmed", "New_deaths": "new_deaths"}
NEGATIVE_REASON: Final = "negative daily count as published by WHO"


def parse(
    data: bytes,
    filename: str,
    *,
    countries: Collection[str] | None = None,
    encoding: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> ParseResult:
    """``countries``: keep only these Country_code values; other rows are skipped with a note."""
    table, problems = read_table(data, filename, encoding, max_bytes, REQUIRED, "the WHO layout")
    if table is None:
        return failed(problems)
    notes = header_only_note(table)
    code = string_column(table, "Country_code")
    if countries is not None:
        keep = code.isin(set(countries)).to_numpy()
        notes.append(f"skipped {int((~keep).sum()):,} rows of {code[~keep].nunique():,} other countries")
        table, code = table[keep], code[keep]
    lines = table.index.to_numpy()
    day = string_column(table, "Date_reported").str.replace(r"T00:00:00(?:\.000)?Z?$", "", regex=True)
    base = pd.DataFrame(
        {
            "jurisdiction": code.to_numpy(),
            "jurisdiction_name": string_column(table, "Country"),
            "date": to_dates(day, lines, problems, "Date_reported").to_numpy(),
            "line": lines,
        }
    )
    duplicate_problems(base, ["jurisdiction", "jurisdiction_name", "date"], problems, "row (same country and date)")
    parts = []
    for column, indicator in COLUMN_INDICATORS.items():
        values = to_numbers(table[column], lines, problems, column).to_numpy()
        reported = ~np.isnan(values)
        part = base[reported].assign(indicator=indicator, value=values[reported])
        parts.append(part.assign(reason=np.where(part["value"] < 0, NEGATIVE_REASON, "")))
    frame = observation_frame(**dict(pd.concat(parts, ignore_index=True).items()))
    frame = frame[frame["date"].notna()].sort_values(["line", "indicator"], kind="stable")
    return ParseResult(frame.reset_index(drop=True), problems.as_list(), notes)


def render(frame: pd.DataFrame, *, regions: Mapping[str, str] | None = None) -> bytes:
    """The WHO layout from a frame of totals; cumulative columns are running sums in date order.

    ``regions`` maps a jurisdiction code to its WHO region (AFRO, AMRO, EMRO, EURO, SEARO, WPRO); else ''.
    """
    frame = frame.assign(key=place_key(frame), date=pd.to_datetime(frame["date"]))
    by_indicator = {ind: col for col, ind in COLUMN_INDICATORS.items()}
    totals = frame[(frame["disaggregation"].fillna("") == "") & frame["indicator"].isin(list(by_indicator))]
    wide = totals.pivot_table(index=["key", "date"], columns="indicator", values="value", aggfunc="sum")
    wide = wide.rename(columns=by_indicator).reindex(columns=list(COLUMN_INDICATORS)).sort_index()
    groups = wide.index.get_level_values("key")
    wide["Cumulative_cases"] = daily_to_cumulative(wide["New_cases"], groups).where(wide["New_cases"].notna())
    wide["Cumulative_deaths"] = daily_to_cumulative(wide["New_deaths"], groups).where(wide["New_deaths"].notna())
    places = frame.groupby("key")[["jurisdiction", "jurisdiction_name"]].first()
    wide = wide.reset_index().join(places, on="key")
    code = wide["jurisdiction"].fillna("").astype(str)
    out = pd.DataFrame(
        {
            "Date_reported": format_dates(wide["date"]),
            "Country_code": code,
            "Country": wide["jurisdiction_name"].fillna("").astype(str),
            # as text even where no region is known (an all-missing map would be float and not take "")
            "WHO_region": code.map(dict(regions or {})).astype("string").fillna(""),
            **{c: format_numbers(wide[c]) for c in COLUMNS[4:]},
        }
    )
    buffer = io.StringIO()
    out.loc[:, list(COLUMNS)].to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")
