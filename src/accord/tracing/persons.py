"""Persons: pseudonymous records with their identity encrypted apart, registered, read (for a stated
reason), viewed, searched for duplicates (shared identifiers) and merged.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accord.auth.roles import Actor
from accord.db import utcnow
from accord.errors import AccordError, Conflict, NotFound, Problem
from accord.places import service as places
from accord.surveillance import store
from accord.tracing import crypto
from accord.tracing.access import allow, audit
from accord.tracing.model import Case, CaseEvent, Contact, Identifier, Identity, Person, Task
from accord.tracing.person_status import refresh_persons


def new_ref() -> str:
    return "P" + os.urandom(8).hex()


def new_refs(n: int) -> list[str]:
    raw = np.frombuffer(os.urandom(8 * n), dtype=">u8") if n else np.zeros(0, dtype=">u8")
    return ["P" + format(int(x), "016x") for x in raw]


def person_by_ref(session: Session, ref: str) -> Person:
    person = session.scalar(select(Person).where(Person.ref == ref))
    if person is None:
        raise NotFound(f"no person '{ref}'")
    return person


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
    allow(session, actor, residence.id, "register persons")
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
    audit(session, actor, "tracing.person.create", person.ref, residence.id, duplicates=dups)
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
    person = person_by_ref(session, ref)
    allow(session, actor, person.residence_id, "read personal data")
    row = session.get(Identity, person.id)
    audit(session, actor, "tracing.person.read", ref, person.residence_id, why=why)
    return crypto.keyring().decrypt(person.ref, row.ciphertext) if row else {}


def person_view(session: Session, actor: Actor, ref: str) -> dict[str, Any]:
    """Pseudonymous view of a person (status, cases with history, contacts, tasks); audited as a read."""
    person = person_by_ref(session, ref)
    allow(session, actor, person.residence_id, "read personal data")
    audit(session, actor, "tracing.person.view", ref, person.residence_id)
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
    allow(session, actor, root.id, "look for duplicate persons")
    frame = store.read_frame(
        session,
        "SELECT i.kind, i.digest, p.ref FROM tracing_identifier i JOIN tracing_person p ON p.id = i.person_id "
        "JOIN jurisdiction_closure c ON c.descendant_id = p.residence_id AND c.ancestor_id = :root "
        "WHERE p.merged_into_id IS NULL",
        {"root": root.id},
    )
    audit(session, actor, "tracing.duplicates.read", root_code, root.id)
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
    keep, drop = person_by_ref(session, keep_ref), person_by_ref(session, drop_ref)
    for p in (keep, drop):
        allow(session, actor, p.residence_id, "merge persons")
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
    audit(session, actor, "tracing.person.merge", keep.ref, keep.residence_id, merged=drop.ref, reason=reason)
    return keep


def _move_tasks(session: Session, old: int, new: int) -> None:
    """Tasks follow the kept person, except where the kept one already has that task that day."""
    have = set(session.execute(select(Task.kind, Task.due_date).where(Task.person_id == new)).all())
    for t in session.scalars(select(Task).where(Task.person_id == old)):
        if (t.kind, t.due_date) not in have:
            t.person_id = new
