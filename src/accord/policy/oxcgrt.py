"""Readers of the Oxford COVID-19 Government Response Tracker files (pure: paths or file objects in, frames out).

Three layouts are understood, recognised by their header:

- **per-indicator, one row per region and day** (``OxCGRT_latest.csv`` / ``OxCGRT_compact_*.csv`` of the
  OxCGRT repositories, and the legacy long panel ``oxcgrt_legacy_national_daily_2020_long.csv``): columns
  ``CountryCode, CountryName, [RegionCode, RegionName, Jurisdiction,] Date`` and one column per indicator named
  ``C1_School closing``, ``C1M_School closing`` or ``C1_school_closing``, with flag columns ``C1_Flag`` /
  ``C1M_Flag`` where the file has them (the legacy panel has none). Dates ``YYYYMMDD`` or ``YYYY-MM-DD``.
  :func:`read_oxcgrt` turns it into the long form; where a ``Jurisdiction`` column is present only the
  ``NAT_TOTAL`` / ``STATE_TOTAL`` / ``CITY_TOTAL`` rows are kept (the policies in force for residents).
- **index time series, wide by date** (``OxCGRT_timeseries_StringencyIndex_v1.csv``,
  ``..._ContainmentHealthIndex_v1.csv``): ``CountryCode, CountryName, RegionCode, RegionName, CityCode,
  CityName, Jurisdiction, 01Jan2020, ...``. :func:`read_index_timeseries` turns it into the long form.

Region codes are kept as the files write them: the ISO 3166-1 alpha-3 country code for national rows
(``CHN``), OxCGRT's ``RegionCode`` for states and provinces (``CHN_HB`` = Hubei), ``CityCode`` for cities.
:data:`CHINA_PROVINCES` maps the 31 ``CHN_xx`` codes to China's administrative division codes (GB/T 2260,
the codes of :mod:`accord.places.china_codes`) and :func:`accord_code` applies it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import IO, Final

import numpy as np
import pandas as pd

from accord.errors import AccordError, Problem
from accord.policy.indices import CODES, INDICATORS

Source = str | Path | IO[str] | IO[bytes]

LONG_COLUMNS: Final = ("region", "region_name", "date", "indicator", "level", "flag")
INDEX_COLUMNS: Final = ("region", "region_name", "country", "jurisdiction", "date", "index", "value")

#: OxCGRT province code -> GB/T 2260 province code (first two digits of the 6-digit MCA code, then 0000)
CHINA_PROVINCES: Final[dict[str, str]] = {
    "CHN_BJ": "110000",
    "CHN_TJ": "120000",
    "CHN_HE": "130000",
    "CHN_SX": "140000",
    "CHN_NM": "150000",
    "CHN_LN": "210000",
    "CHN_JL": "220000",
    "CHN_HL": "230000",
    "CHN_SH": "310000",
    "CHN_JS": "320000",
    "CHN_ZJ": "330000",
    "CHN_AH": "340000",
    "CHN_FJ": "350000",
    "CHN_JX": "360000",
    "CHN_SD": "370000",
    "CHN_HA": "410000",
    "CHN_HB": "420000",
    "CHN_HN": "430000",
    "CHN_GD": "440000",
    "CHN_GX": "450000",
    "CHN_HI": "460000",
    "CHN_CQ": "500000",
    "CHN_SC": "510000",
    "CHN_GZ": "520000",
    "CHN_YN": "530000",
    "CHN_XZ": "540000",
    "CHN_SN": "610000",
    "CHN_GS": "620000",
    "CHN_QH": "630000",
    "CHN_NX": "640000",
    "CHN_XJ": "650000",
}

_INDICATOR_COLUMN = re.compile(r"^(C[1-8]|E[12]|H[1-8])(E|NV|V|M)?_(.+)$")
_INDEX_FILE = re.compile(r"OxCGRT_timeseries_(\w+?)_v\d+", re.IGNORECASE)
_INDEX_NAMES: Final = {
    "StringencyIndex": "stringency_index",
    "ContainmentHealthIndex": "containment_health_index",
    "GovernmentResponseIndex": "government_response_index",
    "EconomicSupportIndex": "economic_support_index",
}


def accord_code(region: str, country_codes: dict[str, str] | None = None) -> str:
    """The jurisdiction code Accord uses for an OxCGRT region (China's provinces mapped, else unchanged).

    ``country_codes`` maps national codes, e.g. ``{"CHN": "CN"}`` for the China tree whose root is ``CN``.
    """
    if region in CHINA_PROVINCES:
        return CHINA_PROVINCES[region]
    return (country_codes or {}).get(region, region)


def _name(source: Source) -> str:
    return str(source) if isinstance(source, (str, Path)) else str(getattr(source, "name", "<stream>"))


def _problem(file: str, message: str, line: int | None = None, field: str | None = None) -> AccordError:
    return AccordError("the OxCGRT file cannot be read", [Problem(message, file=file, line=line, field=field)])


def _read_csv(source: Source, file: str) -> pd.DataFrame:
    try:
        return pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise _problem(file, f"not a readable CSV file ({exc})") from exc


def _indicator_columns(columns: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Level and flag column per indicator code. Prefers the 'everyone' (E / M) version of a differentiated one."""
    rank = {"": 0, "E": 1, "M": 2}  # plain name first, then E (everyone), then M (majority); NV/V never
    best: dict[tuple[str, bool], tuple[int, str]] = {}
    for col in columns:
        m = _INDICATOR_COLUMN.match(col)
        if not m or m.group(1) not in INDICATORS or (m.group(2) or "") not in rank:
            continue
        key = (m.group(1), m.group(3).lower() == "flag")
        candidate = (rank[m.group(2) or ""], col)
        if key not in best or candidate < best[key]:
            best[key] = candidate
    levels = {code: col for (code, is_flag), (_, col) in best.items() if not is_flag}
    flags = {code: col for (code, is_flag), (_, col) in best.items() if is_flag}
    return levels, flags


def read_oxcgrt(source: Source) -> pd.DataFrame:
    """Per-indicator OxCGRT file -> long frame ``LONG_COLUMNS``, one row per region, day and indicator.

    ``level``: nullable Int64 (missing = no data that day), ``flag``: nullable Int64 (1 general, 0 targeted,
    NA = no flag in the file, or the level is 0, or the indicator has none). ``date``: ``datetime.date``.
    Raises :class:`AccordError` naming the line and field of the first bad value.
    """
    file = _name(source)
    raw = _read_csv(source, file)
    for needed in ("CountryCode", "Date"):
        if needed not in raw.columns:
            raise _problem(file, f"missing column '{needed}': not a per-indicator OxCGRT file", line=1)
    raw.index = pd.RangeIndex(2, len(raw) + 2)  # the file's line numbers, for error messages
    if "Jurisdiction" in raw.columns:  # keep the policies in force for residents (TOTAL), not WIDE / GOV views
        raw = raw[raw["Jurisdiction"].fillna("").str.endswith("_TOTAL")]
    level_cols, flag_cols = _indicator_columns(list(raw.columns))
    if not level_cols:
        raise _problem(file, "no indicator columns (C1_..., E1_..., H1_...) found", line=1)
    region, region_name = _regions(raw)
    dates = _parse_dates(raw["Date"], file)
    parts = []
    for code, col in level_cols.items():
        level = _parse_ints(raw[col], file, col, 0, INDICATORS[code].max_level)
        flag = (
            _parse_ints(raw[flag_cols[code]], file, flag_cols[code], 0, 1)
            if code in flag_cols
            else pd.Series(pd.NA, index=raw.index, dtype="Int64")
        )
        flag = flag.where(level.fillna(0) > 0)  # OxCGRT leaves the flag blank when the level is 0
        parts.append(
            pd.DataFrame(
                {
                    "region": region,
                    "region_name": region_name,
                    "date": dates,
                    "indicator": code,
                    "level": level,
                    "flag": flag.astype("Int64"),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["region", "indicator", "date"], kind="stable").reset_index(drop=True)


def _regions(raw: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    region = raw["CountryCode"].astype(str)
    name = raw.get("CountryName", region).astype(str)
    for code_col, name_col in (("RegionCode", "RegionName"), ("CityCode", "CityName")):
        if code_col in raw.columns:
            sub = raw[code_col].notna() & (raw[code_col].astype(str).str.strip() != "")
            region = region.where(~sub, raw[code_col])
            name = name.where(~sub, raw.get(name_col, raw[code_col]))
    return region.astype(str), name.astype(str)


def _parse_dates(values: pd.Series, file: str) -> pd.Series:
    text = values.astype(str).str.strip()
    fmt = "%Y%m%d" if text.str.fullmatch(r"\d{8}").all() else "%Y-%m-%d"
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        line = int(values.index[i])
        raise _problem(file, f"'{text.iloc[i]}' is not a date (YYYYMMDD or YYYY-MM-DD)", line=line, field="Date")
    return parsed.dt.date


def _parse_ints(values: pd.Series, file: str, column: str, low: int, high: int) -> pd.Series:
    number = pd.to_numeric(values, errors="coerce")
    bad = (values.notna() & number.isna()) | (number.notna() & ((number % 1 != 0) | (number < low) | (number > high)))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        line = int(values.index[i])
        raise _problem(file, f"'{values.iloc[i]}' is not a level from {low} to {high}", line=line, field=column)
    return number.astype("Int64")


def read_index_timeseries(source: Source, index: str | None = None) -> pd.DataFrame:
    """OxCGRT index time series (wide by date) -> long frame ``INDEX_COLUMNS``, blank cells dropped.

    ``index`` names the index (``stringency_index``, ``containment_health_index``, ...); by default it is read
    from the file name (``OxCGRT_timeseries_StringencyIndex_v1.csv``).
    """
    file = _name(source)
    if index is None:
        m = _INDEX_FILE.search(Path(file).name)
        if not m or m.group(1) not in _INDEX_NAMES:
            raise _problem(file, "cannot tell which index the file holds from its name; pass the index name")
        index = _INDEX_NAMES[m.group(1)]
    raw = _read_csv(source, file)
    if "CountryCode" not in raw.columns or "Jurisdiction" not in raw.columns:
        raise _problem(file, "missing column 'CountryCode' or 'Jurisdiction': not an OxCGRT index time series", 1)
    day_cols = [c for c in raw.columns if re.fullmatch(r"\d{2}[A-Za-z]{3}\d{4}", c)]
    if not day_cols:
        raise _problem(file, "no date columns (01Jan2020, ...) found", line=1)
    region, region_name = _regions(raw)
    values = raw[day_cols].apply(pd.to_numeric, errors="coerce")
    bad = raw[day_cols].notna() & (values.isna() | (values < 0) | (values > 100))
    if bad.to_numpy().any():
        i, j = (int(x[0]) for x in np.nonzero(bad.to_numpy()))
        raise _problem(file, f"'{raw[day_cols[j]].iloc[i]}' is not an index value from 0 to 100", i + 2, day_cols[j])
    dates = pd.to_datetime(pd.Series(day_cols), format="%d%b%Y").dt.date.to_numpy()
    n_rows, n_days = values.shape
    out = pd.DataFrame(
        {
            "region": np.repeat(region.to_numpy(), n_days),
            "region_name": np.repeat(region_name.to_numpy(), n_days),
            "country": np.repeat(raw["CountryCode"].to_numpy(), n_days),
            "jurisdiction": np.repeat(raw["Jurisdiction"].to_numpy(), n_days),
            "date": np.tile(dates, n_rows),
            "index": index,
            "value": values.to_numpy(dtype=np.float64).ravel(),
        }
    )
    return out[out["value"].notna()].reset_index(drop=True)


def wide(long: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long frame of :func:`read_oxcgrt` -> (levels, flags), each indexed by (region, date) with one column per
    indicator code in catalogue order: the shape :func:`accord.policy.indices.compute_indices` takes."""
    keyed = long.set_index(["region", "date", "indicator"])
    levels = keyed["level"].astype("Float64").unstack("indicator")
    flags = keyed["flag"].astype("Float64").unstack("indicator")
    order = [c for c in CODES if c in levels.columns]
    return (
        levels[order].astype(np.float64),
        flags.reindex(columns=order).astype(np.float64),
    )


def runs(long: pd.DataFrame) -> pd.DataFrame:
    """Compress the daily long frame into measures: one row per run of consecutive days with the same level and
    flag for a region and indicator, level 0 and missing days dropped. Columns ``region, region_name,
    indicator, level, flag, start, end`` (``end`` inclusive)."""
    data = long.dropna(subset=["level"]).sort_values(["region", "indicator", "date"], kind="stable")
    data = data.reset_index(drop=True)
    dates = pd.to_datetime(data["date"])
    flag = data["flag"].fillna(-1)
    new_run = (
        (data["region"] != data["region"].shift())
        | (data["indicator"] != data["indicator"].shift())
        | (data["level"] != data["level"].shift())
        | (flag != flag.shift())
        | (dates.diff() != pd.Timedelta(days=1))
    )
    run_id = new_run.cumsum()
    grouped = data.assign(run=run_id).groupby("run", sort=False)
    out = grouped.agg(
        region=("region", "first"),
        region_name=("region_name", "first"),
        indicator=("indicator", "first"),
        level=("level", "first"),
        flag=("flag", "first"),
        start=("date", "first"),
        end=("date", "last"),
    )
    return out[out["level"] > 0].reset_index(drop=True)
