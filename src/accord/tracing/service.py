"""Use cases of case and contact tracing. Each runs inside the caller's transaction.

Scope: personal data (even pseudonymous) is read and written only by tracers, coordinators and admins whose
subtree holds the person's residence; everyone else gets 403. Every read of personal data and every write goes
to the audit log (``accord.auth.service.audit``) with the jurisdiction it concerns, so the data-protection
officer of a jurisdiction can see who touched what in their subtree, when, and why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.model import AuditEntry, User
from accord.auth.roles import Actor, Role
from accord.db import db_timestamp, utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.places import service as places
from accord.places.model import JurisdictionClosure
from accord.surveillance import store
from accord.surveillance.model import Flag, IndicatorRow
from accord.tracing import chains, crypto, linelist, mapping, offspring, tasks
from accord.tracing.model import (
    CLASSIFICATIONS,
    ORIGINS,
    OUTCOMES,
    PROXIMITIES,
    SETTINGS,
    SEVERITIES,
    TASK_KINDS,
    TASK_OUTCOMES,
    Case,
    CaseEvent,
    Contact,
    Identifier,
    Identity,
    Person,
    Task,
)

#: roles that may see and change personal data of their subtree
PERSONAL = frozenset({Role.TRACER, Role.COORDINATOR, Role.ADMIN})
#: roles that may read the audit of personal data of their subtree
AUDIT_READERS = frozenset({Role.DPO, Role.ADMIN})
#: precedence when a person has several cases: the strongest classification decides their status
RANK = {"none": 0, "discarded": 1, "suspected": 2, "probable": 3, "confirmed": 4}
MISMATCH_FLAG = "case_count_mismatch"


def settings() -> crypto.PersonalDataSettings:
    return crypto.PersonalDataSettings()


def new_ref() -> str:
    return "P" + os.urandom(8).hex()


def new_refs(n: int) -> list[str]:
    raw = np.frombuffer(os.urandom(8 * n), dtype=">u8") if n else np.zeros(0, dtype=">u8")
    return ["P" + format(int(x), "016x") for x in raw]


# ------------------------------------------------------------------------------------------------ scope
def _allow(session: Session, actor: Actor, jid: int, what: str, roles: frozenset[Role] = PERSONAL) -> None:
    if not actor.can(roles):
        raise Forbidden(f"{actor.username} may not {what} (role {actor.role or 'public'})")
    if actor.unrestricted or (actor.scope_id is not None and places.is_within(session, actor.scope_id, jid)):
        return
    # the code is only looked up for the refusal: the common, allowed path costs one indexed query
    auth.require_scope(session, actor, jid, places.code_of(session, jid) or str(jid), what)


def _audit(session: Session, actor: Actor, action: str, target: str | None, jid: int | None, **detail: Any) -> None:
    auth.audit(session, actor.user_id, action, target, {"jurisdiction_id": jid, "by": actor.username, **detail})


def _person(session: Session, ref: str) -> Person:
    person = session.scalar(select(Person).where(Person.ref == ref))
    if person is None:
        raise NotFound(f"no person '{ref}'")
    return person


def _choice(value: str | None, allowed: Sequence[str], name: str, optional: bool = True) -> str | None:
    if value in (None, "") and optional:
        return None
    if value not in allowed:
        raise AccordError(
            f"invalid {name}", [Problem(f"'{value}' is not one of {', '.join(allowed)}", field=name)], status=422
        )
    return value


# ---------------------------------------------------------------------------------------------- persons
@dataclass(frozen=True)
class Registered:
    person: Person
    possible_duplicates: list[str]


def register_person(
    session: Session,
    actor: Actor,
    residence_code: str,
    identity: dict[str, Any],
    *,
    source: str = "manual",
    source_ref: str | None = None,
    now: datetime | None = None,
) -> Registered:
    """A new pseudonymous person with encrypted identity; reports persons sharing an identifier (duplicates)."""
    now = now or utcnow()
    residence = places.get(session, residence_code)
    _allow(session, actor, residence.id, "register persons")
    unknown = set(identity) - set(crypto.IDENTITY_FIELDS)
    if unknown:
        raise AccordError(
            "the person was not registered",
            [Problem(f"unknown identity field(s) {', '.join(sorted(unknown))}", field=sorted(unknown)[0])],
        )
    keys = crypto.keyring()
    person = Person(
        ref=new_ref(),
        residence_id=residence.id,
        case_status="none",
        source=source,
        source_ref=source_ref,
        created_at=now,
        changed_at=now,
    )
    session.add(person)
    session.flush()
    clean = {k: v for k, v in identity.items() if v not in (None, "")}
    session.add(Identity(person_id=person.id, ciphertext=keys.encrypt(person.ref, clean), key_id=keys.key_id))
    digests = keys.identifier_digests(clean)
    session.add_all([Identifier(person_id=person.id, kind=k, digest=d) for k, d in digests])
    dups = _matching_persons(session, [d for _k, d in digests], exclude=person.id)
    _audit(session, actor, "tracing.person.create", person.ref, residence.id, duplicates=dups)
    return Registered(person, dups)


def _matching_persons(session: Session, digests: list[str], exclude: int | None = None) -> list[str]:
    if not digests:
        return []
    rows = session.execute(
        select(Person.ref)
        .join(Identifier, Identifier.person_id == Person.id)
        .where(Identifier.digest.in_(digests), Person.merged_into_id.is_(None), Person.id != (exclude or -1))
        .distinct()
    )
    return sorted(r[0] for r in rows)


def residence_of(session: Session, ref: str) -> str | None:
    """The code of a person's residence (None when no person has this ref): it decides who may act on them.
    Capabilities that key their own records by the ref (health codes) scope them with it."""
    jid = session.scalar(select(Person.residence_id).where(Person.ref == ref))
    return places.code_of(session, jid) if jid is not None else None


def read_identity(session: Session, actor: Actor, ref: str, why: str) -> dict[str, Any]:
    """The decrypted identifying fields of one person, for a stated reason (audited)."""
    if not why.strip():
        raise AccordError("a reason is required", [Problem("say why you read this person's identity", field="why")])
    person = _person(session, ref)
    _allow(session, actor, person.residence_id, "read personal data")
    row = session.get(Identity, person.id)
    _audit(session, actor, "tracing.person.read", ref, person.residence_id, why=why)
    return crypto.keyring().decrypt(person.ref, row.ciphertext) if row else {}


def person_view(session: Session, actor: Actor, ref: str) -> dict[str, Any]:
    """Pseudonymous view of a person (status, cases with history, contacts, tasks); audited as a read."""
    person = _person(session, ref)
    _allow(session, actor, person.residence_id, "read personal data")
    _audit(session, actor, "tracing.person.view", ref, person.residence_id)
    cases = list(session.scalars(select(Case).where(Case.person_id == person.id).order_by(Case.id)))
    events = list(
        session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_([c.id for c in cases])).order_by(CaseEvent.id))
    )
    ref_of = _refs_of(session, _contact_person_ids(session, person.id))
    contacts = session.scalars(
        select(Contact).where((Contact.source_id == person.id) | (Contact.contact_id == person.id))
    )
    return {
        "ref": person.ref,
        "residence": places.code_of(session, person.residence_id),
        "case_status": person.case_status,
        "case_date": person.case_date,
        "quarantine_until": person.quarantine_until,
        "merged_into": _refs_of(session, [person.merged_into_id]).get(person.merged_into_id or -1),
        "cases": [_case_dict(c, [e for e in events if e.case_id == c.id]) for c in cases],
        "contacts": [
            {
                "source": ref_of.get(c.source_id),
                "contact": ref_of.get(c.contact_id),
                "first_exposure": c.first_exposure,
                "last_exposure": c.last_exposure,
                "setting": c.setting,
                "proximity": c.proximity,
                "duration_minutes": c.duration_minutes,
                "infector": c.infector,
            }
            for c in contacts
        ],
    }


def _contact_person_ids(session: Session, pid: int) -> list[int]:
    rows = session.execute(
        select(Contact.source_id, Contact.contact_id).where((Contact.source_id == pid) | (Contact.contact_id == pid))
    )
    return sorted({pid, *(i for r in rows for i in r)})


def _refs_of(session: Session, ids: Sequence[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {i: r for i, r in session.execute(select(Person.id, Person.ref).where(Person.id.in_(wanted)))}


def _case_dict(c: Case, events: list[CaseEvent]) -> dict[str, Any]:
    return {
        "id": c.id,
        "classification": c.classification,
        "onset_date": c.onset_date,
        "report_date": c.report_date,
        "confirmation_date": c.confirmation_date,
        "origin": c.origin,
        "severity": c.severity,
        "outcome": c.outcome,
        "outcome_date": c.outcome_date,
        "history": [
            {"at": e.at, "field": e.field, "old": e.old, "new": e.new, "reason": e.reason, "user_id": e.user_id}
            for e in events
        ],
    }


def duplicates(session: Session, actor: Actor, root_code: str) -> pd.DataFrame:
    """Groups of live persons in a subtree that share a normalised identifier (keyed hash): merge candidates."""
    root = places.get(session, root_code)
    _allow(session, actor, root.id, "look for duplicate persons")
    frame = store.read_frame(
        session,
        "SELECT i.kind, i.digest, p.ref FROM tracing_identifier i JOIN tracing_person p ON p.id = i.person_id "
        "JOIN jurisdiction_closure c ON c.descendant_id = p.residence_id AND c.ancestor_id = :root "
        "WHERE p.merged_into_id IS NULL",
        {"root": root.id},
    )
    _audit(session, actor, "tracing.duplicates.read", root_code, root.id)
    if frame.empty:
        return pd.DataFrame(columns=["group", "kind", "refs"])
    grouped = frame.groupby(["kind", "digest"])["ref"].agg(lambda s: sorted(set(s)))
    grouped = grouped[grouped.map(len) > 1]
    out = pd.DataFrame({"kind": grouped.index.get_level_values(0), "refs": [";".join(r) for r in grouped]})
    out = out.drop_duplicates("refs").reset_index(drop=True)
    out.insert(0, "group", np.arange(1, len(out) + 1))
    return out


def merge_persons(
    session: Session, actor: Actor, keep_ref: str, drop_ref: str, reason: str, now: datetime | None = None
) -> Person:
    """Merge ``drop`` into ``keep``: cases, contacts, tasks and identifiers move to ``keep``, each case's history
    records the merge, and ``drop`` stays (identity kept, encrypted) pointing to ``keep``: both histories survive."""
    now = now or utcnow()
    if keep_ref == drop_ref:
        raise AccordError("nothing to merge", [Problem("a person cannot be merged with itself", field="drop")])
    if not reason.strip():
        raise AccordError("a reason is required", [Problem("say why these are the same person", field="reason")])
    keep, drop = _person(session, keep_ref), _person(session, drop_ref)
    for p in (keep, drop):
        _allow(session, actor, p.residence_id, "merge persons")
        if p.merged_into_id is not None:
            raise Conflict(f"person {p.ref} was already merged into another record")
    moved_cases = list(session.scalars(select(Case).where(Case.person_id == drop.id)))
    for c in moved_cases:
        session.add(
            CaseEvent(
                case_id=c.id, at=now, user_id=actor.user_id, field="person", old=drop.ref, new=keep.ref, reason=reason
            )
        )
    session.execute(update(Case).where(Case.person_id == drop.id).values(person_id=keep.id))
    session.execute(update(Contact).where(Contact.source_id == drop.id).values(source_id=keep.id))
    session.execute(update(Contact).where(Contact.contact_id == drop.id).values(contact_id=keep.id))
    _move_tasks(session, drop.id, keep.id)
    session.execute(update(Identifier).where(Identifier.person_id == drop.id).values(person_id=keep.id))
    drop.merged_into_id = keep.id
    drop.changed_at = now
    session.flush()
    refresh_persons(session, [keep.id, drop.id], now)
    _audit(session, actor, "tracing.person.merge", keep.ref, keep.residence_id, merged=drop.ref, reason=reason)
    return keep


def _move_tasks(session: Session, old: int, new: int) -> None:
    """Tasks follow the kept person, except where the kept one already has that task that day."""
    have = set(session.execute(select(Task.kind, Task.due_date).where(Task.person_id == new)).all())
    for t in session.scalars(select(Task).where(Task.person_id == old)):
        if (t.kind, t.due_date) not in have:
            t.person_id = new


# ------------------------------------------------------------------------------------------------- cases
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
    person = _person(session, person_ref)
    _allow(session, actor, person.residence_id, "record cases")
    _choice(classification, CLASSIFICATIONS, "classification", optional=False)
    _choice(origin, ORIGINS, "origin", optional=False)
    _choice(severity, SEVERITIES, "severity")
    if classification == "confirmed" and confirmation_date is None:
        confirmation_date = report_date
    residence_id = person.residence_id
    if residence_code:
        residence_id = places.get(session, residence_code).id
        _allow(session, actor, residence_id, "record cases")
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
    _audit(session, actor, "tracing.case.create", person.ref, residence_id, case=case.id, classification=classification)
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
    _allow(session, actor, case.residence_id, "change cases")
    _choice(classification, CLASSIFICATIONS, "classification")
    _choice(severity, SEVERITIES, "severity")
    _choice(outcome, OUTCOMES, "outcome")
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
    _audit(session, actor, "tracing.case.update", str(case.id), case.residence_id, reason=reason)
    return case


# ---------------------------------------------------------------------------------------------- contacts
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
    source, contact = _person(session, source_ref), _person(session, contact_ref)
    if source.id == contact.id:
        raise AccordError("invalid contact", [Problem("a person cannot be their own contact", field="contact")])
    for p in (source, contact):
        _allow(session, actor, p.residence_id, "record contacts")
    _choice(setting, SETTINGS, "setting", optional=False)
    _choice(proximity, PROXIMITIES, "proximity")
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
    _audit(session, actor, "tracing.contact.create", contact.ref, contact.residence_id, source=source.ref)
    return row


def refresh_persons(session: Session, person_ids: Sequence[int] | None, now: datetime) -> int:
    """Recompute the derived inputs (case status and date, quarantine end) of persons (all when None);
    ``changed_at`` moves only where a value changed. Returns how many changed."""
    days = settings().quarantine_days
    where, params = "", dict[str, Any]()
    if person_ids is not None and len(person_ids) > 50_000:
        person_ids = None  # a whole-table pass is cheaper than a huge IN list
    if person_ids is not None:
        if not person_ids:
            return 0
        id_list = ",".join(str(int(i)) for i in person_ids)  # integers only: safe to inline
        where = f" WHERE p.id IN ({id_list})"
    persons = store.read_frame(
        session,
        f"SELECT p.id, p.case_status, p.case_date, p.quarantine_until, p.merged_into_id FROM tracing_person p{where}",
        params,
    )
    if persons.empty:
        return 0
    cases = store.read_frame(
        session,
        "SELECT c.person_id, c.classification, COALESCE(c.confirmation_date, c.report_date) AS day "
        f"FROM tracing_case c JOIN tracing_person p ON p.id = c.person_id{where}",
    )
    exposures = store.read_frame(
        session,
        "SELECT c.contact_id, c.last_exposure FROM tracing_contact c "
        f"JOIN tracing_person p ON p.id = c.contact_id{where}",
    )
    status, day = _case_status(cases)
    until = tasks.quarantine_end(
        exposures["contact_id"].to_numpy(np.int64), exposures["last_exposure"].to_numpy(), days
    )
    new = pd.DataFrame({"id": persons["id"]})
    live = persons["merged_into_id"].isna().to_numpy()
    ids = persons["id"].to_numpy(np.int64)
    new["case_status"] = np.where(live, status.reindex(ids).fillna("none").to_numpy(object), "none")
    new["case_date"] = _dates_or_none(day.reindex(ids), live)
    new["quarantine_until"] = _dates_or_none(until.reindex(ids), live)
    changed = _differs(persons, new)
    if not changed.any():
        return 0
    name = store.dialect(session)
    rows = [
        (s, _day(d, name), _day(q, name), db_timestamp(now, name), int(i))
        for i, s, d, q in new[changed].itertuples(index=False)
    ]
    store.raw_cursor(session).executemany(
        _sql(
            name,
            "UPDATE tracing_person SET case_status = ?, case_date = ?, quarantine_until = ?, changed_at = ? "
            "WHERE id = ?",
        ),
        rows,
    )
    session.expire_all()
    return int(changed.sum())


def _dates_or_none(values: pd.Series, keep: np.ndarray) -> np.ndarray:
    days = pd.to_datetime(values.astype(object)).dt.date.astype(object)
    out = days.where(values.notna().to_numpy() & keep, None).to_numpy(dtype=object)
    return out


def _sql(dialect_name: str, sql: str) -> str:
    return sql.replace("?", "%s") if dialect_name == "postgresql" else sql


def _day(value: Any, dialect_name: str) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    d = pd.Timestamp(value).date()
    return store.date_param(d, dialect_name)


def _case_status(cases: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    if cases.empty:
        return pd.Series(dtype=object), pd.Series(dtype=object)
    ranked = cases.assign(rank=cases["classification"].map(RANK)).sort_values(["person_id", "rank", "day"])
    best = ranked.drop_duplicates("person_id", keep="last").set_index("person_id")
    return best["classification"], best["day"]


def _differs(old: pd.DataFrame, new: pd.DataFrame) -> np.ndarray:
    out = old["case_status"].to_numpy() != new["case_status"].to_numpy()
    for col in ("case_date", "quarantine_until"):
        a = pd.to_datetime(old[col]).to_numpy("datetime64[D]")
        b = pd.to_datetime(pd.Series(new[col].to_numpy())).to_numpy("datetime64[D]")
        out |= ~((a == b) | (np.isnat(a) & np.isnat(b)))
    return np.asarray(out)


# ------------------------------------------------------------------------------------- health-code inputs
def health_inputs(session: Session, changed_since: datetime | None = None) -> pd.DataFrame:
    """One row per person whose health-code inputs changed since ``changed_since`` (all when None):
    person_id, case_status, case_date, quarantine_until, residence_code, changed_at (and merged_into, the ref a
    merged record now points to). Pseudonymous: no identifying field. One indexed query."""
    sql = (
        "SELECT p.ref AS person_id, p.case_status, p.case_date, p.quarantine_until, j.code AS residence_code, "
        "p.changed_at, m.ref AS merged_into FROM tracing_person p JOIN jurisdiction j ON j.id = p.residence_id "
        "LEFT JOIN tracing_person m ON m.id = p.merged_into_id"
    )
    params: dict[str, Any] = {}
    if changed_since is not None:
        sql += " WHERE p.changed_at > :since"
        params["since"] = db_timestamp(changed_since, store.dialect(session))
    frame = store.read_frame(session, sql + " ORDER BY p.changed_at, p.id", params)
    frame["person_id"] = frame["person_id"].astype(str)
    frame["case_date"] = pd.to_datetime(frame["case_date"])
    frame["quarantine_until"] = pd.to_datetime(frame["quarantine_until"])
    frame["changed_at"] = pd.to_datetime(frame["changed_at"], utc=True, format="mixed")
    return frame


# ------------------------------------------------------------------------------------------------- tasks
def generate_followups(session: Session, day: date, now: datetime | None = None) -> int:
    """Today's symptom checks for every contact in quarantine, each assigned to the person's community.
    Idempotent: a second run the same day adds nothing. Returns the tasks added."""
    now = now or utcnow()
    name = store.dialect(session)
    persons = store.read_frame(
        session,
        "SELECT id, residence_id, case_status, quarantine_until FROM tracing_person "
        "WHERE quarantine_until >= :day AND merged_into_id IS NULL",
        {"day": store.date_param(day, name)},
    )
    if persons.empty:
        return 0
    due = tasks.due_followups(
        pd.to_datetime(persons["quarantine_until"]).to_numpy(), persons["case_status"].to_numpy(), day
    )
    todo = persons[due]
    existing = store.read_frame(
        session,
        "SELECT person_id FROM tracing_task WHERE kind = 'followup' AND due_date = :day",
        {"day": store.date_param(day, name)},
    )
    todo = todo[~todo["id"].isin(existing["person_id"])]
    created = db_timestamp(now, name)
    day_param = store.date_param(day, name)
    rows = [
        ("followup", int(p), int(j), day_param, "open", 0, created)
        for p, j in zip(todo["id"].to_numpy(), todo["residence_id"].to_numpy(), strict=True)
    ]
    store.insert_rows(
        session,
        "tracing_task",
        ["kind", "person_id", "jurisdiction_id", "due_date", "status", "level", "created_at"],
        rows,
    )
    auth.audit(session, None, "tracing.tasks.generate", day.isoformat(), {"followups": len(rows)})
    return len(rows)


def add_task(
    session: Session,
    actor: Actor,
    kind: str,
    community_code: str,
    due_date: date,
    *,
    person_ref: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> Task:
    """A task of any kind (screening of a block, delivery to a quarantined household, transport to a fever
    clinic) for the worker of a community."""
    now = now or utcnow()
    _choice(kind, TASK_KINDS, "kind", optional=False)
    where = places.get(session, community_code)
    _allow(session, actor, where.id, "assign tasks", frozenset({Role.TRACER, Role.COORDINATOR, Role.ADMIN}))
    person_id = None
    if person_ref:
        person = _person(session, person_ref)
        _allow(session, actor, person.residence_id, "assign tasks")
        person_id = person.id
    task = Task(
        kind=kind,
        person_id=person_id,
        jurisdiction_id=where.id,
        due_date=due_date,
        status="open",
        level=0,
        note=note,
        created_at=now,
    )
    session.add(task)
    session.flush()
    _audit(session, actor, "tracing.task.create", str(task.id), where.id, kind=kind, person=person_ref)
    return task


TASK_LIST_SQL = (
    "SELECT t.id, t.kind, t.due_date, t.status, t.outcome, t.note, t.level, j.code AS community, p.ref AS person, "
    "p.quarantine_until, i.ciphertext FROM tracing_task t "
    "JOIN jurisdiction_closure c ON c.descendant_id = t.jurisdiction_id AND c.ancestor_id = :scope "
    "JOIN jurisdiction j ON j.id = t.jurisdiction_id "
    "LEFT JOIN tracing_person p ON p.id = t.person_id LEFT JOIN tracing_identity i ON i.person_id = t.person_id "
    "WHERE t.due_date <= :day AND (t.status = 'open' OR t.due_date = :day) "
    "ORDER BY t.status DESC, t.due_date, t.kind, t.id LIMIT :limit"
)


def task_list(
    session: Session, actor: Actor, day: date, *, scope_code: str | None = None, limit: int = 500
) -> pd.DataFrame:
    """The worker's list for ``day``: due today plus anything still open from before, in their scope, with
    the name, phone and address each task needs (decrypted; the read is audited, one entry per list)."""
    if not actor.can(PERSONAL):
        raise Forbidden(f"{actor.username} may not see task lists (role {actor.role or 'public'})")
    scope = places.get(session, scope_code).id if scope_code else actor.scope_id
    if scope is None:
        raise AccordError("which jurisdiction?", [Problem("an admin must name the scope of the list", field="scope")])
    _allow(session, actor, scope, "see task lists")
    name = store.dialect(session)
    sql = TASK_LIST_SQL if name == "sqlite" else re.sub(r":(scope|day|limit)\b", r"%(\1)s", TASK_LIST_SQL)
    cur = store.raw_cursor(session)
    cur.execute(sql, {"scope": scope, "day": store.date_param(day, name), "limit": limit})
    keys, today = crypto.keyring(), day.isoformat()
    rows = []
    # plain tuples, not a frame built column by column: this is the hot path of every worker's phone
    for tid, kind, due, status, outcome, note, level, community, ref, until, blob in cur.fetchall():
        who = keys.decrypt(ref, blob) if blob is not None else {}
        due_text = str(due)[:10]
        rows.append(
            (tid, kind, due_text, status, outcome, note, level, community, ref,
             None if until is None else str(until)[:10], who.get("name", ""), who.get("phone", ""),
             who.get("address", ""), due_text < today)
        )  # fmt: skip
    refs = [r[8] for r in rows if r[8] is not None]
    _audit(session, actor, "tracing.tasks.read", today, scope, persons=refs[:500], count=len(refs))
    return pd.DataFrame.from_records(rows, columns=TASK_LIST_COLUMNS)


TASK_LIST_COLUMNS = [
    "id", "kind", "due_date", "status", "outcome", "note", "level", "community", "person", "quarantine_until",
    "name", "phone", "address", "overdue",
]  # fmt: skip


def record_outcome(
    session: Session, actor: Actor, task_id: int, outcome: str, note: str | None = None, now: datetime | None = None
) -> Task:
    """One tap: the task is done with this outcome. A follow-up with symptoms makes the person a suspected case
    and adds a transport to the fever clinic for the same day."""
    now = now or utcnow()
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    _allow(session, actor, task.jurisdiction_id, "record task outcomes")
    _choice(outcome, TASK_OUTCOMES[task.kind], "outcome", optional=False)
    if task.status == "done":
        raise Conflict(f"task {task_id} was already done ({task.outcome})")
    task.status, task.outcome, task.done_at, task.done_by = "done", outcome, now, actor.user_id
    if note:
        task.note = note
    session.flush()
    _audit(session, actor, "tracing.task.done", str(task.id), task.jurisdiction_id, outcome=outcome)
    if task.kind == "followup" and outcome == "symptoms" and task.person_id is not None:
        person = session.get(Person, task.person_id)
        assert person is not None
        if RANK[person.case_status] < RANK["suspected"]:
            create_case(session, actor, person.ref, "suspected", now.date(), onset_date=now.date(), now=now)
        code = places.code_of(session, task.jurisdiction_id) or ""
        add_task(
            session, actor, "transport", code, now.date(), person_ref=person.ref, note="to the fever clinic", now=now
        )
    return task


def escalate_overdue(session: Session, day: date, now: datetime | None = None, grace_days: int | None = None) -> int:
    """Open tasks past their due date by ``grace_days`` move one level up per period. Returns how many moved."""
    now = now or utcnow()
    grace = settings().task_grace_days if grace_days is None else grace_days
    name = store.dialect(session)
    open_ = store.read_frame(
        session,
        "SELECT id, jurisdiction_id, due_date, level FROM tracing_task WHERE status = 'open' AND due_date < :day",
        {"day": store.date_param(day, name)},
    )
    if open_.empty:
        return 0
    levels = tasks.escalation_levels(pd.to_datetime(open_["due_date"]).to_numpy(), day, grace)
    moved = levels > open_["level"].to_numpy()
    if not moved.any():
        return 0
    index = places.load_index(session)
    parent = {int(i): int(p) for i, p in zip(index.ids, index.parent_ids, strict=True) if p >= 0}
    target = tasks.ancestor_at(open_["jurisdiction_id"].to_numpy(np.int64)[moved], levels[moved], parent)
    rows = [
        (int(lv), int(t), int(i)) for lv, t, i in zip(levels[moved], target, open_["id"].to_numpy()[moved], strict=True)
    ]
    store.raw_cursor(session).executemany(
        _sql(name, "UPDATE tracing_task SET level = ?, escalated_to_id = ? WHERE id = ?"), rows
    )
    auth.audit(session, None, "tracing.tasks.escalate", day.isoformat(), {"tasks": len(rows)})
    session.expire_all()
    return len(rows)


def escalations(session: Session, actor: Actor, scope_code: str | None = None) -> pd.DataFrame:
    """Open tasks escalated to a jurisdiction in the actor's subtree (the level above sees what is stuck)."""
    scope = places.get(session, scope_code).id if scope_code else actor.scope_id
    if scope is None:
        raise AccordError("which jurisdiction?", [Problem("an admin must name the scope", field="scope")])
    _allow(session, actor, scope, "see escalated tasks")
    return store.read_frame(
        session,
        "SELECT t.id, t.kind, t.due_date, t.level, j.code AS community, e.code AS escalated_to FROM tracing_task t "
        "JOIN jurisdiction_closure c ON c.descendant_id = t.escalated_to_id AND c.ancestor_id = :scope "
        "JOIN jurisdiction j ON j.id = t.jurisdiction_id JOIN jurisdiction e ON e.id = t.escalated_to_id "
        "WHERE t.status = 'open' ORDER BY t.due_date, t.id",
        {"scope": scope},
    )


