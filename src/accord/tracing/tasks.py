"""Rules of quarantine, daily follow-ups and escalation, over arrays (pure).

- Quarantine of a contact ends ``quarantine_days`` (default 14) after the **last** exposure: the end date is
  ``max(last_exposure) + quarantine_days`` over all of the person's exposures.
- A follow-up (symptom check) is due on every day ``d <= quarantine end`` (from the day the contact is known)
  for a person who is not a confirmed or probable case (cases are under clinical care, not follow-up), in the person's
  residence community, whose worker gets it.
- A task still open ``grace_days`` after its due date escalates one level up the jurisdiction tree; each further
  ``grace_days`` another level, never above the root.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

DEFAULT_QUARANTINE_DAYS = 14
DEFAULT_GRACE_DAYS = 1
#: case statuses that end follow-up: the person is a case now
UNDER_CARE = ("confirmed", "probable")


def quarantine_end(
    person: npt.NDArray[np.int64], last_exposure: npt.NDArray[np.datetime64], days: int = DEFAULT_QUARANTINE_DAYS
) -> pd.Series:
    """End of quarantine per person (index: person), from the exposures' person and last-exposure arrays."""
    if days < 1:
        raise ValueError("a quarantine lasts at least one day")
    frame = pd.DataFrame({"person": person, "last": pd.to_datetime(last_exposure)}).dropna()
    return frame.groupby("person")["last"].max() + pd.Timedelta(days=days)


def due_followups(
    quarantine_until: npt.NDArray[np.datetime64], case_status: npt.NDArray[np.object_], day: date
) -> npt.NDArray[np.bool_]:
    """Which persons need a symptom check on ``day``: in quarantine that day and not a case under care."""
    until = np.asarray(quarantine_until, dtype="datetime64[D]")
    today = np.datetime64(day, "D")
    in_quarantine = ~np.isnat(until) & (until >= today) & (until - today < np.timedelta64(10_000, "D"))
    return np.asarray(in_quarantine & ~np.isin(np.asarray(case_status, dtype=object), UNDER_CARE))


def escalation_levels(
    due: npt.NDArray[np.datetime64], day: date, grace_days: int = DEFAULT_GRACE_DAYS
) -> npt.NDArray[np.int64]:
    """How many levels up an open task should sit on ``day``: 0 until ``grace_days`` past due, then one more
    level per further ``grace_days``."""
    late = (np.datetime64(day, "D") - np.asarray(due, dtype="datetime64[D]")).astype(np.int64)
    return np.maximum(late // max(grace_days, 1), 0).astype(np.int64)


def ancestor_at(
    node: npt.NDArray[np.int64], levels: npt.NDArray[np.int64], parent: dict[int, int]
) -> npt.NDArray[np.int64]:
    """The ancestor ``levels`` steps above each node (stopping at the root), one vector step per level."""
    out = np.asarray(node, dtype=np.int64).copy()
    remaining = np.asarray(levels, dtype=np.int64).copy()
    lookup = np.vectorize(lambda j: parent.get(int(j), -1), otypes=[np.int64])
    while (remaining > 0).any():
        step = remaining > 0
        up = lookup(out[step]) if step.any() else out[step]
        moved = up >= 0
        idx = np.flatnonzero(step)
        out[idx[moved]] = up[moved]
        remaining[idx] -= 1
        remaining[idx[~moved]] = 0
    return out
