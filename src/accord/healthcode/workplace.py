"""Return to work: employers register, employees declare daily, the entrance combines code and declaration,
the employer reads aggregates only (counts per day and reason, never whose)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accord.auth.roles import Actor
from accord.auth.service import audit, require_scope
from accord.db import utcnow
from accord.errors import AccordError, Conflict, NotFound, Problem, Unauthorized
from accord.healthcode import codec, entrance, service, trustlist
from accord.healthcode.model import Declaration, Employee, Employer, EntranceCheck
from accord.places import service as places


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def register(session: Session, name: str, jurisdiction: str, actor: Actor) -> tuple[Employer, str]:
    """Register an employer; returns it and its secret key (shown once; only its hash is stored)."""
    j = places.get(session, jurisdiction)
    require_scope(session, actor, j.id, jurisdiction, "register employers")
    if not name.strip():
        raise AccordError("an employer needs a name", [Problem("empty", field="name")])
    if session.scalars(select(Employer).where(Employer.jurisdiction == jurisdiction, Employer.name == name)).first():
        raise Conflict(f"employer '{name}' is registered in {jurisdiction} already")
    key = "emp_" + secrets.token_urlsafe(24)
    row = Employer(
        name=name.strip(),
        jurisdiction=jurisdiction,
        key_hash=_hash(key),
        created_at=utcnow(),
        created_by=actor.username,
    )
    session.add(row)
    session.flush()
    audit(session, actor.user_id, "healthcode.employer.register", str(row.id), {"name": name, "in": jurisdiction})
    return row, key


def employer_by_key(session: Session, employer_id: int, key: str | None) -> Employer:
    row = session.get(Employer, employer_id)
    if row is None or not key or not hmac.compare_digest(row.key_hash, _hash(key)):
        raise Unauthorized("this needs the employer's key ('X-Employer-Key')")
    return row


def declaration_token(secret: str, employee_id: int) -> str:
    return hmac.new(secret.encode(), f"healthcode-declare:{employee_id}".encode(), hashlib.sha256).hexdigest()[:24]


def add_employee(session: Session, employer: Employer, ref: str, initials: str, birth_day: str) -> Employee:
    if not ref.strip() or not initials.strip():
        raise AccordError("an employee needs a reference and initials")
    row = Employee(employer_id=employer.id, ref=ref.strip(), initials=initials.strip().upper()[:3], birth_day=birth_day)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"employee '{ref}' exists already at this employer") from None
    return row


def employee(session: Session, employer: Employer, ref: str) -> Employee:
    row = session.scalars(select(Employee).where(Employee.employer_id == employer.id, Employee.ref == ref)).first()
    if row is None:
        raise NotFound(f"no employee '{ref}' at this employer")
    return row


def declare(
    session: Session,
    employee_id: int,
    temperature_c: float,
    symptoms: list[str],
    travel: bool,
    today: date,
    now: datetime | None = None,
) -> Declaration:
    problems = entrance.validate_declaration(temperature_c, symptoms)
    if problems:
        raise AccordError("the declaration was not filed", [Problem(p) for p in problems])
    if session.get(Employee, employee_id) is None:
        raise NotFound("no such employee")
    if session.scalars(
        select(Declaration).where(Declaration.employee_id == employee_id, Declaration.day == today)
    ).first():
        raise Conflict(f"a declaration for {today.isoformat()} is filed already")
    row = Declaration(
        employee_id=employee_id,
        day=today,
        temperature_c=temperature_c,
        symptoms=sorted(set(symptoms)),
        travel_risk_area=travel,
        filed_at=now or utcnow(),
    )
    session.add(row)
    return row


def check_entrance(session: Session, employer: Employer, ref: str, code: str, now: datetime) -> entrance.Decision:
    emp = employee(session, employer, ref)
    trust = trustlist.load_trust_list(service.current_trust_list(session).document).trust
    verdict = codec.verify(code, trust, now)
    today = now.date()
    row = session.scalars(
        select(Declaration).where(Declaration.employee_id == emp.id, Declaration.day == today)
    ).first()
    filed = entrance.Declaration(row.day, row.temperature_c, tuple(row.symptoms), row.travel_risk_area) if row else None
    decision = entrance.decide(verdict, filed, today=today, initials=emp.initials, birth_day=emp.birth_day)
    session.add(
        EntranceCheck(employee_id=emp.id, at=now, day=today, admitted=decision.admitted, reason=decision.reason[:80])
    )
    return decision


def summary(session: Session, employer: Employer, day: date) -> dict[str, Any]:
    """What the employer may see: counts, never persons or their health reasons."""
    ids = list(session.scalars(select(Employee.id).where(Employee.employer_id == employer.id)))
    decls = session.scalars(select(Declaration).where(Declaration.employee_id.in_(ids), Declaration.day == day)).all()
    checks = session.scalars(
        select(EntranceCheck).where(EntranceCheck.employee_id.in_(ids), EntranceCheck.day == day)
    ).all()
    # the latest check per employee decides whether they are in today
    latest: dict[int, EntranceCheck] = {}
    for c in sorted(checks, key=lambda c: c.at):
        latest[c.employee_id] = c
    refused = Counter(c.reason for c in latest.values() if not c.admitted)
    return {
        "employer": employer.name,
        "day": day.isoformat(),
        "employees": len(ids),
        "declared": len(decls),
        "not_declared": len(ids) - len(decls),
        "declared_fever": sum(d.temperature_c >= entrance.FEVER_C for d in decls),
        "declared_symptoms": sum(bool(d.symptoms) for d in decls),
        "declared_travel": sum(d.travel_risk_area for d in decls),
        "checked": len(latest),
        "admitted": sum(c.admitted for c in latest.values()),
        "refused_by_reason": dict(sorted(refused.items())),
    }
