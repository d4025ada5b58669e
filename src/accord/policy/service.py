"""Use cases of the policy capability: the measures registry, directives down the tree and their inboxes, OxCGRT
import, and the daily risk-area classification. Each public function runs inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import APPROVERS, Actor
from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.policy import directives, indices, oxcgrt, risk
from accord.policy.model import KINDS, IndexValue, Measure, Notice, RiskArea, RiskRuleRow
from accord.surveillance import service as surveillance

FAR_FUTURE = dt.date(9999, 12, 31)


# ------------------------------------------------------------------------------------------------ measures
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


def _describe(m: Measure, code: str) -> str:
    until = f"to {m.end.isoformat()}" if m.end else "until further notice"
    scope = "targeted" if m.targeted else "general"
    return f"measure {m.id} ({m.indicator} level {m.level} {scope} at '{code}', {m.start.isoformat()} {until})"


def _overlapping(start: dt.date, end: dt.date | None) -> Any:
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
        .where(_overlapping(data.start, data.end))
        .order_by(Measure.start)
        .limit(1)
    )
    if clash is not None:
        raise Conflict(
            "the measure overlaps another one at the same jurisdiction",
            [Problem(f"it overlaps {_describe(clash, place.code)}; end that one first", field="start")],
        )
    blocker = _forbidding_order(session, place, data)
    if blocker is not None:
        m, code = blocker
        raise Conflict(
            "the measure relaxes an order from above that forbids local relaxation",
            [Problem(f"{_describe(m, code)} does not allow a lower level below it", field="level")],
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
        .where(_overlapping(data.start, data.end))
    ).all()
    if not rows:
        return None
    steps = [_step(m, depth) for m, _, _, depth in rows]
    new_score = float(indices.strictness(data.indicator, [data.level], [data.targeted])[0])
    blocker = directives.forbidden_relaxation(steps, new_score)
    if blocker is None:
        return None
    for m, _, code, _ in rows:
        if m.id == blocker.measure_id:
            return m, code
    return None  # pragma: no cover - the blocker is one of the rows


def _step(m: Measure, depth: int) -> directives.Step:
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
        q = q.where(_overlapping(on, on))
    if kind is not None:
        q = q.where(Measure.kind == kind)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(q.order_by(Measure.start.desc(), Measure.id.desc()).limit(limit).offset(offset)).all()
    return [measure_dict(m, c, n) for m, c, n in rows], total


# ------------------------------------------------------------------------------------------------ in force
@dataclass
class InForce:
    indicator: str
    level: int
    targeted: bool
    measure: dict[str, Any]  # the measure in force, with who ordered it (its jurisdiction)
    overridden: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "indicator_name": indices.INDICATORS[self.indicator].name,
            "level": self.level,
            "level_label": indices.INDICATORS[self.indicator].levels[self.level],
            "targeted": self.targeted,
            "ordered_by": self.measure["jurisdiction"],
            "ordered_by_name": self.measure["jurisdiction_name"],
            "measure": self.measure,
            "overridden": self.overridden,
        }


def _path_measures(session: Session, jid: int, start: dt.date, end: dt.date) -> list[tuple[Measure, int, str, str]]:
    """Every measure on the path root..place overlapping [start, end]: (measure, depth, code, name)."""
    return [
        (m, depth, code, name)
        for m, depth, code, name in session.execute(
            select(Measure, Jurisdiction.depth, Jurisdiction.code, Jurisdiction.name)
            .join(JurisdictionClosure, JurisdictionClosure.ancestor_id == Measure.jurisdiction_id)
            .join(Jurisdiction, Jurisdiction.id == Measure.jurisdiction_id)
            .where(JurisdictionClosure.descendant_id == jid)
            .where(_overlapping(start, end))
        )
    ]


def in_force(session: Session, code: str, on: dt.date) -> list[InForce]:
    """What is in force at a place on a day, one entry per indicator, each with the jurisdiction that ordered it
    and the measures on the path it overrides (strictest on the path unless relaxation is allowed)."""
    place = places.get(session, code)
    rows = _path_measures(session, place.id, on, on)
    by_id = {m.id: (m, c, n) for m, _, c, n in rows}
    out = []
    for ind in indices.CODES:
        steps = [_step(m, depth) for m, depth, _, _ in rows if m.indicator == ind]
        if not steps:
            continue
        current, overridden = directives.effective_on_path(steps)
        assert current is not None
        m, c, n = by_id[current.measure_id]
        out.append(
            InForce(
                indicator=ind,
                level=m.level,
                targeted=m.targeted,
                measure=measure_dict(m, c, n),
                overridden=[measure_dict(*by_id[s.measure_id]) for s in overridden],
            )
        )
    return out


def levels_over_time(session: Session, code: str, start: dt.date, end: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily (levels, flags) in force at a place, indexed by date, one column per indicator code (0 where
    nothing is in force): the input of :func:`accord.policy.indices.compute_indices`."""
    place = places.get(session, code)
    rows = _path_measures(session, place.id, start, end)
    days = pd.date_range(start, end, freq="D").date
    levels = pd.DataFrame(0.0, index=pd.Index(days, name="date"), columns=list(indices.CODES))
    flags = pd.DataFrame(np.nan, index=levels.index, columns=list(indices.CODES))
    for ind in indices.CODES:
        mine = [(m, depth) for m, depth, _, _ in rows if m.indicator == ind]
        if not mine:
            continue
        col = list(indices.CODES).index(ind)
        for i, day in enumerate(days):
            steps = [_step(m, depth) for m, depth in mine if m.start <= day and (m.end is None or m.end >= day)]
            current, _ = directives.effective_on_path(steps)
            if current is not None:
                m = next(m for m, _ in mine if m.id == current.measure_id)
                levels.iloc[i, col] = m.level
                flags.iloc[i, col] = 0.0 if m.targeted else 1.0
    return levels, flags