# ---------------------------------------------------------------------------------------- chains, clusters
@dataclass
class ChainSet:
    """The cases of a subtree as a graph: nodes (pseudonymous, numbered), edges, clusters."""

    nodes: pd.DataFrame  # node, person_id, onset, report, classification, origin, residence, cluster
    edges: pd.DataFrame  # source, target (node numbers), setting, infector, last_exposure
    clusters: pd.DataFrame  # cluster, size, first_onset, last_onset, span_days, settings
    infector: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    infectee: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    #: component label of every node (clusters of any size, single cases included)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def chain_set(session: Session, root_code: str, min_size: int = 2, source: str | None = None) -> ChainSet:
    """Cases (not discarded) under ``root_code`` and the contacts between them; clusters are the connected
    components. Directed infector links are used as given; undirected links are directed by onset (earliest
    linked case with an earlier onset is the infector)."""
    root = places.get(session, root_code)
    params: dict[str, Any] = {"root": root.id}
    extra = ""
    if source:
        extra = " AND p.source = :source"
        params["source"] = source
    nodes = store.read_frame(
        session,
        "SELECT p.id AS person_id, MIN(c.onset_date) AS onset, MIN(c.report_date) AS report, "
        "MAX(c.classification) AS classification, MAX(c.origin) AS origin, j.code AS residence "
        "FROM tracing_case c JOIN tracing_person p ON p.id = c.person_id "
        "JOIN jurisdiction_closure k ON k.descendant_id = c.residence_id AND k.ancestor_id = :root "
        "JOIN jurisdiction j ON j.id = c.residence_id "
        f"WHERE c.classification <> 'discarded' AND p.merged_into_id IS NULL{extra} "
        "GROUP BY p.id, j.code ORDER BY p.id",
        params,
    ).drop_duplicates("person_id")
    nodes["node"] = np.arange(len(nodes), dtype=np.int64)
    node_of = pd.Series(nodes["node"].to_numpy(), index=nodes["person_id"].to_numpy())
    # only links between two cases: the planner turns each IN into one hashed set of case persons
    links = store.read_frame(
        session,
        "SELECT t.source_id, t.contact_id, t.setting, t.infector, t.last_exposure FROM tracing_contact t "
        "WHERE t.source_id IN (SELECT person_id FROM tracing_case) "
        "AND t.contact_id IN (SELECT person_id FROM tracing_case)",
    )
    links = links[links["source_id"].isin(node_of.index) & links["contact_id"].isin(node_of.index)]
    edges = pd.DataFrame(
        {
            "source": node_of.reindex(links["source_id"]).to_numpy(np.int64),
            "target": node_of.reindex(links["contact_id"]).to_numpy(np.int64),
            "setting": links["setting"].to_numpy(),
            "infector": links["infector"].astype(bool).to_numpy(),
            "last_exposure": links["last_exposure"].to_numpy(),
        }
    )
    onset = pd.to_datetime(nodes["onset"]).to_numpy("datetime64[D]")
    labels = chains.components(len(nodes), edges["source"].to_numpy(np.int64), edges["target"].to_numpy(np.int64))
    table = chains.cluster_table(
        labels, onset, edges["source"].to_numpy(np.int64), edges["setting"].to_numpy(object), min_size=min_size
    )
    cluster_of = pd.Series(table["cluster"].to_numpy(), index=table["label"].to_numpy())
    nodes["cluster"] = cluster_of.reindex(labels).fillna(0).astype(np.int64).to_numpy()
    infector, infectee = _transmissions(len(nodes), edges, onset)
    return ChainSet(nodes, edges, table.drop(columns=["label"]), infector, infectee, labels)


