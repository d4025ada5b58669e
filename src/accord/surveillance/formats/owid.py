"""Our World in Data COVID-19 dataset, long layout: one row per location and day.

Read: ``iso_code, location, date`` and whichever of these the file has: ``new_cases`` -> new_confirmed,
``new_deaths`` -> new_deaths, ``new_tests`` -> new_tests, ``hosp_patients`` -> hospitalised,
``icu_patients`` -> icu_occupied. Every other column (totals, per-million, covariates) is ignored: totals
are derived from counts here. An empty cell is no report (no row).

``jurisdiction`` is the ISO 3166 alpha-2 code of ``iso_code`` (via pycountry; OWID's ``OWID_KOS`` / ``XKX``
Kosovo becomes the user-assigned ``XK``). OWID's own aggregates (``OWID_WRL`` World, continents, income
groups) and rows without a code (International) get jurisdiction ``''`` and their ``location`` as name.
Negative daily counts exist in the published data (Spain, Ecuador, ...): they are kept, with a reason.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from functools import cache
from typing import Final

import numpy as np
import pandas as pd
import pycountry

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

REQUIRED = ("iso_code", "location", "date")
COLUMN_INDICATORS: Final[dict[str, str]] = {
    "new_cases": "new_confirmed",
    "new_deaths": "new_deaths",
    "new_tests": "new_tests",
    "hosp_patients": "hospitalised",
    "icu_patients": "icu_occupied",
}
RENDER_COLUMNS: Final = (
    "iso_code",
    "location",
    "date",
    "total_cases",
    "new_cases",
    "total_deaths",
    "new_deaths",
    "new_tests",
    "total_tests",
    "hosp_patients",
    "icu_patients",
    "population",
)
_TOTALS: Final = {"total_cases": "new_cases", "total_deaths": "new_deaths", "total_tests": "new_tests"}
_SPECIAL_ALPHA3: Final = {"XKX": "XK", "OWID_KOS": "XK"}
NEGATIVE_REASON: Final = "negative daily count as published by OWID"


@cache
def alpha2(iso_code: str) -> str:
    """ISO alpha-3 -> alpha-2 ('' when the code is not a country, e.g. OWID_WRL)."""
    if iso_code in _SPECIAL_ALPHA3:
        return _SPECIAL_ALPHA3[iso_code]
    country = pycountry.countries.get(alpha_3=iso_code) if len(iso_code) == 3 else None
    return country.alpha_2 if country is not None else ""


@cache
def alpha3(code: str) -> str:
    """ISO alpha-2 -> alpha-3; any other code (subnational, '') comes back unchanged."""
    if code == "XK":
        return "XKX"
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    return country.alpha_3 if country is not None else code


def parse(
    data: bytes,
    filename: str,
    *,
    countries: Collection[str] | None = None,
    encoding: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> ParseResult:
    """``countries``: keep only these (alpha-2 or alpha-3 codes); other rows are skipped with a note."""
    table, problems = read_table(data, filename, encoding, max_bytes, REQUIRED, "the OWID layout")
    if table is None:
        return failed(problems)
    present = [c for c in COLUMN_INDICATORS if c in table.columns]
    if not present:
        problems.add(
            "none of the value columns " + ", ".join(COLUMN_INDICATORS) + " is present",
            line=1,
            field=",".join(COLUMN_INDICATORS),
            code="missing-column",
        )
        return failed(problems)
    notes = header_only_note(table)
    iso = string_column(table, "iso_code")
    code = iso.map({c: alpha2(c) for c in iso.unique()}).astype(str)
    if countries is not None:
        wanted = set(countries)
        keep = (iso.isin(wanted) | code.isin(wanted)).to_numpy()
        notes.append(f"skipped {int((~keep).sum()):,} rows of {iso[~keep].nunique():,} other locations")
        table, iso, code = table[keep], iso[keep], code[keep]
    aggregates = sorted(set(string_column(table, "location")[code == ""]))
    if aggregates:
        notes.append("no country code for " + ", ".join(aggregates) + ": kept by name, jurisdiction ''")
    lines = table.index.to_numpy()
    base = pd.DataFrame(
        {
            "jurisdiction": code.to_numpy(),
            "jurisdiction_name": string_column(table, "location"),
            "date": to_dates(table["date"], lines, problems, "date").to_numpy(),
            "line": lines,
        }
    )
    duplicate_problems(
        base.assign(iso=iso.to_numpy()), ["iso", "jurisdiction_name", "date"], problems, "row (same location and date)"
    )
    parts = []
    for column in present:  # one vectorised pass per value column
        values = to_numbers(table[column], lines, problems, column).to_numpy()
        reported = ~np.isnan(values)
        part = base[reported].assign(indicator=COLUMN_INDICATORS[column], value=values[reported])
        parts.append(part.assign(reason=np.where(part["value"] < 0, NEGATIVE_REASON, "")))
    frame = observation_frame(**{c: s for c, s in pd.concat(parts, ignore_index=True).items()})
    frame = frame[frame["date"].notna()].sort_values(["line", "indicator"], kind="stable")
    return ParseResult(frame.reset_index(drop=True), problems.as_list(), notes)


def render(frame: pd.DataFrame) -> bytes:
    """OWID columns from a frame of totals; ``total_*`` are running sums per jurisdiction in date order.

    ``iso_code`` comes from the frame's ``iso_code`` column where given, else alpha-2 -> alpha-3, else the
    code itself; ``location`` is the jurisdiction name; ``population`` comes from an optional column.
    Rows without a code (World, International) are kept apart by name.
    """
    frame = frame.assign(key=place_key(frame), date=pd.to_datetime(frame["date"]))
    by_column = {ind: col for col, ind in COLUMN_INDICATORS.items()}
    totals = frame[(frame["disaggregation"].fillna("") == "") & frame["indicator"].isin(list(by_column))]
    wide = totals.pivot_table(index=["key", "date"], columns="indicator", values="value", aggfunc="sum")
    wide = wide.rename(columns=by_column).reindex(columns=list(COLUMN_INDICATORS)).sort_index()
    groups = wide.index.get_level_values("key")
    for total, daily in _TOTALS.items():
        wide[total] = daily_to_cumulative(wide[daily], groups).where(wide[daily].notna())
    wide = wide.reset_index().join(_place_info(frame), on="key")
    out = pd.DataFrame(
        {
            "iso_code": wide["iso_code"],
            "location": wide["location"],
            "date": format_dates(wide["date"]),
            **{c: format_numbers(wide[c]) for c in RENDER_COLUMNS[3:]},
        }
    )
    buffer = io.StringIO()
    out.loc[:, list(RENDER_COLUMNS)].to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def _place_info(frame: pd.DataFrame) -> pd.DataFrame:
    """Per place key: iso_code, location and population (the first non-empty value of each)."""

    def nonempty(name: str) -> pd.Series:
        values = frame[name].fillna("").astype(str) if name in frame else pd.Series("", index=frame.index)
        return values.where(values != "")

    population = frame["population"] if "population" in frame else pd.Series(np.nan, index=frame.index)
    info = (
        pd.DataFrame(
            {
                "key": frame["key"],
                "jurisdiction": frame["jurisdiction"].astype(str),
                "location": nonempty("jurisdiction_name"),
                "iso_code": nonempty("iso_code"),
                "population": population.astype("float64"),
            }
        )
        .groupby("key")
        .first()
    )
    derived = info["jurisdiction"].map({c: alpha3(c) for c in info["jurisdiction"].unique()})
    info["iso_code"] = info["iso_code"].fillna(derived)
    info["location"] = info["location"].fillna("")
    return info.loc[:, ["iso_code", "location", "population"]]
