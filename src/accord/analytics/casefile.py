"""Plain CSV files of daily cases in, Rt tables out: the file side of ``accord rt`` (no database).

Input: one row per day (and region), with a date column (YYYY-MM-DD), a column of local cases and optionally a
column of imported cases and a region column. Within each region dates must be ascending, distinct and
consecutive (a missing day is unknown, not zero: write 0 for days without cases). Regions may be interleaved.
Every problem is reported as one sentence naming the file line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from accord.epi.rt import RtEstimate

ONE_DAY = pd.Timedelta(days=1)


class CaseFileError(ValueError):
    """A problem with the input file, as one sentence."""


@dataclass(frozen=True)
class CaseTable:
    """Regions aligned on their own first day: row ``i`` holds region ``regions[i]`` from ``starts[i]`` for
    ``lengths[i]`` days, padded with zeros after its end (padding never enters an estimate of a real day)."""

    regions: list[str]
    starts: list[pd.Timestamp]
    lengths: np.ndarray
    local: np.ndarray
    imported: np.ndarray


@dataclass(frozen=True)
class Columns:
    date: str = "date"
    cases: str = "cases"
    imported: str | None = None
    region: str | None = None


def read_cases(path: Path, columns: Columns) -> CaseTable:
    """The case table of a CSV file, or :class:`CaseFileError`."""
    frame = _read_csv(path)
    wanted = [c for c in (columns.date, columns.cases, columns.imported, columns.region) if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns)) or "none"
        raise CaseFileError(f"{path.name} has no column '{missing[0]}' (its columns: {have}).")
    if frame.empty:
        raise CaseFileError(f"{path.name} holds no rows of cases.")
    frame = frame.assign(_line=np.arange(len(frame)) + 2)  # line 1 is the header
    frame["_date"] = _dates(frame, columns.date, path)
    frame["_local"] = _counts(frame, columns.cases, path)
    frame["_imported"] = _counts(frame, columns.imported, path) if columns.imported else 0.0
    frame["_region"] = frame[columns.region].str.strip() if columns.region else ""
    groups = list(frame.groupby("_region", sort=False))
    for region, rows in groups:
        _check_days(rows, str(region), path)
    return _align(groups)


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise CaseFileError(f"{path}: no such file.")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise CaseFileError(f"{path.name} is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CaseFileError(f"{path.name} is not a readable UTF-8 CSV file ({first}).") from None


def _dates(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    text = frame[column].str.strip()
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = dates.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CaseFileError(
            f"{path.name} line {frame['_line'].iat[i]}: '{text.iat[i]}' in column '{column}' is not a date "
            "(use YYYY-MM-DD)."
        )
    return dates


def _counts(frame: pd.DataFrame, column: str | None, path: Path) -> pd.Series:
    assert column is not None
    text = frame[column].str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        shown = str(text.iat[i]) or "an empty cell"
        what = "negative" if np.isfinite(values[i]) and values[i] < 0 else "not a number"
        raise CaseFileError(
            f"{path.name} line {frame['_line'].iat[i]}: '{shown}' in column '{column}' is {what}; "
            "cases must be counts of 0 or more."
        )
    return pd.Series(values, index=frame.index)


def _check_days(rows: pd.DataFrame, region: str, path: Path) -> None:
    where = f" for region '{region}'" if region else ""
    step = rows["_date"].diff().iloc[1:]
    lines, dates = rows["_line"].to_numpy(), rows["_date"].dt.strftime("%Y-%m-%d").to_numpy()
    for i, gap in enumerate(step, start=1):
        if gap == ONE_DAY:
            continue
        if gap == pd.Timedelta(0):
            problem = f"date {dates[i]} appears twice{where}"
        elif gap < pd.Timedelta(0):
            problem = f"date {dates[i]} comes after {dates[i - 1]}{where}; sort the rows by date"
        else:
            problem = (
                f"dates jump from {dates[i - 1]} to {dates[i]}{where}; give every day, with 0 where there were no cases"
            )
        raise CaseFileError(f"{path.name} line {lines[i]}: {problem}.")


def _align(groups: Sequence[tuple[object, pd.DataFrame]]) -> CaseTable:
    lengths = np.array([len(rows) for _, rows in groups])
    local = np.zeros((len(groups), int(lengths.max())))
    imported = np.zeros_like(local)
    for i, (_, rows) in enumerate(groups):
        local[i, : lengths[i]] = rows["_local"].to_numpy()
        imported[i, : lengths[i]] = rows["_imported"].to_numpy()
    return CaseTable(
        regions=[str(region) for region, _ in groups],
        starts=[pd.Timestamp(rows["_date"].to_numpy()[0]) for _, rows in groups],
        lengths=lengths,
        local=local,
        imported=imported,
    )


def estimates_frame(table: CaseTable, est: RtEstimate, *, with_region: bool) -> pd.DataFrame:
    """One row per region and day with an estimate: date (the window's last day), region, mean, sd, lower,
    upper, cases_in_window, warning, window_start."""
    parts = []
    for i, region in enumerate(table.regions):
        days = np.arange(est.window, table.lengths[i])  # the real days that close a full window
        if days.size == 0:
            continue
        dates = table.starts[i] + pd.to_timedelta(days, unit="D")
        part = pd.DataFrame(
            {
                "date": dates.strftime("%Y-%m-%d"),
                "region": region,
                "mean": est.mean[i, days],
                "sd": est.sd[i, days],
                "lower": est.lower[i, days],
                "upper": est.upper[i, days],
                "cases_in_window": est.cases_in_window[i, days],
                "warning": est.warning[i, days],
                "window_start": (dates - pd.Timedelta(days=est.window - 1)).strftime("%Y-%m-%d"),
            }
        )
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["date", "region"])
    if (out["cases_in_window"] == out["cases_in_window"].round()).all() and len(out):
        out["cases_in_window"] = out["cases_in_window"].astype(np.int64)
    return out if with_region else out.drop(columns="region")