def _transmissions(n: int, edges: pd.DataFrame, onset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Directed infector links as given (several candidates for one infectee: the one with the earliest onset;
    an infector whose onset follows the infectee's stays: that is pre-symptomatic transmission); undirected
    contacts directed by onset where no named infector exists."""
    directed = edges[edges["infector"]].assign(onset=onset[edges.loc[edges["infector"], "source"].to_numpy(np.int64)])
    known = directed.sort_values(["target", "onset", "source"], na_position="last").drop_duplicates("target")
    undirected = edges[~edges["infector"]]
    a, b = chains.infector_by_earliest_onset(
        n, undirected["source"].to_numpy(np.int64), undirected["target"].to_numpy(np.int64), onset
    )
    keep = ~np.isin(b, known["target"].to_numpy())
    return (
        np.concatenate([known["source"].to_numpy(np.int64), a[keep]]),
        np.concatenate([known["target"].to_numpy(np.int64), b[keep]]),
    )


def chain_statistics(cs: ChainSet) -> dict[str, Any]:
    """Serial interval (onset differences of infector -> infectee pairs) and offspring dispersion k (negative
    binomial, maximum likelihood with a profile-likelihood interval) of a set of cases."""
    onset = pd.to_datetime(cs.nodes["onset"]).to_numpy("datetime64[D]")
    days = (onset[cs.infectee] - onset[cs.infector]).astype("timedelta64[D]").astype("float64")
    days[np.isnat(onset[cs.infectee]) | np.isnat(onset[cs.infector])] = np.nan
    si = chains.serial_interval(days)
    counts = chains.offspring_counts(len(cs.nodes), cs.infector)
    fit = offspring.fit_dispersion(counts) if len(counts) else None
    grouped = chains.count_clusters(cs.labels)
    return {
        "cases": len(cs.nodes),
        # groups of 2 or more linked cases; cases linked to nobody are counted apart, never as clusters
        "clusters": grouped.clusters,
        "cases_in_clusters": grouped.cases_in_clusters,
        "single_cases": grouped.single_cases,
        "largest_cluster": grouped.largest,
        "transmission_pairs": len(cs.infector),
        "serial_interval": si.__dict__,
        "offspring": None if fit is None else fit.__dict__,
        "offspring_distribution": np.bincount(counts).tolist() if len(counts) else [],
    }


def chains_for(session: Session, actor: Actor, root_code: str, min_size: int = 2) -> ChainSet:
    """The chains of a subtree for a reader: aggregates are not personal, so analysts may read them too;
    the public may not (they are not yet approved figures). Audited."""
    root = places.get(session, root_code)
    _allow(session, actor, root.id, "read transmission chains", PERSONAL | {Role.ANALYST, Role.DPO})
    cs = chain_set(session, root_code, min_size)
    _audit(session, actor, "tracing.chains.read", root_code, root.id, clusters=len(cs.clusters))
    return cs


# ---------------------------------------------------------------------------------------- reconciliation
def case_counts(session: Session, root_code: str, start: date, end: date) -> pd.DataFrame:
    """Confirmed cases per community and confirmation day derived from the case records (total and
    imported/local), for every jurisdiction under ``root_code`` that has any."""
    root = places.get(session, root_code)
    name = store.dialect(session)
    frame = store.read_frame(
        session,
        "SELECT c.residence_id AS jurisdiction_id, c.confirmation_date AS date, c.origin, COUNT(*) AS n "
        "FROM tracing_case c JOIN jurisdiction_closure k ON k.descendant_id = c.residence_id AND k.ancestor_id = :root "
        "WHERE c.classification = 'confirmed' AND c.confirmation_date BETWEEN :a AND :b "
        "GROUP BY c.residence_id, c.confirmation_date, c.origin",
        {"root": root.id, "a": store.date_param(start, name), "b": store.date_param(end, name)},
    )
    if frame.empty:
        return pd.DataFrame(columns=["jurisdiction_id", "date", "case_based", "imported", "local"])
    wide = frame.pivot_table(
        index=["jurisdiction_id", "date"], columns="origin", values="n", aggfunc="sum", fill_value=0
    )
    wide = wide.reindex(columns=["imported", "local"], fill_value=0)
    wide["case_based"] = wide["imported"] + wide["local"]
    out = wide.reset_index()
    out["date"] = pd.to_datetime(out["date"]).dt.date
    return out[["jurisdiction_id", "date", "case_based", "imported", "local"]]


def reconcile(
    session: Session, root_code: str, start: date, end: date, now: datetime | None = None, store_flags: bool = True
) -> pd.DataFrame:
    """Case-based daily confirmed counts beside the reported ``new_confirmed`` of the same community and day;
    each difference becomes a warning flag ``case_count_mismatch`` (once per community-day) in the spine's
    flag list, where coordinators already look."""
    now = now or utcnow()
    root = places.get(session, root_code)
    name = store.dialect(session)
    counts = case_counts(session, root_code, start, end)
    iid = session.scalar(select(IndicatorRow.id).where(IndicatorRow.code == "new_confirmed"))
    reported = store.read_frame(
        session,
        "SELECT f.jurisdiction_id, f.date, f.own_all AS reported FROM figure f "
        "JOIN jurisdiction_closure k ON k.descendant_id = f.jurisdiction_id AND k.ancestor_id = :root "
        "JOIN jurisdiction j ON j.id = f.jurisdiction_id "
        "WHERE f.indicator_id = :i AND f.disaggregation = '' AND f.date BETWEEN :a AND :b AND f.own_all IS NOT NULL "
        "AND j.id IN (SELECT DISTINCT residence_id FROM tracing_case)",
        {"root": root.id, "i": iid or -1, "a": store.date_param(start, name), "b": store.date_param(end, name)},
    )
    reported["date"] = pd.to_datetime(reported["date"]).dt.date
    merged = counts.merge(reported, on=["jurisdiction_id", "date"], how="outer")
    merged[["case_based", "imported", "local"]] = merged[["case_based", "imported", "local"]].fillna(0).astype(int)
    merged["difference"] = merged["case_based"] - merged["reported"]
    merged["mismatch"] = merged["reported"].notna() & merged["difference"].ne(0)
    index = places.load_index(session)
    code_of = dict(zip(index.ids.tolist(), index.codes.tolist(), strict=True))
    merged.insert(0, "jurisdiction", merged["jurisdiction_id"].map(code_of))
    merged = merged.sort_values(["jurisdiction", "date"]).reset_index(drop=True)
    if store_flags:
        _flag_mismatches(session, merged[merged["mismatch"]], iid, now)
    return merged.drop(columns=["jurisdiction_id"]).assign(jurisdiction_id=merged["jurisdiction_id"])


def reconcile_for(session: Session, actor: Actor, root_code: str, start: date, end: date) -> pd.DataFrame:
    """:func:`reconcile` for a reader of the subtree (counts are not personal: analysts may run it)."""
    root = places.get(session, root_code)
    _allow(session, actor, root.id, "reconcile case counts", PERSONAL | {Role.ANALYST})
    return reconcile(session, root_code, start, end)


def _flag_mismatches(session: Session, bad: pd.DataFrame, iid: int | None, now: datetime) -> None:
    seen = set(
        session.execute(
            select(Flag.jurisdiction_id, Flag.date).where(Flag.code == MISMATCH_FLAG, Flag.resolved_at.is_(None))
        ).all()
    )
    for row in bad.itertuples(index=False):
        jid = int(row.jurisdiction_id)  # type: ignore[arg-type]
        if (jid, row.date) in seen:
            continue
        session.add(
            Flag(
                code=MISMATCH_FLAG,
                severity="warning",
                message=f"{row.jurisdiction} reported {row.reported:g} new confirmed cases on {row.date} but its "
                f"case records hold {row.case_based}",
                jurisdiction_id=jid,
                indicator_id=iid,
                date=row.date,
                created_at=now,
            )
        )
    session.flush()


# ------------------------------------------------------------------------------------------------ export
EXPORT_COLUMNS = [
    "case",
    "classification",
    "onset_date",
    "report_date",
    "confirmation_date",
    "origin",
    "severity",
    "outcome",
    "outcome_date",
    "residence",
]


def export_cases(session: Session, actor: Actor, root_code: str, personal: bool = False) -> pd.DataFrame:
    """The cases of a subtree, one row each. Without ``personal``: no person reference and no identifying
    field (cases numbered 1..n), readable by analysts. With it: the person's ref and decrypted identity, only
    for roles allowed personal data, and audited with the persons it disclosed."""
    root = places.get(session, root_code)
    roles = PERSONAL if personal else PERSONAL | {Role.ANALYST}
    _allow(session, actor, root.id, "export personal data" if personal else "export cases", roles)
    frame = store.read_frame(
        session,
        "SELECT p.ref, i.ciphertext, c.classification, c.onset_date, c.report_date, c.confirmation_date, c.origin, "
        "c.severity, c.outcome, c.outcome_date, j.code AS residence FROM tracing_case c "
        "JOIN tracing_person p ON p.id = c.person_id LEFT JOIN tracing_identity i ON i.person_id = p.id "
        "JOIN jurisdiction_closure k ON k.descendant_id = c.residence_id AND k.ancestor_id = :root "
        "JOIN jurisdiction j ON j.id = c.residence_id ORDER BY c.report_date, c.id",
        {"root": root.id},
    )
    frame.insert(0, "case", np.arange(1, len(frame) + 1))
    if not personal:
        _audit(session, actor, "tracing.export.cases", root_code, root.id, personal=False, rows=len(frame))
        return frame[EXPORT_COLUMNS]
    keys = crypto.keyring()
    people = [
        keys.decrypt(r, c) if c is not None else {} for r, c in zip(frame["ref"], frame["ciphertext"], strict=True)
    ]
    out = frame[EXPORT_COLUMNS].assign(person=frame["ref"])
    for key in crypto.IDENTITY_FIELDS:
        out[key] = [p.get(key, "") for p in people]
    _audit(
        session,
        actor,
        "tracing.export.personal",
        root_code,
        root.id,
        personal=True,
        rows=len(out),
        persons=frame["ref"].tolist()[:1000],
    )
    return out


# ------------------------------------------------------------------------------------------------- audit
def audit_log(session: Session, actor: Actor, root_code: str, limit: int = 200, offset: int = 0) -> pd.DataFrame:
    """Audit entries of tracing (reads of personal data and every write) that concern the DPO's subtree."""
    root = places.get(session, root_code)
    _allow(session, actor, root.id, "read the audit of personal data", AUDIT_READERS)
    within = set(
        session.scalars(select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root.id))
    )
    rows = session.execute(
        select(AuditEntry, User.username)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.action.like("tracing.%"))
        .order_by(AuditEntry.id.desc())
    )
    out = []
    for entry, username in rows:
        detail = entry.detail or {}
        jid = detail.get("jurisdiction_id")
        if jid is not None and jid not in within:
            continue
        if jid is None and not actor.unrestricted:
            continue
        out.append(
            {
                "id": entry.id,
                "at": entry.at,
                "who": username or detail.get("by") or "system",
                "action": entry.action,
                "target": entry.target,
                "why": detail.get("why") or detail.get("reason") or "",
                "detail": {k: v for k, v in detail.items() if k not in ("jurisdiction_id", "by", "why", "reason")},
            }
        )
        if len(out) >= offset + limit:
            break
    _audit(session, actor, "tracing.audit.read", root_code, root.id)
    return pd.DataFrame(out[offset:], columns=["id", "at", "who", "action", "target", "why", "detail"])


