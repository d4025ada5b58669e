"""The resource catalog as stored: resource types and need rules, seeded from the defaults of
:mod:`accord.resources.catalog` (which holds the pure rules: units, conversions, rule checks).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import APPROVERS, Actor
from accord.errors import AccordError, Conflict, Problem
from accord.resources import catalog
from accord.resources.checks import require_role
from accord.resources.model import NeedRule, ResourceType


def ensure_catalog(session: Session) -> None:
    """Seed the default resource types and need rules (each once; local edits are kept)."""
    known = set(session.scalars(select(ResourceType.code)))
    for r in catalog.DEFAULT_CATALOG:
        if r.code not in known:
            session.add(
                ResourceType(
                    code=r.code, name=r.name, local_name=r.local_name, unit=r.unit, kind=r.kind, category=r.category
                )
            )
    session.flush()
    if session.scalar(select(func.count()).select_from(NeedRule)) == 0:
        ids = resource_ids(session)
        for rule in catalog.DEFAULT_RULES:
            session.add(
                NeedRule(resource_id=ids[rule.resource], basis=rule.basis, per_day=rule.per_day, source=rule.source)
            )
        session.flush()


def resource_ids(session: Session) -> dict[str, int]:
    return {c: i for c, i in session.execute(select(ResourceType.code, ResourceType.id))}


def resource_of(session: Session, code: str, *, field: str = "resource") -> ResourceType:
    ensure_catalog(session)
    r = session.scalar(select(ResourceType).where(ResourceType.code == code.strip()))
    if r is None:
        known = ", ".join(sorted(session.scalars(select(ResourceType.code))))
        raise AccordError("unknown resource", [Problem(f"unknown resource '{code}' (known: {known})", field=field)])
    return r


def add_resource(
    session: Session, actor: Actor, code: str, name: str, unit: str, kind: str, category: str
) -> ResourceType:
    require_role(actor, APPROVERS, "add resource types")
    ensure_catalog(session)
    problems = []
    if not code.strip() or len(code) > 64:
        problems.append(Problem("a code of 1 to 64 characters", field="code"))
    if catalog.canonical_unit(unit) is None:
        problems.append(Problem(f"unknown unit '{unit}'", field="unit"))
    if kind not in set(catalog.Kind):
        problems.append(Problem(f"kind must be reusable or consumable, not '{kind}'", field="kind"))
    if category not in set(catalog.Category):
        problems.append(Problem(f"category must be one of {', '.join(catalog.Category)}", field="category"))
    if problems:
        raise AccordError("invalid resource type", problems)
    if session.scalar(select(ResourceType.id).where(ResourceType.code == code)) is not None:
        raise Conflict(f"resource '{code}' already exists")
    r = ResourceType(
        code=code, name=name, local_name=None, unit=catalog.canonical_unit(unit) or unit, kind=kind, category=category
    )
    session.add(r)
    session.flush()
    return r


def catalog_frame(session: Session) -> pd.DataFrame:
    ensure_catalog(session)
    rows = session.scalars(select(ResourceType).order_by(ResourceType.id)).all()
    return pd.DataFrame(
        [
            {
                "code": r.code,
                "name": r.name,
                "local_name": r.local_name,
                "unit": r.unit,
                "kind": r.kind,
                "category": r.category,
            }
            for r in rows
        ]
    )


def rules(session: Session) -> list[catalog.NeedRule]:
    ensure_catalog(session)
    rows = session.execute(
        select(ResourceType.code, NeedRule.basis, NeedRule.per_day, NeedRule.source)
        .join(ResourceType, ResourceType.id == NeedRule.resource_id)
        .order_by(ResourceType.id, NeedRule.basis)
    ).all()
    return [catalog.NeedRule(c, b, float(p), s) for c, b, p, s in rows]


def rules_frame(session: Session) -> pd.DataFrame:
    return pd.DataFrame(
        [{"resource": r.resource, "basis": r.basis, "per_day": r.per_day, "source": r.source} for r in rules(session)],
        columns=["resource", "basis", "per_day", "source"],
    )


def set_rules(session: Session, actor: Actor, frame: pd.DataFrame, file: str = "rules.csv") -> int:
    """Replace or add need rules from rows ``resource,basis,per_day,source`` (all checked before any is written)."""
    require_role(actor, APPROVERS, "change need rules")
    ensure_catalog(session)
    ids = resource_ids(session)
    missing = {"resource", "basis", "per_day"} - set(frame.columns)
    if missing:
        raise AccordError("invalid rules file", [Problem(f"missing column(s) {', '.join(sorted(missing))}", file, 1)])
    problems: list[Problem] = []
    parsed = []
    for i, rec in enumerate(frame.to_dict(orient="records")):
        line = i + 2
        try:
            per_day = catalog.parse_quantity(rec["per_day"], field="per_day", line=line, file=file)
        except AccordError as exc:
            problems.extend(exc.problems)
            continue
        rule = catalog.NeedRule(
            str(rec["resource"]).strip(), str(rec["basis"]).strip(), per_day, str(rec.get("source") or "local setting")
        )
        problems.extend(catalog.validate_rule(rule, set(ids), line, file))
        parsed.append(rule)
    if problems:
        raise AccordError("invalid rules file", problems[:50], total=len(problems))
    for rule in parsed:
        existing = session.scalar(
            select(NeedRule).where(NeedRule.resource_id == ids[rule.resource], NeedRule.basis == rule.basis)
        )
        if existing is None:
            session.add(
                NeedRule(resource_id=ids[rule.resource], basis=rule.basis, per_day=rule.per_day, source=rule.source)
            )
        else:
            existing.per_day, existing.source = rule.per_day, rule.source[:500]
    auth.audit(session, actor.user_id, "resources.rules", None, {"rules": len(parsed)})
    session.flush()
    return len(parsed)


def quantity_in_unit(resource: ResourceType, quantity: object, unit: str | None, *, field: str = "quantity") -> int:
    """A user's quantity (any unambiguous unit) as thousandths of the resource's own unit."""
    q = catalog.parse_quantity(quantity, field=field)
    if unit and unit.strip() and catalog.canonical_unit(unit) != catalog.canonical_unit(resource.unit):
        q *= catalog.conversion_factor(unit, resource.unit, field="unit")
    return catalog.to_milli(q)
