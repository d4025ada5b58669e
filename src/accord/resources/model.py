"""Tables of the resources capability: catalog, need rules, the double-entry ledger, needs and offers, routes and
pairing assistance, allocation plans and their shipments.

Quantities are whole thousandths of the resource's unit (``BigInteger``), so ledger sums are exact.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from accord.db import Base, UTCDateTime, utcnow


class ResourceType(Base):
    __tablename__ = "resource_type"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    local_name: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))  # reusable / consumable
    category: Mapped[str] = mapped_column(String(20))  # capacity, equipment, staff, medical, food


class NeedRule(Base):
    """Units of a resource needed per unit of load (patient, ICU patient, person) per day."""

    __tablename__ = "resource_need_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource_type.id"))
    basis: Mapped[str] = mapped_column(String(20))
    per_day: Mapped[float] = mapped_column(Float(53))
    source: Mapped[str] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("resource_id", "basis", name="uq_resource_need_rule_resource_basis"),)


class Account(Base):
    """A ledger account: (kind, jurisdiction, name); sources and sinks too belong to the place they are booked at."""

    __tablename__ = "resource_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    name: Mapped[str] = mapped_column(String(100), default="main")

    __table_args__ = (
        UniqueConstraint("kind", "jurisdiction_id", "name", name="uq_resource_account_kind_jurisdiction_name"),
        Index("ix_resource_account_jurisdiction", "jurisdiction_id"),
    )


class Transaction(Base):
    """One balanced movement; never updated or deleted (a correction is a reversing transaction)."""

    __tablename__ = "resource_txn"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    day: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    memo: Mapped[str | None] = mapped_column(String(500))
    #: the transaction this one reverses (at most one reversal each)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("resource_txn.id"), unique=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("resource_shipment.id"))

    __table_args__ = (Index("ix_resource_txn_day", "day"),)


class Entry(Base):
    """One leg of a transaction: + debit (units arrive), - credit (units leave). ``day`` copies the transaction's."""

    __tablename__ = "resource_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    txn_id: Mapped[int] = mapped_column(ForeignKey("resource_txn.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("resource_account.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource_type.id"))
    day: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_resource_entry_account_resource_day", "account_id", "resource_id", "day"),
        Index("ix_resource_entry_txn", "txn_id"),
    )


class Balance(Base):
    """Running total of every leg per (account, resource), kept by the one writer of entries in the same
    transaction; a balance at an earlier day subtracts the (few) legs booked for later days."""

    __tablename__ = "resource_balance"

    account_id: Mapped[int] = mapped_column(ForeignKey("resource_account.id"), primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource_type.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger)


class Need(Base):
    __tablename__ = "resource_need"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource_type.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    by_date: Mapped[date] = mapped_column(Date)
    priority: Mapped[int] = mapped_column(Integer, default=1)
    justification: Mapped[str] = mapped_column(String(2000))
    #: quantity in shipments of approved plans / received so far (thousandths)
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    __table_args__ = (Index("ix_resource_need_jurisdiction_resource", "jurisdiction_id", "resource_id"),)


class Offer(Base):
    __tablename__ = "resource_offer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource_type.id"))
    #: the holding account the units leave from when shipped
    account_id: Mapped[int] = mapped_column(ForeignKey("resource_account.id"))
    quantity: Mapped[int] = mapped_column(BigInteger)
    from_date: Mapped[date] = mapped_column(Date)
    terms: Mapped[str] = mapped_column(String(20))  # donation / sale
    unit_price: Mapped[float] = mapped_column(Float(53), default=0.0)
    #: only to this jurisdiction (or its subtree)
    earmark_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdiction.id"))
    partners_only: Mapped[bool] = mapped_column(Boolean, default=False)
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    __table_args__ = (Index("ix_resource_offer_jurisdiction_resource", "jurisdiction_id", "resource_id"),)


class Route(Base):
    """A lane between two jurisdictions with its lead time and cost; ``closed`` (or an export ban) removes it."""

    __tablename__ = "resource_route"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    lead_days: Mapped[int] = mapped_column(Integer)
    unit_cost: Mapped[float] = mapped_column(Float(53))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("origin_id", "destination_id", name="uq_resource_route_origin_destination"),)


class Pairing(Base):
    """Pairing assistance: ``supporter`` helps ``supported`` (preferred, or exclusive: only it)."""

    __tablename__ = "resource_pairing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    supported_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("supporter_id", "supported_id", name="uq_resource_pairing_supporter_supported"),)


class Plan(Base):
    __tablename__ = "resource_plan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    status: Mapped[str] = mapped_column(String(20))  # proposed / approved
    start: Mapped[date] = mapped_column(Date)
    horizon_days: Mapped[int] = mapped_column(Integer)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: totals, solver, timings, per-need served / shortfall, warnings
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class Shipment(Base):
    """One lane of a plan: from a stockpile or an offer to a need; dispatched on approval, closed by receipts."""

    __tablename__ = "resource_shipment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("resource_plan.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource_type.id"))
    source_account_id: Mapped[int] = mapped_column(ForeignKey("resource_account.id"))
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("resource_offer.id"))
    need_id: Mapped[int] = mapped_column(ForeignKey("resource_need.id"))
    origin_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    depart_day: Mapped[date] = mapped_column(Date)
    arrive_day: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(BigInteger)
    #: what the optimiser proposed, kept when a coordinator edits the quantity
    proposed_quantity: Mapped[int] = mapped_column(BigInteger)
    unit_cost: Mapped[float] = mapped_column(Float(53))
    status: Mapped[str] = mapped_column(String(20))  # planned, dispatched, received, closed
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    #: sent minus received when it was closed short (booked to the destination's ``lost`` account)
    discrepancy: Mapped[int] = mapped_column(BigInteger, default=0)
    discrepancy_note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (Index("ix_resource_shipment_plan", "plan_id"), Index("ix_resource_shipment_need", "need_id"))


class Receipt(Base):
    __tablename__ = "resource_receipt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("resource_shipment.id"))
    day: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(500))
    txn_id: Mapped[int] = mapped_column(ForeignKey("resource_txn.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    __table_args__ = (Index("ix_resource_receipt_shipment", "shipment_id"),)