# ------------------------------------------------------------------------------------------ key rotation
def rotate_key(session: Session, old: crypto.Keyring, new: crypto.Keyring, batch: int = 5_000) -> int:
    """Re-encrypt every identity under ``new`` and recompute the identifier hashes with its HMAC key, in the
    caller's transaction (all or nothing). Records not under ``old`` are refused. Returns the records moved."""
    if old.key_id == new.key_id:
        raise AccordError("nothing to rotate", [Problem("the old and the new key are the same", field="key")])
    stray = session.scalar(select(Identity.key_id).where(Identity.key_id.notin_([old.key_id, new.key_id])).limit(1))
    if stray is not None:
        raise Conflict(f"some identities are under key {stray}, neither the old ({old.key_id}) nor the new key")
    name = store.dialect(session)
    cur = store.raw_cursor(session)
    rows = store.read_frame(
        session,
        "SELECT i.person_id, p.ref, i.ciphertext FROM tracing_identity i JOIN tracing_person p ON p.id = i.person_id "
        "WHERE i.key_id = :k",
        {"k": old.key_id},
    )
    moved = 0
    for start in range(0, len(rows), batch):
        part = rows.iloc[start : start + batch]
        updates, hashes = [], []
        for pid, ref, blob in part.itertuples(index=False):
            fields = old.decrypt(ref, blob)
            updates.append((new.encrypt(ref, fields), new.key_id, int(pid)))
            hashes += [(int(pid), k, d) for k, d in new.identifier_digests(fields)]
        cur.executemany(
            _sql(name, "UPDATE tracing_identity SET ciphertext = ?, key_id = ? WHERE person_id = ?"), updates
        )
        ids = ",".join(str(int(p)) for p in part["person_id"])
        cur.execute(f"DELETE FROM tracing_identifier WHERE person_id IN ({ids})")
        store.insert_rows(session, "tracing_identifier", ["person_id", "kind", "digest"], hashes)
        moved += len(part)
    auth.audit(session, None, "tracing.key.rotate", new.key_id, {"from": old.key_id, "records": moved})
    session.expire_all()
    return moved


