"""Validation rules for a batch of observations, pure and vectorised.

Errors reject the whole batch (one problem per offending row, with file, line and field); warnings let it
through and are stored as flags. Inputs are plain columns so the same rules serve API, CLI, importers and
federation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd

from accord.errors import Problem
from accord.surveillance import indicators as ind


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str
    row: int  # position in the batch frame
    field: str | None = None


#: the span of days a surveillance figure can be for
EARLIEST_DAY = pd.Timestamp("1900-01-01")
LATEST_DAY = pd.Timestamp("2200-12-31")

#: the largest value any indicator can take: more than the world's population, so no count of people, tests,
#: beds or deaths in one jurisdiction and day reaches it (and sums of such values stay exact in float64)
MAX_VALUE = 10_000_000_000.0
#: the longest reason for an unusual value, in characters (the JSON API refuses longer ones as well)
MAX_REASON_CHARS = 2_000

#: a count this many times above its trailing 7-day mean (and above OUTLIER_FLOOR) is flagged
OUTLIER_FACTOR = 10.0
OUTLIER_FLOOR = 50.0


def check_rows(frame: pd.DataFrame, today: date) -> list[Finding]:
    """Row-level rules that need nothing but the batch.

    ``frame`` columns: indicator, disaggregation, date (datetime64), value (float), reason (str),
    jurisdiction_known (bool), in_batch_duplicate (bool).
    """
    out: list[Finding] = []
    codes = frame["indicator"].to_numpy()
    values = frame["value"].to_numpy(dtype=float)
    reasons = frame["reason"].fillna("").astype(str).str.strip().to_numpy()
    catalog = {c: ind.CATALOG[c] for c in set(codes) if c in ind.CATALOG}
    # rules per distinct code (a handful), then broadcast to rows: no per-row Python
    code_series = frame["indicator"]
    unknown = ~code_series.isin(list(catalog)).to_numpy()
    derived = code_series.isin([c for c, i in catalog.items() if not i.stored]).to_numpy()
    counts = code_series.isin([c for c, i in catalog.items() if i.aggregation is ind.Aggregation.COUNT]).to_numpy()
    pairs = [(c, d) for c, i in catalog.items() for d in i.disaggregations]
    allowed = pd.MultiIndex.from_arrays([code_series, frame["disaggregation"]]).isin(pairs)
    finite = np.isfinite(values)
    dates = pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]")
    today64 = np.datetime64(today, "D")

    def add(mask: npt.NDArray[np.bool_], code: str, sev: Severity, field: str, message: Callable[[int], str]) -> None:
        for i in np.flatnonzero(mask):
            out.append(Finding(code, sev, message(int(i)), int(i), field))

    add(
        ~frame["jurisdiction_known"].to_numpy(dtype=bool),
        "unknown_jurisdiction",
        Severity.ERROR,
        "jurisdiction",
        lambda i: f"unknown jurisdiction '{frame['jurisdiction'].iat[i]}'",
    )
    add(unknown, "unknown_indicator", Severity.ERROR, "indicator", lambda i: f"unknown indicator '{codes[i]}'")
    add(
        derived,
        "derived_indicator",
        Severity.ERROR,
        "indicator",
        lambda i: f"{codes[i]} is derived from {catalog[codes[i]].derived_from}; submit daily counts",
    )
    add(
        ~unknown & ~derived & ~allowed,
        "unknown_disaggregation",
        Severity.ERROR,
        "disaggregation",
        lambda i: f"'{frame['disaggregation'].iat[i]}' is not a disaggregation of {codes[i]}",
    )
    add(~finite, "not_a_number", Severity.ERROR, "value", lambda i: "value is missing or not a number")
    add(
        finite & (np.abs(values) > MAX_VALUE),
        "value_out_of_range",
        Severity.ERROR,
        "value",
        lambda i: f"{values[i]:g} is beyond the largest value any indicator can take ({MAX_VALUE:,.0f})",
    )
    reason_chars = frame["reason"].fillna("").astype(str).str.len().to_numpy()
    add(
        reason_chars > MAX_REASON_CHARS,
        "reason_too_long",
        Severity.ERROR,
        "reason",
        lambda i: f"the reason is {reason_chars[i]:,} characters long; at most {MAX_REASON_CHARS:,}",
    )
    add(
        np.isnat(dates),
        "bad_date",
        Severity.ERROR,
        "date",
        lambda i: f"the date is missing, not YYYY-MM-DD, or outside {EARLIEST_DAY.date()}..{LATEST_DAY.date()}",
    )
    future = dates > today64
    add(future, "future_date", Severity.ERROR, "date", lambda i: f"date {dates[i]} is in the future (today is {today})")
    nonint = finite & counts & (np.floor(values) != values)
    add(
        nonint,
        "non_integer_count",
        Severity.ERROR,
        "value",
        lambda i: f"{codes[i]} is a count but {values[i]:g} is not a whole number",
    )
    negative = finite & (values < 0)
    has_reason = reasons != ""
    add(
        negative & counts & ~has_reason,
        "negative_count",
        Severity.ERROR,
        "value",
        lambda i: f"{codes[i]} cannot be negative ({values[i]:g}) without a reason for the adjustment",
    )
    add(
        negative & ~counts & ~unknown,
        "negative_value",
        Severity.ERROR,
        "value",
        lambda i: f"{codes[i]} cannot be negative ({values[i]:g})",
    )
    add(
        negative & counts & has_reason,
        "cumulative_decrease",
        Severity.WARNING,
        "value",
        lambda i: f"negative {codes[i]} {values[i]:g} (a downward correction of the running total): {reasons[i]}",
    )
    add(
        frame["in_batch_duplicate"].to_numpy(dtype=bool),
        "duplicate_row",
        Severity.ERROR,
        "jurisdiction",
        lambda i: "the same jurisdiction, date, indicator and disaggregation appear twice in this batch",
    )
    return out


def check_against_store(frame: pd.DataFrame) -> list[Finding]:
    """Rules that compare the batch with what is stored.

    ``frame`` columns (beside those of :func:`check_rows`): previous (float, NaN when new),
    locked (bool: the day is approved), trailing_mean (float, NaN when no history).
    """
    out: list[Finding] = []
    values = frame["value"].to_numpy(dtype=float)
    previous = frame["previous"].to_numpy(dtype=float)
    locked = frame["locked"].to_numpy(dtype=bool)
    changed = np.isnan(previous) | (previous != values)
    suspects = np.flatnonzero(locked & changed & ~np.isnan(previous))
    reasons = frame["reason"].iloc[suspects].fillna("").astype(str).str.strip().to_numpy()
    for i in suspects[reasons == ""].tolist():
        out.append(
            Finding(
                "locked_without_reason",
                Severity.ERROR,
                f"{frame['indicator'].iat[i]} for {frame['jurisdiction'].iat[i]} on "
                f"{str(frame['date'].iat[i])[:10]} is approved; a correction "
                f"({previous[i]:g} -> {values[i]:g}) needs a reason",
                int(i),
                "reason",
            )
        )
    trailing = frame["trailing_mean"].to_numpy(dtype=float)
    counts = (
        frame["indicator"]
        .isin([c for c, i in ind.CATALOG.items() if i.aggregation is ind.Aggregation.COUNT])
        .to_numpy()
    )
    outlier = counts & ~np.isnan(trailing) & (values > OUTLIER_FLOOR) & (values > OUTLIER_FACTOR * trailing)
    for i in np.flatnonzero(outlier).tolist():
        out.append(
            Finding(
                "outlier",
                Severity.WARNING,
                f"{frame['indicator'].iat[i]} {values[i]:g} is more than {OUTLIER_FACTOR:g}x the trailing "
                f"7-day mean ({trailing[i]:.1f})",
                int(i),
                "value",
            )
        )
    return out


def trailing_mean(matrix: npt.NDArray[np.float64], window: int = 7, min_periods: int = 3) -> npt.NDArray[np.float64]:
    """Mean of the ``window`` values *before* each column, per row, ignoring NaN (rows = series, columns = days).

    NaN where fewer than ``min_periods`` of those days hold a value.
    """
    filled = np.nan_to_num(matrix)
    present = (~np.isnan(matrix)).astype(np.float64)
    zeros = np.zeros((matrix.shape[0], 1))
    csum = np.concatenate([zeros, np.cumsum(filled, axis=1)], axis=1)
    ccnt = np.concatenate([zeros, np.cumsum(present, axis=1)], axis=1)
    cols = np.arange(matrix.shape[1])
    lo = np.maximum(cols - window, 0)
    total = csum[:, cols] - csum[:, lo]
    count = ccnt[:, cols] - ccnt[:, lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return np.where(count >= min_periods, mean, np.nan)


def children_exceed_parent(own: npt.NDArray[np.float64], child: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Mask of figures whose children sum to more than the jurisdiction's own report."""
    with np.errstate(invalid="ignore"):
        mask: npt.NDArray[np.bool_] = ~np.isnan(own) & ~np.isnan(child) & (child > own)
    return mask


def problems_from(findings: list[Finding], lines: np.ndarray, file: str | None) -> list[Problem]:
    """Error findings as problems, one per (line, field, message): a wide row with several values that share
    one fault (an unknown jurisdiction) is reported once."""
    seen: set[tuple[int, str | None, str]] = set()
    out = []
    for f in findings:
        if f.severity is not Severity.ERROR:
            continue
        key = (int(lines[f.row]), f.field, f.message)
        if key not in seen:
            seen.add(key)
            out.append(Problem(f.message, file=file, line=key[0], field=f.field, code=f.code))
    return out
