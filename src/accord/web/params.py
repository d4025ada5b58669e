"""Typed, bounded request parameters that every API shares: row ids, offsets, days, date ranges and instants.

A value outside what the store can hold (an id beyond 64 bits, a day in year 9999, an offset of -23:59 that
PostgreSQL cannot store) is refused here with a 422 naming the parameter, before any query runs; FastAPI also
publishes the bounds in the OpenAPI document.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field

from accord.errors import AccordError, Problem
from accord.surveillance.formats.common import EARLIEST_DAY, LATEST_DAY

#: the largest integer SQLite and PostgreSQL (BIGINT) store: ids above it cannot exist
MAX_ID = 2**63 - 1
#: no list is this long; an offset past the end is an empty page, an offset past this a 422
MAX_OFFSET = 1_000_000_000
#: the span of days any figure, measure or report can be for (the file formats accept the same span)
FIRST_DAY = EARLIEST_DAY.date()
LAST_DAY = LATEST_DAY.date()
#: the longest date range one request may ask for (about 20 years of daily figures)
MAX_RANGE_DAYS = 7_400

ID_DESCRIPTION = f"a positive integer id, at most {MAX_ID}"


def _within_calendar(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{day.isoformat()} is outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}")
    return day


def _utc_instant(moment: datetime) -> datetime:
    """An aware instant in UTC: a naive one is ambiguous, and offsets such as -23:59 are not storable."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("give a time zone offset, e.g. 2020-02-13T00:00:00Z")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{moment.isoformat()} is outside the calendar") from None
    _within_calendar(utc.date())
    return utc


#: a calendar day within FIRST_DAY..LAST_DAY (query parameters and body fields alike)
Day = Annotated[date, AfterValidator(_within_calendar)]
#: a point in time with an explicit offset, normalised to UTC
Instant = Annotated[datetime, AfterValidator(_utc_instant)]
#: a row id in a request body
BodyId = Annotated[int, Field(ge=1, le=MAX_ID, description=ID_DESCRIPTION)]
#: a row id in the path (``/plans/{plan_id}``)
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description=ID_DESCRIPTION)]
#: the offset of a page
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description=f"rows to skip, at most {MAX_OFFSET:,}")]


def check_range(
    start: date | None,
    end: date | None,
    *,
    max_days: int = MAX_RANGE_DAYS,
    start_field: str = "start",
    end_field: str = "end",
) -> None:
    """Refuse an inverted range, or one longer than ``max_days``, with a 422 that says so."""
    if start is None or end is None:
        return
    if end < start:
        raise AccordError(
            "the date range is empty",
            [Problem(f"{end_field} {end.isoformat()} is before {start_field} {start.isoformat()}", field=end_field)],
        )
    days = (end - start).days + 1
    if days > max_days:
        raise AccordError(
            "the date range is too long",
            [
                Problem(
                    f"{start_field}..{end_field} spans {days:,} days; at most {max_days:,} days per request",
                    field=end_field,
                )
            ],
        )