# ------------------------------------------------------------------------------------------------ imports
@dataclass
class ImportReport:
    file: str
    source: str
    persons: int
    cases: int
    links: int
    placed: dict[str, int]
    unmapped_lines: list[int]
    unknown_links: list[str]
    notes: list[str]

    def lines(self) -> list[str]:
        out = [
            f"{self.file}: {self.cases} cases, {self.persons} persons, {self.links} contact/infector links imported "
            f"from source '{self.source}'",
            "placed by " + ", ".join(f"{k}: {v}" for k, v in sorted(self.placed.items())),
        ]
        if self.unmapped_lines:
            shown = ", ".join(str(n) for n in self.unmapped_lines[:10])
            out.append(
                f"{len(self.unmapped_lines)} row(s) could not be placed in a jurisdiction and were put at the import's "
                f"root (lines {shown}{', ...' if len(self.unmapped_lines) > 10 else ''})"
            )
        if self.unknown_links:
            out.append(
                f"{len(self.unknown_links)} link(s) name cases that are not in the file: "
                + ", ".join(self.unknown_links[:10])
            )
        return out + self.notes


def import_linelist(
    session: Session,
    actor: Actor,
    data: bytes,
    mapping_text: str,
    root_code: str,
    *,
    file: str,
    mapping_file: str = "mapping",
    now: datetime | None = None,
) -> ImportReport:
    """Import a line list through a mapping file: all rows or none. Persons are created pseudonymous (any
    identifying columns encrypted), cases linked to them, contacts and infector links between the file's cases.
    Rows that cannot be placed are put at ``root_code`` and reported by line."""
    now = now or utcnow()
    try:
        spec = linelist.load_mapping(mapping_text, mapping_file)
    except ValueError as exc:
        raise AccordError("the mapping file is not usable", [Problem(str(exc), file=mapping_file)]) from None
    root = places.get(session, root_code)
    _allow(session, actor, root.id, "import line lists")
    parsed = linelist.parse(data, spec, file)
    if parsed.problems:
        raise AccordError(f"nothing was imported from {file}", parsed.problems, total=len(parsed.problems))
    frame = parsed.frame
    if session.scalar(select(Person.id).where(Person.source == f"{spec.name}:{file}"[:40]).limit(1)):
        raise Conflict(f"{file} was imported before from source '{spec.name}'; nothing was imported")
    index = places.load_index(session)
    within = set(
        session.scalars(select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root.id))
    )
    placed = mapping.place(
        frame["residence_code"],
        list(frame["residence_names"]),
        index.by_code,
        index.names,
        within,
        root.id,
        spec.code_fallbacks,
        spec.name_suffixes,
    )
    if not actor.unrestricted:
        for jid in np.unique(placed.ids):
            _allow(session, actor, int(jid), "import line lists")
    source = f"{spec.name}:{file}"[:40]
    person_ids = bulk_persons(session, frame, placed.ids, source, now)
    _bulk_cases(session, frame, person_ids, placed.ids, source, now)
    links, unknown = _bulk_links(session, frame, person_ids, now)
    refresh_persons(session, person_ids.tolist(), now)
    how = pd.Series(placed.how).value_counts()
    report = ImportReport(
        file=file,
        source=spec.name,
        persons=len(person_ids),
        cases=len(frame),
        links=links,
        placed={str(k): int(v) for k, v in how.items()},
        unmapped_lines=placed.unmapped_lines(frame["line"].to_numpy()),
        unknown_links=unknown,
        notes=parsed.notes,
    )
    _audit(
        session,
        actor,
        "tracing.import",
        file,
        root.id,
        source=spec.name,
        cases=len(frame),
        unmapped=len(report.unmapped_lines),
        notes=parsed.notes,
    )
    return report