def index_series(session: Session, code: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per day: the indices computed from the registry at a place, beside the published values stored for it
    (OxCGRT import). Columns ``date, index, computed, published``."""
    levels, flags = levels_over_time(session, code, start, end)
    computed = indices.compute_indices(levels, flags)
    long = computed.reset_index().melt(id_vars="date", var_name="index", value_name="computed")
    place = places.get(session, code)
    published = pd.DataFrame(
        session.execute(
            select(IndexValue.date, IndexValue.index, IndexValue.value).where(
                IndexValue.jurisdiction_id == place.id, IndexValue.date >= start, IndexValue.date <= end
            )
        ).all(),
        columns=["date", "index", "published"],
    )
    return long.merge(published, on=["date", "index"], how="left").sort_values(["index", "date"]).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------- inbox
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


# ---------------------------------------------------------------------------------------------- OxCGRT import
@dataclass
class OxcgrtImport:
    kind: str  # "measures" or "indices"
    regions: list[str]  # Accord codes imported
    skipped: list[str]  # OxCGRT regions not in the tree
    measures: int = 0
    index_values: int = 0
    replaced: int = 0


def import_oxcgrt(
    session: Session, actor: Actor, path: Path, country_codes: dict[str, str] | None = None
) -> OxcgrtImport:
    """Import an OxCGRT file: per-indicator rows become recorded measures (runs of equal days), index time series
    become stored index values. Regions map to jurisdictions by :func:`accord.policy.oxcgrt.accord_code`
    (``country_codes`` e.g. ``{"CHN": "CN"}``); regions not in the tree are skipped and listed. A second import
    of the same file replaces what the first one stored (same source); all or nothing."""
    if not actor.can(APPROVERS) or not actor.unrestricted:
        raise Forbidden(f"{actor.username} may not import OxCGRT files: only an administrator of the whole tree may")
    with path.open("r", encoding="utf-8-sig") as fh:
        header = fh.readline()
    source = f"OxCGRT {path.name}"
    if "Jurisdiction" in header and re.search(r"(^|,)\d{2}[A-Za-z]{3}\d{4}(,|$)", header.strip().replace('"', "")):
        return _import_indices(session, path, source, country_codes)
    return _import_measures(session, path, source, country_codes)


def _map_regions(
    session: Session, regions: pd.Series, country_codes: dict[str, str] | None
) -> tuple[dict[str, int], list[str]]:
    index = places.load_index(session)
    found: dict[str, int] = {}
    skipped = []
    for region in sorted(set(regions)):
        jid = index.id_of(oxcgrt.accord_code(region, country_codes))
        if jid is None:
            skipped.append(region)
        else:
            found[region] = jid
    return found, skipped


def _import_measures(session: Session, path: Path, source: str, country_codes: dict[str, str] | None) -> OxcgrtImport:
    long = oxcgrt.read_oxcgrt(path)
    mapping, skipped = _map_regions(session, long["region"], country_codes)
    runs = oxcgrt.runs(long[long["region"].isin(list(mapping))])
    jids = sorted(set(mapping.values()))
    replaced = 0
    if jids:
        result = session.execute(
            delete(Measure).where(
                Measure.jurisdiction_id.in_(jids), Measure.kind == "recorded", Measure.source == source
            )
        )
        replaced = int(getattr(result, "rowcount", 0) or 0)
    runs["jurisdiction_id"] = runs["region"].map(mapping)
    _refuse_clashes(session, runs)
    now = utcnow()
    rows = [
        {
            "jurisdiction_id": int(jid),
            "indicator": str(ind),
            "level": int(level),
            "targeted": bool(flag == 0) if not pd.isna(flag) else False,
            "start": start,
            "end": end,
            "allow_relaxation": True,
            "kind": "recorded",
            "notes": None,
            "source": source,
            "issued_by": None,
            "created_at": now,
        }
        for jid, ind, level, flag, start, end in zip(
            runs["jurisdiction_id"],
            runs["indicator"],
            runs["level"],
            runs["flag"],
            runs["start"],
            runs["end"],
            strict=True,
        )
    ]
    for chunk in range(0, len(rows), 5000):
        session.execute(insert(Measure), rows[chunk : chunk + 5000])
    code_of = {v: k for k, v in places.load_index(session).by_code.items()}
    return OxcgrtImport("measures", [code_of[j] for j in jids], skipped, measures=len(rows), replaced=replaced)


def _refuse_clashes(session: Session, runs: pd.DataFrame) -> None:
    """Recorded runs may not overlap measures already registered at the same jurisdiction (directives)."""
    if runs.empty:
        return
    existing = pd.DataFrame(
        session.execute(
            select(Measure.id, Measure.jurisdiction_id, Measure.indicator, Measure.start, Measure.end).where(
                Measure.jurisdiction_id.in_(sorted(set(runs["jurisdiction_id"].astype(int))))
            )
        ).all(),
        columns=["id", "jurisdiction_id", "indicator", "m_start", "m_end"],
    )
    if existing.empty:
        return
    both = runs.merge(existing, on=["jurisdiction_id", "indicator"])
    m_end = both["m_end"].where(both["m_end"].notna(), FAR_FUTURE)
    clash = both[(both["start"] <= m_end) & (both["end"] >= both["m_start"])]
    if not clash.empty:
        first = clash.iloc[0]
        m = session.get(Measure, int(first["id"]))
        assert m is not None
        code = places.code_of(session, m.jurisdiction_id) or "?"
        raise Conflict(
            "the OxCGRT history overlaps measures already registered",
            [Problem(f"{first['region']} {first['indicator']} from {first['start']} overlaps {_describe(m, code)}")],
        )


def _import_indices(session: Session, path: Path, source: str, country_codes: dict[str, str] | None) -> OxcgrtImport:
    long = oxcgrt.read_index_timeseries(path)
    long = long[long["jurisdiction"].isin(["NAT_TOTAL", "STATE_TOTAL"])]
    mapping, skipped = _map_regions(session, long["region"], country_codes)
    data = long[long["region"].isin(list(mapping))]
    jids = sorted(set(mapping.values()))
    index_names = sorted(set(data["index"]))
    replaced = 0
    if jids:
        result = session.execute(
            delete(IndexValue).where(IndexValue.jurisdiction_id.in_(jids), IndexValue.index.in_(index_names))
        )
        replaced = int(getattr(result, "rowcount", 0) or 0)
    rows = [
        {"jurisdiction_id": mapping[r], "index": i, "date": d, "value": float(v), "source": source}
        for r, i, d, v in zip(data["region"], data["index"], data["date"], data["value"], strict=True)
    ]
    for chunk in range(0, len(rows), 10000):
        session.execute(insert(IndexValue), rows[chunk : chunk + 10000])
    code_of = {v: k for k, v in places.load_index(session).by_code.items()}
    return OxcgrtImport("indices", [code_of[j] for j in jids], skipped, index_values=len(rows), replaced=replaced)


# --------------------------------------------------------------------------------------------------- risk areas
def current_rule(session: Session, version: str | None = None) -> risk.RiskRule:
    """The rule of that version, or the latest published one, or the built-in default."""
    q = select(RiskRuleRow)
    q = q.where(RiskRuleRow.version == version) if version else q.order_by(RiskRuleRow.created_at.desc())
    row = session.scalars(q.limit(1)).first()
    if row is None:
        if version and version != risk.DEFAULT_RULE.version:
            raise NotFound(f"no risk rule version '{version}'")
        return risk.DEFAULT_RULE
    return risk.RiskRule.from_dict(row.params)


def publish_rule(session: Session, actor: Actor, rule: risk.RiskRule) -> risk.RiskRule:
    """Publish a new rule version (versions are immutable: a change needs a new version name)."""
    if not actor.can(APPROVERS) or not actor.unrestricted:
        raise Forbidden(f"{actor.username} may not publish risk rules: only an administrator of the whole tree may")
    if rule.version == risk.DEFAULT_RULE.version and rule != risk.DEFAULT_RULE:
        raise Conflict(f"version '{rule.version}' is the built-in default; give the changed rule a new version")
    existing = session.get(RiskRuleRow, rule.version)
    if existing is not None:
        if existing.params == rule.as_dict():
            return rule
        raise Conflict(f"risk rule version '{rule.version}' is already published with other parameters")
    session.add(RiskRuleRow(version=rule.version, params=rule.as_dict(), created_at=utcnow(), created_by=actor.user_id))
    auth.audit(session, actor.user_id, "policy.risk.rule", rule.version, rule.as_dict())
    session.flush()
    return rule


def _keep_rule(session: Session, actor: Actor, rule: risk.RiskRule) -> None:
    """Every stored classification names a rule version whose parameters are on record."""
    existing = session.get(RiskRuleRow, rule.version)
    if existing is None:
        session.add(
            RiskRuleRow(version=rule.version, params=rule.as_dict(), created_at=utcnow(), created_by=actor.user_id)
        )
        session.flush()
    elif existing.params != rule.as_dict():
        raise Conflict(f"risk rule version '{rule.version}' is already published with other parameters")


def list_rules(session: Session) -> list[dict[str, Any]]:
    rows = list(session.scalars(select(RiskRuleRow).order_by(RiskRuleRow.created_at)))
    out: list[dict[str, Any]] = [
        {"version": r.version, "params": r.params, "created_at": r.created_at.isoformat()} for r in rows
    ]
    if not any(r["version"] == risk.DEFAULT_RULE.version for r in out):
        out.insert(0, {"version": risk.DEFAULT_RULE.version, "params": risk.DEFAULT_RULE.as_dict(), "created_at": None})
    for r in out:
        r["description"] = risk.RiskRule.from_dict(r["params"]).describe()
    return out


@dataclass(frozen=True)
class _Tree:
    ids: np.ndarray
    codes: np.ndarray
    names: np.ndarray
    levels: np.ndarray
    parent_pos: np.ndarray  # position of the parent in these arrays, -1 for the root of the subtree


def _subtree(session: Session, root_code: str) -> _Tree:
    root = places.get(session, root_code)
    rows = session.execute(
        select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.level, Jurisdiction.parent_id)
        .join(JurisdictionClosure, JurisdictionClosure.descendant_id == Jurisdiction.id)
        .where(JurisdictionClosure.ancestor_id == root.id)
        .order_by(Jurisdiction.depth, Jurisdiction.id)
    ).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    pos = {int(j): i for i, j in enumerate(ids)}
    parent_pos = np.array(
        [pos.get(r[4], -1) if r[0] != root.id and r[4] is not None else -1 for r in rows], dtype=np.int64
    )
    return _Tree(
        ids,
        np.array([r[1] for r in rows], dtype=object),
        np.array([r[2] for r in rows], dtype=object),
        np.array([r[3] for r in rows], dtype=object),
        parent_pos,
    )


def _region_of(tree: _Tree, level: str) -> np.ndarray:
    """For every node, the position of its ancestor-or-self at ``level`` (-1 when none)."""
    region = np.where(tree.levels == level, np.arange(len(tree.ids)), -1)
    up = tree.parent_pos.copy()
    for _ in range(64):  # climb one level per pass, all nodes at once
        todo = (region < 0) & (up >= 0)
        if not todo.any():
            break
        hit = todo & (tree.levels[np.where(up >= 0, up, 0)] == level)
        region[hit] = up[hit]
        up = np.where(todo & ~hit, tree.parent_pos[np.where(up >= 0, up, 0)], -1)
    return region


def _daily_cases(session: Session, root_code: str, start: dt.date, end: dt.date, tree: _Tree) -> np.ndarray:
    """(nodes, days) new confirmed cases (all origins, including provisional reports; missing = 0)."""
    figures = surveillance.figures_at_level(session, root_code, None, ["new_confirmed"], start, end, view="all")
    figures = figures[figures["disaggregation"] == ""]
    days = (end - start).days + 1
    out = np.zeros((len(tree.ids), days), dtype=np.int64)
    if figures.empty:
        return out
    pos = pd.Series(np.arange(len(tree.ids)), index=tree.codes)
    rows = pos.reindex(figures["jurisdiction"]).to_numpy()
    cols = (pd.to_datetime(figures["date"]).dt.date.map(lambda d: (d - start).days)).to_numpy(dtype=np.int64)
    ok = ~np.isnan(rows)
    np.add.at(out, (rows[ok].astype(np.int64), cols[ok]), figures["value"].to_numpy()[ok].round().astype(np.int64))
    return out


@dataclass
class Classification:
    rule: risk.RiskRule
    frame: pd.DataFrame  # jurisdiction, jurisdiction_name, date, level, cases_14d, cluster


def classify(
    session: Session,
    actor: Actor,
    root_code: str,
    start: dt.date,
    end: dt.date | None = None,
    *,
    rule: risk.RiskRule | None = None,
    store: bool = True,
) -> Classification:
    """Classify every jurisdiction at the rule's level under ``root`` for each day from ``start`` to ``end``;
    stored (appended to the history) when ``store``."""
    end = end or start
    if end < start:
        raise AccordError("the dates are not valid", [Problem(f"{end} is before {start}", field="end")])
    if (end - start).days > 3660:
        raise AccordError("the dates are not valid", [Problem("more than ten years at once", field="end")])
    rule = rule or current_rule(session)
    if store:
        if not actor.can(APPROVERS):
            raise Forbidden(f"{actor.username} may not classify risk areas: only coordinators and administrators may")
        root = places.get(session, root_code)
        auth.require_scope(session, actor, root.id, root.code, "classify risk areas")
    tree = _subtree(session, root_code)
    regions = np.flatnonzero(tree.levels == rule.level)
    if not len(regions):
        raise AccordError(
            "nothing to classify",
            [Problem(f"no jurisdiction at level '{rule.level}' under '{root_code}'", field="level")],
        )
    first = start - dt.timedelta(days=rule.window_days - 1)
    daily = _daily_cases(session, root_code, first, end, tree)
    has_child = np.zeros(len(tree.ids), dtype=bool)
    has_child[tree.parent_pos[tree.parent_pos >= 0]] = True
    leaves = np.flatnonzero(~has_child)
    region_of = _region_of(tree, rule.level)
    region_index = pd.Series(np.arange(len(regions)), index=regions)
    unit_region = region_index.reindex(region_of[leaves]).fillna(-1).to_numpy(dtype=np.int64)
    levels, cases, cluster = risk.classify_series(daily[regions], daily[leaves], unit_region, rule)
    skip = rule.window_days - 1  # the first days only fed the window
    levels, cases, cluster = levels[:, skip:], cases[:, skip:], cluster[:, skip:]
    dates = pd.date_range(start, end, freq="D").date
    n_days = len(dates)
    frame = pd.DataFrame(
        {
            "jurisdiction": np.repeat(tree.codes[regions], n_days),
            "jurisdiction_name": np.repeat(tree.names[regions], n_days),
            "date": np.tile(dates, len(regions)),
            "level": levels.ravel(),
            "cases_14d": cases.ravel(),
            "cluster": cluster.ravel(),
        }
    )
    if store:
        _keep_rule(session, actor, rule)
        now = utcnow()
        ids = np.repeat(tree.ids[regions], n_days)
        rows = [
            {
                "jurisdiction_id": int(j),
                "date": d,
                "rule_version": rule.version,
                "level": lv,
                "cases_14d": int(c),
                "cluster": bool(k),
                "computed_at": now,
            }
            for j, d, lv, c, k in zip(
                ids, frame["date"], frame["level"], frame["cases_14d"], frame["cluster"], strict=True
            )
        ]
        for chunk in range(0, len(rows), 10000):
            session.execute(insert(RiskArea), rows[chunk : chunk + 10000])
        auth.audit(
            session,
            actor.user_id,
            "policy.risk.classify",
            root_code,
            {"rule": rule.version, "start": start.isoformat(), "end": end.isoformat(), "regions": len(regions)},
        )
    return Classification(rule, frame)


def risk_table(session: Session, on: dt.date, rule_version: str | None = None) -> pd.DataFrame:
    """The stored classification of a day (latest run per jurisdiction) for one rule version (default: the
    current rule). Columns ``jurisdiction, jurisdiction_name, level, cases_14d, cluster, computed_at``."""
    version = rule_version or current_rule(session).version
    latest = (
        select(RiskArea.jurisdiction_id, func.max(RiskArea.computed_at).label("at"))
        .where(RiskArea.date == on, RiskArea.rule_version == version)
        .group_by(RiskArea.jurisdiction_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Jurisdiction.code,
            Jurisdiction.name,
            RiskArea.level,
            RiskArea.cases_14d,
            RiskArea.cluster,
            RiskArea.computed_at,
        )
        .join(latest, and_(latest.c.jurisdiction_id == RiskArea.jurisdiction_id, latest.c.at == RiskArea.computed_at))
        .join(Jurisdiction, Jurisdiction.id == RiskArea.jurisdiction_id)
        .where(RiskArea.date == on, RiskArea.rule_version == version)
        .order_by(Jurisdiction.code)
    ).all()
    return pd.DataFrame(
        rows, columns=["jurisdiction", "jurisdiction_name", "level", "cases_14d", "cluster", "computed_at"]
    )


def risk_levels(session: Session, on: dt.date) -> dict[str, str]:
    """Jurisdiction code -> 'high' | 'medium' | 'low' on a day, by the current rule: the stored classification
    when that day was classified, else computed now from the surveillance store (not stored), over every tree
    root. Jurisdictions not at the rule's level are absent."""
    table = risk_table(session, on)
    if not table.empty:
        return dict(zip(table["jurisdiction"], table["level"], strict=True))
    rule = current_rule(session)
    roots = session.scalars(select(Jurisdiction.code).where(Jurisdiction.parent_id.is_(None))).all()
    out: dict[str, str] = {}
    for root in roots:
        tree_levels = session.scalar(
            select(func.count())
            .select_from(Jurisdiction)
            .join(JurisdictionClosure, JurisdictionClosure.descendant_id == Jurisdiction.id)
            .where(JurisdictionClosure.ancestor_id == places.get(session, root).id, Jurisdiction.level == rule.level)
        )
        if tree_levels:
            result = classify(session, _READER, root, on, rule=rule, store=False)
            out.update(zip(result.frame["jurisdiction"], result.frame["level"], strict=True))
    return out


_READER = Actor(None, "risk-reader", None, None)


def risk_history(session: Session, code: str, rule_version: str | None = None) -> pd.DataFrame:
    """Every stored classification of one jurisdiction (all runs), oldest day first."""
    place = places.get(session, code)
    q = select(
        RiskArea.date, RiskArea.rule_version, RiskArea.level, RiskArea.cases_14d, RiskArea.cluster, RiskArea.computed_at
    ).where(RiskArea.jurisdiction_id == place.id)
    if rule_version:
        q = q.where(RiskArea.rule_version == rule_version)
    rows = session.execute(q.order_by(RiskArea.date, RiskArea.computed_at)).all()
    return pd.DataFrame(rows, columns=["date", "rule_version", "level", "cases_14d", "cluster", "computed_at"])


def classified_days(session: Session, rule_version: str | None = None) -> list[dt.date]:
    version = rule_version or current_rule(session).version
    return list(
        session.scalars(
            select(RiskArea.date).where(RiskArea.rule_version == version).distinct().order_by(RiskArea.date)
        )
    )
