"""Risk areas: published rule versions, the daily classification of every jurisdiction at the rule's level
(stored as history), and the levels other capabilities read (health codes). The rule is pure, in
:mod:`accord.policy.risk`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import APPROVERS, Actor
from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.policy import risk
from accord.policy.model import RiskArea, RiskRuleRow
from accord.surveillance import service as surveillance


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
    frame = _classified(session, root_code, start, end, rule, tree, regions)
    if store:
        _store_classification(session, actor, rule, frame, np.repeat(tree.ids[regions], (end - start).days + 1))
        auth.audit(
            session,
            actor.user_id,
            "policy.risk.classify",
            root_code,
            {"rule": rule.version, "start": start.isoformat(), "end": end.isoformat(), "regions": len(regions)},
        )
    return Classification(rule, frame)


def _classified(
    session: Session,
    root_code: str,
    start: dt.date,
    end: dt.date,
    rule: risk.RiskRule,
    tree: _Tree,
    regions: np.ndarray,
) -> pd.DataFrame:
    """One row per region and day: its level, cases over the window and cluster flag, from the daily cases of
    the regions and of the units (leaves) below them, the window's first days read before ``start``."""
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
    return pd.DataFrame(
        {
            "jurisdiction": np.repeat(tree.codes[regions], n_days),
            "jurisdiction_name": np.repeat(tree.names[regions], n_days),
            "date": np.tile(dates, len(regions)),
            "level": levels.ravel(),
            "cases_14d": cases.ravel(),
            "cluster": cluster.ravel(),
        }
    )


def _store_classification(
    session: Session, actor: Actor, rule: risk.RiskRule, frame: pd.DataFrame, ids: np.ndarray
) -> None:
    """Append the classification to the history (``ids``: the jurisdiction of each row), its rule on record."""
    _keep_rule(session, actor, rule)
    now = utcnow()
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
        for j, d, lv, c, k in zip(ids, frame["date"], frame["level"], frame["cases_14d"], frame["cluster"], strict=True)
    ]
    for chunk in range(0, len(rows), 10000):
        session.execute(insert(RiskArea), rows[chunk : chunk + 10000])


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