IDENTITY_COLUMNS = ("name", "phone", "national_id", "address", "sex", "age")


def bulk_persons(
    session: Session, frame: pd.DataFrame, residence: np.ndarray, source: str, now: datetime
) -> np.ndarray:
    name = store.dialect(session)
    refs = new_refs(len(frame))
    ts = db_timestamp(now, name)
    store.insert_rows(
        session,
        "tracing_person",
        ["ref", "residence_id", "case_status", "source", "source_ref", "created_at", "changed_at"],
        [(r, int(j), "none", source, cid, ts, ts) for r, j, cid in zip(refs, residence, frame["case_id"], strict=True)],
    )
    ids = store.read_frame(session, "SELECT id, source_ref FROM tracing_person WHERE source = :s", {"s": source})
    id_of = pd.Series(ids["id"].to_numpy(), index=ids["source_ref"].to_numpy())
    person_ids = id_of.reindex(frame["case_id"].to_numpy()).to_numpy(np.int64)
    keys = crypto.keyring()
    identities, identifiers = [], []
    for pid, ref, fields in zip(person_ids, refs, frame[list(IDENTITY_COLUMNS)].to_dict("records"), strict=True):
        clean = {str(k): v for k, v in fields.items() if v}
        identities.append((int(pid), keys.encrypt(ref, clean), keys.key_id))
        identifiers += [(int(pid), k, d) for k, d in keys.identifier_digests(clean)]
    store.insert_rows(session, "tracing_identity", ["person_id", "ciphertext", "key_id"], identities)
    store.insert_rows(session, "tracing_identifier", ["person_id", "kind", "digest"], identifiers)
    return person_ids


