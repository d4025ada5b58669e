"""Tables of the policy capability: measures (directives and recorded policy), index values, the inbox of each
jurisdiction, risk rules and the daily risk-area classification (history kept)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.auth import model as _auth_model  # noqa: F401  (registers app_user for the foreign keys)
from accord.db import Base, UTCDateTime
from accord.places import model as _places_model  # noqa: F401  (registers jurisdiction)

#: a directive is issued through Accord and applies down the tree; a recorded measure is imported history
#: (OxCGRT), also applied down the tree, never notified
KINDS = ("directive", "recorded")


class Measure(Base):
    """One measure coded like OxCGRT: indicator (C1..H8), ordinal level, targeted or general, for a date range
    (``end`` inclusive, None = until further notice), issued at a jurisdiction for its whole subtree."""

    __tablename__ = "policy_measure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    indicator: Mapped[str] = mapped_column(String(4))
    level: Mapped[int] = mapped_column(SmallInteger)
    targeted: Mapped[bool] = mapped_column(Boolean, default=False)
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date)
    #: whether jurisdictions below may set a lower level of this indicator while it is in force
    allow_relaxation: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(16), default="directive")
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(500))
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_policy_measure_place", "jurisdiction_id", "indicator", "start"),)


class IndexValue(Base):
    """A published policy index value (OxCGRT time series) for a jurisdiction and day, kept for comparison."""

    __tablename__ = "policy_index_value"

    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"), primary_key=True)
    index: Mapped[str] = mapped_column(String(40), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[float] = mapped_column(Float(53))
    source: Mapped[str] = mapped_column(String(200))


class Notice(Base):
    """An inbox entry: a measure issued above (or at) a jurisdiction that applies to it."""

    __tablename__ = "policy_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    measure_id: Mapped[int] = mapped_column(ForeignKey("policy_measure.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_policy_notice_inbox", "jurisdiction_id", "id"),)


class RiskRuleRow(Base):
    """A published version of the risk-area rule (its parameters are :class:`accord.policy.risk.RiskRule`)."""

    __tablename__ = "policy_risk_rule"

    version: Mapped[str] = mapped_column(String(40), primary_key=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class RiskArea(Base):
    """One classification of one jurisdiction for one day by one rule version. Re-running a day appends; the
    latest ``computed_at`` is the current answer, earlier ones stay as history."""

    __tablename__ = "policy_risk_area"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(Integer)
    date: Mapped[date] = mapped_column(Date)
    rule_version: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(8))
    cases_14d: Mapped[int] = mapped_column(Integer)
    cluster: Mapped[bool] = mapped_column(Boolean)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_policy_risk_area_day", "date", "rule_version", "jurisdiction_id"),)
