"""The measures registry: measures issued at a jurisdiction for its subtree (directives down the tree, or
recorded history), ended and listed, and the inbox where every jurisdiction of the subtree hears of the
directives that reach it. Each use case runs inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import APPROVERS, Actor
from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.policy import directives, indices
from accord.policy.model import KINDS, Measure, Notice

FAR_FUTURE = dt.date(9999, 12, 31)


@dataclass(frozen=True)
class MeasureInput:
    jurisdiction: str
    indicator: str
    level: int
    start: dt.date
    end: dt.date | None = None
    targeted: bool = False
    allow_relaxation: bool = False
    notes: str | None = None
    source: str | None = None
    kind: str = "directive"


def describe_measure(m: Measure, code: str) -> str:
    until = f"to {m.end.isoformat()}" if m.end else "until further notice"
    scope = "targeted" if m.targeted else "general"
    return f"measure {m.id} ({m.indicator} level {m.level} {scope} at '{code}', {m.start.isoformat()} {until})"


def overlapping(start: dt.date, end: dt.date | None) -> Any:
    last = end or FAR_FUTURE
    return and_(Measure.start <= last, or_(Measure.end.is_(None), Measure.end >= start))


def _validate(data: MeasureInput) -> list[Problem]:
    problems = []
    why = indices.check_level(data.indicator, data.level)
    if why:
        problems.append(Problem(why, field="indicator" if "unknown" in why else "level"))
    if data.end is not None and data.end < data.start:
        problems.append(Problem(f"end {data.end} is before start {data.start}", field="end"))
    if data.kind not in KINDS:
        problems.append(Problem(f"unknown kind '{data.kind}' (known: {', '.join(KINDS)})", field="kind"))
    if data.targeted and data.indicator in indices.INDICATORS and not indices.INDICATORS[data.indicator].has_flag:
        problems.append(Problem(f"{data.indicator} has no targeted/general flag in OxCGRT", field="targeted"))
    return problems


def add_measure(session: Session, actor: Actor, data: MeasureInput, *, notify: bool = True) -> Measure:
    """Register a measure at a jurisdiction for its subtree; refused when it overlaps another measure of the same
    indicator at the same jurisdiction, or relaxes an order from above that forbids it."""
    problems = _validate(data)
    if problems:
        raise AccordError("the measure is not valid", problems)
    place = places.get(session, data.jurisdiction)
    if not actor.can(APPROVERS):
        raise Forbidden(f"{actor.username} may not issue measures: only coordinators and administrators may")
    auth.require_scope(session, actor, place.id, place.code, "issue measures")
    clash = session.scalar(
        select(Measure)
        .where(Measure.jurisdiction_id == place.id, Measure.indicator == data.indicator)
        .where(overlapping(data.start, data.end))
        .order_by(Measure.start)
        .limit(1)
    )
    if clash is not None:
        raise Conflict(
            "the measure overlaps another one at the same jurisdiction",
            [Problem(f"it overlaps {describe_measure(clash, place.code)}; end that one first", field="start")],
        )
    blocker = _forbidding_order(session, place, data)
    if blocker is not None:
        m, code = blocker
        raise Conflict(
            "the measure relaxes an order from above that forbids local relaxation",
            [Problem(f"{describe_measure(m, code)} does not allow a lower level below it", field="level")],
        )
    m = Measure(
        jurisdiction_id=place.id,
        indicator=data.indicator,
        level=data.level,
        targeted=data.targeted,
        start=data.start,
        end=data.end,
        allow_relaxation=data.allow_relaxation,
        kind=data.kind,
        notes=data.notes,
        source=data.source,
        issued_by=actor.user_id,
        created_at=utcnow(),
    )
    session.add(m)
    session.flush()
    if notify and data.kind == "directive":
        _notify_subtree(session, place.id, m.id)
    auth.audit(session, actor.user_id, "policy.measure.add", place.code, {"measure": m.id})
    return m


def _forbidding_order(session: Session, place: Jurisdiction, data: MeasureInput) -> tuple[Measure, str] | None:
    rows = session.execute(
        select(Measure, JurisdictionClosure.distance, Jurisdiction.code, Jurisdiction.depth)
        .join(JurisdictionClosure, JurisdictionClosure.ancestor_id == Measure.jurisdiction_id)
        .join(Jurisdiction, Jurisdiction.id == Measure.jurisdiction_id)
        .where(JurisdictionClosure.descendant_id == place.id, JurisdictionClosure.distance > 0)
        .where(Measure.indicator == data.indicator)
        .where(overlapping(data.start, data.end))
    ).all()
    if not rows:
        return None
    steps = [path_step(m, depth) for m, _, _, depth in rows]
    new_score = float(indices.strictness(data.indicator, [data.level], [data.targeted])[0])
    blocker = directives.forbidden_relaxation(steps, new_score)
    if blocker is None:
        return None
    for m, _, code, _ in rows:
        if m.id == blocker.measure_id:
            return m, code
    return None  # pragma: no cover - the blocker is one of the rows


def path_step(m: Measure, depth: int) -> directives.Step:
    score = float(indices.strictness(m.indicator, [m.level], [m.targeted])[0])
    return directives.Step(m.id, depth, score, m.allow_relaxation)


def _notify_subtree(session: Session, jid: int, measure_id: int) -> int:
    """One inbox entry for every jurisdiction of the subtree, the issuer included (one bulk insert)."""
    now = utcnow()
    ids = list(session.scalars(select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == jid)))
    if ids:
        session.execute(
            insert(Notice), [{"jurisdiction_id": i, "measure_id": measure_id, "created_at": now} for i in ids]
        )
    return len(ids)


def end_measure(session: Session, actor: Actor, measure_id: int, end: dt.date) -> Measure:
    """Set the last day of a measure (lifting it). The inboxes of its subtree hear about it."""
    m = session.get(Measure, measure_id)
    if m is None:
        raise NotFound(f"no measure {measure_id}")
    place = session.get(Jurisdiction, m.jurisdiction_id)
    assert place is not None
    if not actor.can(APPROVERS):
        raise Forbidden(f"{actor.username} may not end measures: only coordinators and administrators may")
    auth.require_scope(session, actor, place.id, place.code, "end measures")
    if end < m.start:
        raise AccordError("the end is not valid", [Problem(f"{end} is before the start {m.start}", field="end")])
    m.end = end
    if m.kind == "directive":
        _notify_subtree(session, place.id, m.id)
    auth.audit(session, actor.user_id, "policy.measure.end", place.code, {"measure": m.id, "end": end.isoformat()})
    return m


def measure_dict(m: Measure, code: str, name: str) -> dict[str, Any]:
    ind = indices.INDICATORS[m.indicator]
    return {
        "id": m.id,
        "jurisdiction": code,
        "jurisdiction_name": name,
        "indicator": m.indicator,
        "indicator_name": ind.name,
        "level": m.level,
        "level_label": ind.levels[m.level],
        "targeted": m.targeted,
        "start": m.start.isoformat(),
        "end": m.end.isoformat() if m.end else None,
        "allow_relaxation": m.allow_relaxation,
        "kind": m.kind,
        "notes": m.notes,
        "source": m.source,
        "created_at": m.created_at.isoformat(),
    }


def list_measures(
    session: Session,
    code: str | None = None,
    *,
    indicator: str | None = None,
    on: dt.date | None = None,
    kind: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Measures issued at ``code`` (all jurisdictions when None), newest start first, and how many in all."""
    q = select(Measure, Jurisdiction.code, Jurisdiction.name).join(
        Jurisdiction, Jurisdiction.id == Measure.jurisdiction_id
    )
    if code is not None:
        q = q.where(Measure.jurisdiction_id == places.get(session, code).id)
    if indicator is not None:
        if indicator not in indices.INDICATORS:
            raise AccordError("unknown indicator", [Problem(f"'{indicator}' is not an OxCGRT code", field="indicator")])
        q = q.where(Measure.indicator == indicator)
    if on is not None:
        q = q.where(overlapping(on, on))
    if kind is not None:
        q = q.where(Measure.kind == kind)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(q.order_by(Measure.start.desc(), Measure.id.desc()).limit(limit).offset(offset)).all()
    return [measure_dict(m, c, n) for m, c, n in rows], total


def inbox(
    session: Session, actor: Actor, code: str, *, unread_only: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    """The directives that reached a jurisdiction (issued at it or above), newest first."""
    place = places.get(session, code)
    auth.require_scope(session, actor, place.id, place.code, "read the inbox")
    q = (
        select(Notice, Measure, Jurisdiction.code, Jurisdiction.name)
        .join(Measure, Measure.id == Notice.measure_id)
        .join(Jurisdiction, Jurisdiction.id == Measure.jurisdiction_id)
        .where(Notice.jurisdiction_id == place.id)
    )
    if unread_only:
        q = q.where(Notice.read_at.is_(None))
    rows = session.execute(q.order_by(Notice.id.desc()).limit(limit)).all()
    return [
        {
            "id": n.id,
            "received_at": n.created_at.isoformat(),
            "read_at": n.read_at.isoformat() if n.read_at else None,
            "measure": measure_dict(m, c, name),
        }
        for n, m, c, name in rows
    ]


def mark_read(session: Session, actor: Actor, code: str) -> int:
    place = places.get(session, code)
    auth.require_scope(session, actor, place.id, place.code, "read the inbox")
    result = session.execute(
        update(Notice).where(Notice.jurisdiction_id == place.id, Notice.read_at.is_(None)).values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)