def _bulk_cases(
    session: Session, frame: pd.DataFrame, person_ids: np.ndarray, residence: np.ndarray, source: str, now: datetime
) -> None:
    name = store.dialect(session)
    ts = db_timestamp(now, name)
    today = now.date()

    def d(v: Any) -> Any:
        return None if v is None or pd.isna(v) else store.date_param(v, name)

    rows = []
    for r, pid, jid in zip(frame.itertuples(index=False), person_ids, residence, strict=True):
        report = r.report_date or r.confirmation_date or r.onset_date or today
        rows.append(
            (
                int(pid),
                r.case_id,
                r.classification,
                d(r.onset_date),
                d(report),
                d(r.confirmation_date),
                r.origin,
                r.severity or None,
                r.outcome or None,
                d(r.outcome_date),
                int(jid),
                ts,
                ts,
            )
        )
    store.insert_rows(
        session,
        "tracing_case",
        [
            "person_id",
            "source_ref",
            "classification",
            "onset_date",
            "report_date",
            "confirmation_date",
            "origin",
            "severity",
            "outcome",
            "outcome_date",
            "residence_id",
            "created_at",
            "updated_at",
        ],
        rows,
    )
    cases = store.read_frame(
        session,
        "SELECT c.id, c.classification FROM tracing_case c JOIN tracing_person p ON p.id = c.person_id "
        "WHERE p.source = :s",
        {"s": source},
    )
    store.insert_rows(
        session,
        "tracing_case_event",
        ["case_id", "at", "field", "new", "reason"],
        [
            (int(c), ts, "classification", k, f"imported from {source}")
            for c, k in zip(cases["id"], cases["classification"], strict=True)
        ],
    )


