"""Contacts: who was exposed to whom, when and how; a contact's quarantine follows from it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from accord.auth.roles import Actor
from accord.db import utcnow
from accord.errors import AccordError, Problem
from accord.tracing.access import allow, audit
from accord.tracing.model import PROXIMITIES, SETTINGS, Contact, check_choice
from accord.tracing.person_status import refresh_persons
from accord.tracing.persons import person_by_ref


def add_contact(
    session: Session,
    actor: Actor,
    source_ref: str,
    contact_ref: str,
    *,
    last_exposure: date,
    first_exposure: date | None = None,
    setting: str = "other",
    proximity: str | None = None,
    duration_minutes: int | None = None,
    infector: bool = False,
    now: datetime | None = None,
) -> Contact:
    """Record that ``contact`` was exposed to ``source``; the contact's quarantine follows from it."""
    now = now or utcnow()
    source, contact = person_by_ref(session, source_ref), person_by_ref(session, contact_ref)
    if source.id == contact.id:
        raise AccordError("invalid contact", [Problem("a person cannot be their own contact", field="contact")])
    for p in (source, contact):
        allow(session, actor, p.residence_id, "record contacts")
    check_choice(setting, SETTINGS, "setting", optional=False)
    check_choice(proximity, PROXIMITIES, "proximity")
    if first_exposure and first_exposure > last_exposure:
        raise AccordError(
            "invalid contact", [Problem("the first exposure is after the last one", field="first_exposure")]
        )
    if duration_minutes is not None and duration_minutes < 0:
        raise AccordError("invalid contact", [Problem("a duration cannot be negative", field="duration_minutes")])
    row = Contact(
        source_id=source.id,
        contact_id=contact.id,
        first_exposure=first_exposure or last_exposure,
        last_exposure=last_exposure,
        setting=setting,
        proximity=proximity,
        duration_minutes=duration_minutes,
        infector=infector,
        created_at=now,
    )
    session.add(row)
    session.flush()
    refresh_persons(session, [contact.id], now)
    audit(session, actor, "tracing.contact.create", contact.ref, contact.residence_id, source=source.ref)
    return row
