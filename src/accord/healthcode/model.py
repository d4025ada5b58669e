"""Tables of the healthcode capability: signing keys (private halves encrypted), trust lists, rule sets, statuses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from accord.db import Base, UTCDateTime

KEY_ROLES = ("root", "issuer")
KEY_STATUSES = ("active", "retired", "revoked")


class SigningKey(Base):
    """A root or issuer key. ``private_key`` is PKCS#8 PEM encrypted with the key-encryption key, never clear."""

    __tablename__ = "healthcode_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(16), unique=True)
    jurisdiction: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(8))
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(8), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(Text)


class TrustListVersion(Base):
    """Every trust list the root signed, as published (the newest is what verifiers download)."""

    __tablename__ = "healthcode_trustlist"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RuleSetVersion(Base):
    """A published status rule set (CertLogic); published versions are never changed, only superseded."""

    __tablename__ = "healthcode_ruleset"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PersonStatus(Base):
    """The current colour of a (pseudonymous) person, why, and until when; a manual override is kept beside it."""

    __tablename__ = "healthcode_status"

    person_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    colour: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[str] = mapped_column(String(200))
    ruleset: Mapped[str] = mapped_column(String(32))
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    override_colour: Mapped[str | None] = mapped_column(String(8))
    override_reason: Mapped[str | None] = mapped_column(Text)
    override_by: Mapped[str | None] = mapped_column(String(80))
    override_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the jurisdiction whose issuer key signs this person's codes
    jurisdiction: Mapped[str | None] = mapped_column(String(64))
    #: the minimal identity printed on the code: initials and day-month of birth ("JD", "07-14")
    initials: Mapped[str | None] = mapped_column(String(3))
    birth_day: Mapped[str | None] = mapped_column(String(5))
    #: the residence area's risk level used at the last evaluation (a change triggers re-evaluation)
    residence_risk: Mapped[str | None] = mapped_column(String(8))


class Employer(Base):
    """An organisation under a jurisdiction that reopens its workplace; it acts with its own secret key."""

    __tablename__ = "healthcode_employer"
    __table_args__ = (UniqueConstraint("jurisdiction", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of the employer's key (the key itself is shown once, at registration)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))


class Employee(Base):
    """An employee as the employer knows them: its own reference, and what the code shows to match them."""

    __tablename__ = "healthcode_employee"
    __table_args__ = (UniqueConstraint("employer_id", "ref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("healthcode_employer.id"), index=True)
    ref: Mapped[str] = mapped_column(String(64))
    initials: Mapped[str] = mapped_column(String(3))
    birth_day: Mapped[str] = mapped_column(String(5))


class Declaration(Base):
    """One employee's daily health declaration (filed from a phone); one per day, never edited."""

    __tablename__ = "healthcode_declaration"
    __table_args__ = (UniqueConstraint("employee_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("healthcode_employee.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    temperature_c: Mapped[float] = mapped_column(Float)
    symptoms: Mapped[list[str]] = mapped_column(JSON)
    travel_risk_area: Mapped[bool] = mapped_column(Boolean)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EntranceCheck(Base):
    """An entrance decision (code + declaration); the employer sees only counts of these."""

    __tablename__ = "healthcode_entrance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("healthcode_employee.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[date] = mapped_column(Date)
    admitted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(80))
