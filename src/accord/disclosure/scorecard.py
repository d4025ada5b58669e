"""Data-quality scorecard maths: timeliness, completeness, corrections, flags, mismatches; escalation.

Pure: pandas frames in, pandas frames out. The service gathers the facts; this module only counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: weights of the composite score (0-100); flags and mismatches are shown beside it, not folded in,
#: because a unit that reports honestly should not be punished for the warnings its data raises
WEIGHTS = {"timeliness": 0.4, "completeness": 0.4, "accuracy": 0.2}

SCORE_COLUMNS = [
    "jurisdiction",
    "level",
    "expected",
    "received",
    "on_time",
    "timeliness",
    "completeness",
    "revisions",
    "corrections",
    "correction_rate",
    "open_flags",
    "mismatches",
    "score",
    "rank",
]


def score_units(
    compliance: pd.DataFrame,
    revisions: pd.DataFrame,
    flags: pd.DataFrame,
    mismatches: pd.DataFrame,
    levels: dict[str, str],
) -> pd.DataFrame:
    """One row per unit, ranked worst first.

    - ``compliance``: jurisdiction, status (on_time / late / missing / pending) per expected report;
    - ``revisions``: jurisdiction, revisions (all stored values), corrections (revisions of an earlier value);
    - ``flags``: jurisdiction, open (unresolved warning count);
    - ``mismatches``: jurisdiction, mismatches (days its children summed above its own report).
    Pending reports (not yet due) count neither for nor against a unit.
    """
    due = compliance[compliance["status"] != "pending"]
    status = pd.crosstab(due["jurisdiction"], due["status"]) if len(due) else pd.DataFrame()
    for col in ("on_time", "late", "missing"):
        if col not in status:
            status[col] = 0
    units = sorted(set(status.index) | set(revisions["jurisdiction"]) | set(flags["jurisdiction"]))
    out = pd.DataFrame({"jurisdiction": units})
    out["level"] = out["jurisdiction"].map(levels).fillna("")
    st = status.reindex(units, fill_value=0)
    out["expected"] = (st["on_time"] + st["late"] + st["missing"]).to_numpy()
    out["received"] = (st["on_time"] + st["late"]).to_numpy()
    out["on_time"] = st["on_time"].to_numpy()
    out["timeliness"] = _ratio(out["on_time"], out["received"])
    out["completeness"] = _ratio(out["received"], out["expected"])
    rev = revisions.set_index("jurisdiction").reindex(units, fill_value=0)
    out["revisions"] = rev["revisions"].to_numpy(dtype=np.int64)
    out["corrections"] = rev["corrections"].to_numpy(dtype=np.int64)
    out["correction_rate"] = _ratio(out["corrections"], out["revisions"])
    out["open_flags"] = _count(flags, "open", units)
    out["mismatches"] = _count(mismatches, "mismatches", units)
    out["score"] = composite(out["timeliness"], out["completeness"], out["correction_rate"])
    out = out.sort_values(["score", "open_flags", "jurisdiction"], ascending=[True, False, True], na_position="last")
    out["rank"] = np.arange(1, len(out) + 1)
    return out[SCORE_COLUMNS].reset_index(drop=True)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, NaN where nothing was expected (no data is not the same as a perfect record)."""
    d = den.astype(float)
    return (num.astype(float) / d.where(d > 0)).round(4)


def _count(frame: pd.DataFrame, column: str, units: list[str]) -> np.ndarray:
    if frame.empty:
        return np.zeros(len(units), dtype=np.int64)
    return frame.groupby("jurisdiction")[column].sum().reindex(units, fill_value=0).to_numpy(dtype=np.int64)


def composite(timeliness: pd.Series, completeness: pd.Series, correction_rate: pd.Series) -> pd.Series:
    """Weighted 0-100 score; a missing component (nothing expected) leaves the others to decide."""
    parts = pd.DataFrame(
        {
            "timeliness": timeliness.astype(float),
            "completeness": completeness.astype(float),
            "accuracy": 1.0 - correction_rate.astype(float),
        }
    )
    w = pd.Series(WEIGHTS)
    weights = parts.notna() * w
    total = (parts.fillna(0) * w).sum(axis=1) / weights.sum(axis=1).where(weights.sum(axis=1) > 0)
    return (100 * total).round(1)


def by_level(units: pd.DataFrame) -> pd.DataFrame:
    """The scorecard summed per level: shares recomputed from the counts, not averaged from shares."""
    cols = ["expected", "received", "on_time", "revisions", "corrections", "open_flags", "mismatches"]
    g = units.groupby("level", sort=True)[cols].sum().reset_index()
    g["units"] = units.groupby("level", sort=True).size().to_numpy()
    g["timeliness"] = _ratio(g["on_time"], g["received"])
    g["completeness"] = _ratio(g["received"], g["expected"])
    g["correction_rate"] = _ratio(g["corrections"], g["revisions"])
    g["score"] = composite(g["timeliness"], g["completeness"], g["correction_rate"])
    return g[["level", "units", *cols, "timeliness", "completeness", "correction_rate", "score"]]


def late_streaks(compliance: pd.DataFrame) -> pd.Series:
    """Per unit: how many of its most recent due reports in a row were late or missing."""
    due = compliance[compliance["status"] != "pending"].sort_values(["jurisdiction", "date"])
    if due.empty:
        return pd.Series(dtype=np.int64)
    bad = due["status"].isin(["late", "missing"]).to_numpy()
    out = {}
    for unit, idx in due.groupby("jurisdiction").indices.items():
        run = bad[idx][::-1]
        out[unit] = int(np.argmin(run)) if not run.all() else len(run)
    return pd.Series(out, dtype=np.int64)


def escalations(compliance: pd.DataFrame, outlier_days: pd.DataFrame, days: int) -> pd.DataFrame:
    """Units to escalate: ``days`` or more recent reports in a row late or missing, or unexplained outliers
    (open outlier flags) on ``days`` or more distinct days. ``outlier_days``: jurisdiction, days."""
    streak = late_streaks(compliance)
    outliers = (
        outlier_days.set_index("jurisdiction")["days"] if len(outlier_days) else pd.Series(dtype=np.int64)
    ).astype(np.int64)
    units = sorted(set(streak.index) | set(outliers.index))
    out = pd.DataFrame(
        {
            "jurisdiction": units,
            "late_streak": streak.reindex(units, fill_value=0).to_numpy(dtype=np.int64),
            "outlier_days": outliers.reindex(units, fill_value=0).to_numpy(dtype=np.int64),
        }
    )
    reasons = np.where(out["late_streak"] >= days, "late or missing " + out["late_streak"].astype(str) + " days", "")
    more = np.where(out["outlier_days"] >= days, "outliers on " + out["outlier_days"].astype(str) + " days", "")
    out["reason"] = [", ".join(p for p in pair if p) for pair in zip(reasons, more, strict=True)]
    out = out[out["reason"] != ""]
    return out.sort_values(["late_streak", "outlier_days"], ascending=False).reset_index(drop=True)
