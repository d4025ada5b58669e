"""The grassroots workers' tasks: daily follow-ups of contacts in quarantine, tasks assigned by hand, each
worker's list for the day, one-tap outcomes, and escalation of what stays open.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import Actor, Role
from accord.db import db_timestamp, utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.places import service as places
from accord.surveillance import store
from accord.tracing import crypto, tasks
from accord.tracing.access import PERSONAL, allow, audit
from accord.tracing.cases import create_case
from accord.tracing.model import TASK_KINDS, TASK_OUTCOMES, Person, Task, check_choice
from accord.tracing.person_status import RANK
from accord.tracing.persons import person_by_ref
from accord.tracing.rawsql import cursor_sql


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
    check_choice(kind, TASK_KINDS, "kind", optional=False)
    where = places.get(session, community_code)
    allow(session, actor, where.id, "assign tasks", frozenset({Role.TRACER, Role.COORDINATOR, Role.ADMIN}))
    person_id = None
    if person_ref:
        person = person_by_ref(session, person_ref)
        allow(session, actor, person.residence_id, "assign tasks")
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
    audit(session, actor, "tracing.task.create", str(task.id), where.id, kind=kind, person=person_ref)
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
    allow(session, actor, scope, "see task lists")
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
    audit(session, actor, "tracing.tasks.read", today, scope, persons=refs[:500], count=len(refs))
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
    allow(session, actor, task.jurisdiction_id, "record task outcomes")
    check_choice(outcome, TASK_OUTCOMES[task.kind], "outcome", optional=False)
    if task.status == "done":
        raise Conflict(f"task {task_id} was already done ({task.outcome})")
    task.status, task.outcome, task.done_at, task.done_by = "done", outcome, now, actor.user_id
    if note:
        task.note = note
    session.flush()
    audit(session, actor, "tracing.task.done", str(task.id), task.jurisdiction_id, outcome=outcome)
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
    grace = crypto.PersonalDataSettings().task_grace_days if grace_days is None else grace_days
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
        cursor_sql(name, "UPDATE tracing_task SET level = ?, escalated_to_id = ? WHERE id = ?"), rows
    )
    auth.audit(session, None, "tracing.tasks.escalate", day.isoformat(), {"tasks": len(rows)})
    session.expire_all()
    return len(rows)


def escalations(session: Session, actor: Actor, scope_code: str | None = None) -> pd.DataFrame:
    """Open tasks escalated to a jurisdiction in the actor's subtree (the level above sees what is stuck)."""
    scope = places.get(session, scope_code).id if scope_code else actor.scope_id
    if scope is None:
        raise AccordError("which jurisdiction?", [Problem("an admin must name the scope", field="scope")])
    allow(session, actor, scope, "see escalated tasks")
    return store.read_frame(
        session,
        "SELECT t.id, t.kind, t.due_date, t.level, j.code AS community, e.code AS escalated_to FROM tracing_task t "
        "JOIN jurisdiction_closure c ON c.descendant_id = t.escalated_to_id AND c.ancestor_id = :scope "
        "JOIN jurisdiction j ON j.id = t.jurisdiction_id JOIN jurisdiction e ON e.id = t.escalated_to_id "
        "WHERE t.status = 'open' ORDER BY t.due_date, t.id",
        {"scope": scope},
    )
