"""Tables of surveillance: indicators, submissions, revisions, current figures with roll-up, days, flags."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from accord.auth import model as _auth_model  # noqa: F401  (registers app_user for the foreign keys)
from accord.db import Base, UTCDateTime
from accord.places import model as _places_model  # noqa: F401  (registers jurisdiction)


class IndicatorRow(Base):
    __tablename__ = "indicator"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    label_zh: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(40))
    aggregation: Mapped[str] = mapped_column(String(20))
    derived_from: Mapped[str | None] = mapped_column(String(64))


class Submission(Base):
    """A batch: applied whole or not at all. The idempotency key makes replays no-ops."""

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    source: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    n_rows: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, object] | None] = mapped_column(JSON)


class Observation(Base):
    """One revision of one value. Append-only: never updated, never deleted.

    Keyed by the figure it revises plus its revision number, so the table is clustered by figure: the
    history of a value is one range read, and no second index has to be maintained on every insert.
    Like ``figure``, this fact table carries no foreign-key constraints: rows are only ever written by the
    submission service from ids it has just resolved in the same transaction, places with data cannot be
    deleted, and per-row constraint triggers cost more than the rest of a bulk load together (PostgreSQL).
    ``tests/surveillance/test_integrity.py`` checks the references instead.
    """

    __tablename__ = "observation"

    jurisdiction_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    disaggregation: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    revision: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    submission_id: Mapped[int] = mapped_column(Integer, index=False)
    value: Mapped[float] = mapped_column(Float(53))
    previous_value: Mapped[float | None] = mapped_column(Float(53))
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = ({"sqlite_with_rowid": False},)


class Figure(Base):
    """The current value of every (jurisdiction, indicator, date, disaggregation), with its roll-up.

    ``own_*`` is what the jurisdiction itself reported (latest revision), ``child_*`` the sum of its
    children's effective figures; the effective figure is ``own`` when reported, else ``child``.
    ``*_all`` includes provisional reports (coordinators' view), ``*_pub`` only approved days (public).
    Maintained incrementally inside every submitting transaction.
    """

    __tablename__ = "figure"

    jurisdiction_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    disaggregation: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    own_all: Mapped[float | None] = mapped_column(Float(53))
    own_pub: Mapped[float | None] = mapped_column(Float(53))
    child_all: Mapped[float | None] = mapped_column(Float(53))
    child_pub: Mapped[float | None] = mapped_column(Float(53))
    revisions: Mapped[int] = mapped_column(SmallInteger, default=0)

    __table_args__ = ({"sqlite_with_rowid": False},)


class ReportDay(Base):
    """The approval state of one unit's day."""

    __tablename__ = "report_day"

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    #: provisional -> approved (locked); held = a coordinator stopped auto-publication
    status: Mapped[str] = mapped_column(String(16), default="provisional")
    first_submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    auto_published: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_report_day_status", "status", "first_submitted_at"),
        Index("ix_report_day_approved_at", "approved_at"),
        {"sqlite_with_rowid": False},
    )


class Flag(Base):
    __tablename__ = "flag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    jurisdiction_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdiction.id"), index=True)
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicator.id"))
    date: Mapped[date | None] = mapped_column(Date)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submission.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReportingSchedule(Base):
    """What a unit must report, how often and by when: makes late and missing reports facts."""

    __tablename__ = "reporting_schedule"

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"), primary_key=True)
    indicators: Mapped[list[str]] = mapped_column(JSON)
    #: 'daily' or 'weekly' (weekly reports are due for the Sunday of each ISO week)
    frequency: Mapped[str] = mapped_column(String(10), default="daily")
    #: the report for day D is due at this hour (local, settings.timezone) on day D + due_days_after
    deadline_hour: Mapped[int] = mapped_column(SmallInteger, default=10)
    due_days_after: Mapped[int] = mapped_column(SmallInteger, default=1)
    active_from: Mapped[date] = mapped_column(Date)
