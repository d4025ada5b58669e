"""Tables of the tracing capability.

Persons are pseudonymous: ``tracing_person`` holds an opaque reference, the residence (for scope) and the
derived inputs other capabilities need (case status, quarantine end), never a name. Identifying fields live in
``tracing_identity`` as one AES-GCM ciphertext per person; duplicate detection reads ``tracing_identifier``,
keyed hashes (HMAC-SHA-256) of normalised identifiers, so equal phones match without anyone decrypting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.auth import model as _auth_model  # noqa: F401  (registers app_user for the foreign keys)
from accord.db import Base, UTCDateTime
from accord.errors import AccordError, Problem
from accord.places import model as _places_model  # noqa: F401  (registers jurisdiction)

CLASSIFICATIONS = ("suspected", "probable", "confirmed", "discarded")
ORIGINS = ("imported", "local")
SEVERITIES = ("asymptomatic", "mild", "moderate", "severe", "critical")
OUTCOMES = ("recovered", "died", "transferred")
SETTINGS = ("household", "work", "school", "transport", "healthcare", "social", "travel", "other")
PROXIMITIES = ("close", "casual")
TASK_KINDS = ("followup", "screening", "delivery", "transport")
TASK_STATUSES = ("open", "done")
#: one-tap outcomes a worker records, per task kind
TASK_OUTCOMES = {
    "followup": ("well", "symptoms", "unreachable"),
    "screening": ("screened", "fever_found", "nobody_home"),
    "delivery": ("delivered", "refused", "nobody_home"),
    "transport": ("transported", "refused", "not_needed"),
}


def check_choice(value: str | None, allowed: Sequence[str], name: str, optional: bool = True) -> str | None:
    """``value`` when it is one of ``allowed`` (the vocabularies above), or None when optional and empty;
    otherwise a 422 naming the field."""
    if value in (None, "") and optional:
        return None
    if value not in allowed:
        raise AccordError(
            f"invalid {name}", [Problem(f"'{value}' is not one of {', '.join(allowed)}", field=name)], status=422
        )
    return value


class Person(Base):
    __tablename__ = "tracing_person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the opaque identifier shown everywhere (random; says nothing about the person)
    ref: Mapped[str] = mapped_column(String(24), unique=True)
    #: residence down to the community: decides who may see the person (scope)
    residence_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"), index=True)
    #: derived from the person's cases: none, suspected, probable, confirmed, discarded
    case_status: Mapped[str] = mapped_column(String(12), default="none")
    case_date: Mapped[date | None] = mapped_column(Date)
    #: derived from the contacts where this person was exposed: last exposure + quarantine days
    quarantine_until: Mapped[date | None] = mapped_column(Date, index=True)
    #: when another record was found to be the same person, this one points to the one kept
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tracing_person.id"))
    source: Mapped[str] = mapped_column(String(40), default="manual")
    source_ref: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: any input of the health code changed (case, quarantine, residence, merge)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    __table_args__ = (Index("ix_tracing_person_source", "source", "source_ref"),)


class Identity(Base):
    """The identifying fields of a person, encrypted (AES-256-GCM, the person's ref as associated data)."""

    __tablename__ = "tracing_identity"

    person_id: Mapped[int] = mapped_column(ForeignKey("tracing_person.id"), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))


class Identifier(Base):
    """A keyed hash of one normalised identifier (phone, national id, name + birth date) of a person."""

    __tablename__ = "tracing_identifier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("tracing_person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_tracing_identifier_digest", "digest", "kind"),)


class Case(Base):
    __tablename__ = "tracing_case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("tracing_person.id"), index=True)
    #: the source's own case id (line lists), for linking infectors on import
    source_ref: Mapped[str | None] = mapped_column(String(80))
    classification: Mapped[str] = mapped_column(String(12))
    onset_date: Mapped[date | None] = mapped_column(Date)
    report_date: Mapped[date] = mapped_column(Date)
    confirmation_date: Mapped[date | None] = mapped_column(Date)
    origin: Mapped[str] = mapped_column(String(10), default="local")
    severity: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_date: Mapped[date | None] = mapped_column(Date)
    #: residence when reported, down to the community: where the case counts
    residence_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_tracing_case_residence", "residence_id", "confirmation_date"),)


class CaseEvent(Base):
    """One change of a case (classification, severity, outcome): the history, append-only."""

    __tablename__ = "tracing_case_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("tracing_case.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    field: Mapped[str] = mapped_column(String(24))
    old: Mapped[str | None] = mapped_column(String(40))
    new: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)


class Contact(Base):
    """An exposure of ``contact_id`` to ``source_id``; ``infector`` when the source is known to have infected
    the contact (a transmission link of the chain)."""

    __tablename__ = "tracing_contact"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("tracing_person.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("tracing_person.id"), index=True)
    first_exposure: Mapped[date | None] = mapped_column(Date)
    last_exposure: Mapped[date | None] = mapped_column(Date)
    setting: Mapped[str] = mapped_column(String(16), default="other")
    proximity: Mapped[str | None] = mapped_column(String(10))
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    infector: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Task(Base):
    """Work for a grassroots worker: a daily follow-up of a contact, screening, a delivery, a transport."""

    __tablename__ = "tracing_task"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("tracing_person.id"))
    #: the grid cell (community) whose worker does it
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"))
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default="open")
    outcome: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    #: 0 = with the community; n = escalated n levels up, to ``escalated_to_id``
    level: Mapped[int] = mapped_column(SmallInteger, default=0)
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdiction.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    __table_args__ = (
        Index("ix_tracing_task_list", "jurisdiction_id", "due_date", "status"),
        Index("ix_tracing_task_person", "person_id", "kind", "due_date", unique=True),
        Index("ix_tracing_task_escalated", "escalated_to_id", "status"),
    )
