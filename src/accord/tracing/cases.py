"""Cases: recorded for a person with classification, dates, origin and severity; every later change is
an event of the case's history, with its reason.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from accord.auth.roles import Actor
from accord.db import utcnow
from accord.errors import NotFound
from accord.places import service as places
from accord.tracing.access import allow, audit
from accord.tracing.model import CLASSIFICATIONS, ORIGINS, OUTCOMES, SEVERITIES, Case, CaseEvent, check_choice
from accord.tracing.person_status import refresh_persons
from accord.tracing.persons import person_by_ref


def create_case(
    session: Session,
    actor: Actor,
    person_ref: str,
    classification: str,
    report_date: date,
    *,
    onset_date: date | None = None,
    confirmation_date: date | None = None,
    origin: str = "local",
    severity: str | None = None,
    residence_code: str | None = None,
    now: datetime | None = None,
) -> Case:
    now = now or utcnow()
    person = person_by_ref(session, person_ref)
    allow(session, actor, person.residence_id, "record cases")
    check_choice(classification, CLASSIFICATIONS, "classification", optional=False)
    check_choice(origin, ORIGINS, "origin", optional=False)
    check_choice(severity, SEVERITIES, "severity")
    if classification == "confirmed" and confirmation_date is None:
        confirmation_date = report_date
    residence_id = person.residence_id
    if residence_code:
        residence_id = places.get(session, residence_code).id
        allow(session, actor, residence_id, "record cases")
    case = Case(
        person_id=person.id,
        classification=classification,
        onset_date=onset_date,
        report_date=report_date,
        confirmation_date=confirmation_date,
        origin=origin,
        severity=severity,
        residence_id=residence_id,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    session.add(CaseEvent(case_id=case.id, at=now, user_id=actor.user_id, field="classification", new=classification))
    refresh_persons(session, [person.id], now)
    audit(session, actor, "tracing.case.create", person.ref, residence_id, case=case.id, classification=classification)
    return case


def update_case(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    reason: str,
    classification: str | None = None,
    severity: str | None = None,
    outcome: str | None = None,
    outcome_date: date | None = None,
    confirmation_date: date | None = None,
    now: datetime | None = None,
) -> Case:
    """Change a case; every changed field is one event of its history, with the reason."""
    now = now or utcnow()
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    allow(session, actor, case.residence_id, "change cases")
    check_choice(classification, CLASSIFICATIONS, "classification")
    check_choice(severity, SEVERITIES, "severity")
    check_choice(outcome, OUTCOMES, "outcome")
    if classification == "confirmed" and confirmation_date is None and case.confirmation_date is None:
        confirmation_date = now.date()
    changes = {
        "classification": classification,
        "severity": severity,
        "outcome": outcome,
        "outcome_date": outcome_date,
        "confirmation_date": confirmation_date,
    }
    for name, value in changes.items():
        old = getattr(case, name)
        if value is None or value == old:
            continue
        setattr(case, name, value)
        session.add(
            CaseEvent(
                case_id=case.id,
                at=now,
                user_id=actor.user_id,
                field=name,
                old=None if old is None else str(old),
                new=str(value),
                reason=reason,
            )
        )
    case.updated_at = now
    session.flush()
    refresh_persons(session, [case.person_id], now)
    audit(session, actor, "tracing.case.update", str(case.id), case.residence_id, reason=reason)
    return case
