"""Reporting schedules: when each unit's report for a day is due, and whether it came on time. Pure."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd


class Compliance(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"
    PENDING = "pending"  # not yet due and not yet received


def due_at(day: date, deadline_hour: int, due_days_after: int, tz: str) -> datetime:
    local = datetime.combine(day + timedelta(days=due_days_after), time(hour=deadline_hour), ZoneInfo(tz))
    return local


def expected_days(active_from: date, start: date, end: date, frequency: str) -> list[date]:
    first = max(active_from, start)
    days = pd.date_range(first, end, freq="D")
    if frequency == "weekly":
        days = days[days.dayofweek == 6]
    return [d.date() for d in days]


def classify(due: pd.Series, received: pd.Series, now: datetime) -> np.ndarray:
    """Compliance per expected report from its due time and first receipt time (NaT = not received)."""
    due_v = pd.to_datetime(due, utc=True)
    rec_v = pd.to_datetime(received, utc=True)
    now_v = pd.Timestamp(now).tz_convert("UTC") if pd.Timestamp(now).tzinfo else pd.Timestamp(now, tz="UTC")
    out = np.where(
        rec_v.notna(),
        np.where(rec_v <= due_v, Compliance.ON_TIME.value, Compliance.LATE.value),
        np.where(now_v > due_v, Compliance.MISSING.value, Compliance.PENDING.value),
    )
    return out