def _bulk_links(session: Session, frame: pd.DataFrame, person_ids: np.ndarray, now: datetime) -> tuple[int, list[str]]:
    """Infector links (directed) and contact links (undirected, stored once per pair) among the file's cases."""
    pid_of = dict(zip(frame["case_id"], person_ids.tolist(), strict=True))
    onset_of = dict(zip(frame["case_id"], frame["onset_date"], strict=True))
    rows: dict[tuple[int, int], tuple[bool, Any]] = {}
    unknown: list[str] = []
    for cid, infectors, contacts in zip(frame["case_id"], frame["infector_ids"], frame["contact_ids"], strict=True):
        for other in infectors:
            if other not in pid_of:
                unknown.append(f"{cid}->{other}")
                continue
            rows[(pid_of[other], pid_of[cid])] = (True, onset_of[cid])
        for other in contacts:
            if other not in pid_of:
                unknown.append(f"{cid}~{other}")
                continue
            a, b = sorted((pid_of[other], pid_of[cid]))
            if (a, b) not in rows and (b, a) not in rows:
                rows[(a, b)] = (False, None)
    name = store.dialect(session)
    ts = db_timestamp(now, name)
    store.insert_rows(
        session,
        "tracing_contact",
        ["source_id", "contact_id", "setting", "infector", "last_exposure", "created_at"],
        [
            (a, b, "other", inf, None if day is None else store.date_param(day, name), ts)
            for (a, b), (inf, day) in rows.items()
        ],
    )
    return len(rows), unknown
