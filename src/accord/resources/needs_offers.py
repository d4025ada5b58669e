"""Needs (what a jurisdiction lacks, by when, how urgently) and offers (what one can give, on what terms),
with where each stands: open, matched, dispatched, received, closed.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import APPROVERS, SUBMITTERS, Actor
from accord.db import utcnow
from accord.errors import AccordError, Conflict, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.resources import catalog
from accord.resources.catalog_store import quantity_in_unit, resource_of
from accord.resources.checks import parse_day, place_named, require_role
from accord.resources.ledger import AccountKind
from accord.resources.ledger_store import account
from accord.resources.model import Need, Offer, ResourceType, Shipment

TERMS = ("donation", "sale")
MAX_PRIORITY = 5


def status_of(quantity: int, allocated: int, dispatched: int, received: int, closed: bool) -> str:
    """Where a need or offer stands; partial fulfilment shows as ``remaining`` beside it."""
    if closed or (quantity > 0 and received >= quantity):
        return "closed"
    if received > 0:
        return "received"
    if dispatched > 0:
        return "dispatched"
    if allocated > 0:
        return "matched"
    return "open"


def post_need(
    session: Session,
    actor: Actor,
    code: str,
    resource: str,
    quantity: object,
    *,
    unit: str | None = None,
    by_date: date | str | None = None,
    priority: int = 1,
    justification: str = "",
    today: date | None = None,
) -> Need:
    require_role(actor, SUBMITTERS, "post needs")
    j = place_named(session, code)
    auth.require_scope(session, actor, j.id, j.code, "post a need")
    r = resource_of(session, resource)
    milli = quantity_in_unit(r, quantity, unit)
    problems = []
    if milli <= 0:
        problems.append(Problem("the quantity needed must be more than zero", field="quantity"))
    if not (1 <= int(priority) <= MAX_PRIORITY):
        problems.append(
            Problem(f"priority is 1 (normal) to {MAX_PRIORITY} (most urgent), not {priority}", field="priority")
        )
    if not justification.strip():
        problems.append(Problem("say why it is needed", field="justification"))
    if problems:
        raise AccordError("invalid need", problems)
    today = today or utcnow().date()
    need = Need(
        jurisdiction_id=j.id,
        resource_id=r.id,
        quantity=milli,
        by_date=parse_day(by_date, today, "by_date"),
        priority=int(priority),
        justification=justification.strip()[:2000],
        allocated=0,
        received=0,
        created_by=actor.user_id,
    )
    session.add(need)
    session.flush()
    auth.audit(session, actor.user_id, "resources.need", j.code, {"need": need.id, "resource": r.code})
    return need


def post_offer(
    session: Session,
    actor: Actor,
    code: str,
    resource: str,
    quantity: object,
    *,
    unit: str | None = None,
    from_date: date | str | None = None,
    terms: str = "donation",
    unit_price: float = 0.0,
    earmark: str | None = None,
    partners_only: bool = False,
    source: str = "stock",
    warehouse: str = "main",
    today: date | None = None,
) -> Offer:
    """Offer units from one of the jurisdiction's holding accounts (its stock or its stockpile)."""
    require_role(actor, SUBMITTERS, "post offers")
    j = place_named(session, code)
    auth.require_scope(session, actor, j.id, j.code, "post an offer")
    r = resource_of(session, resource)
    milli = quantity_in_unit(r, quantity, unit)
    problems = []
    if milli <= 0:
        problems.append(Problem("the quantity offered must be more than zero", field="quantity"))
    if terms not in TERMS:
        problems.append(Problem(f"terms are donation or sale, not '{terms}'", field="terms"))
    price = catalog.parse_quantity(unit_price, field="unit_price")
    if source not in (AccountKind.STOCK, AccountKind.STOCKPILE):
        problems.append(Problem(f"an offer is taken from stock or stockpile, not '{source}'", field="source"))
    if problems:
        raise AccordError("invalid offer", problems)
    mark = place_named(session, earmark, field="earmark") if earmark else None
    acc = account(session, AccountKind(source), j.id, warehouse)
    offer = Offer(
        jurisdiction_id=j.id,
        resource_id=r.id,
        account_id=acc.id,
        quantity=milli,
        from_date=parse_day(from_date, today or utcnow().date(), "from_date"),
        terms=terms,
        unit_price=price,
        earmark_id=mark.id if mark else None,
        partners_only=bool(partners_only),
        allocated=0,
        received=0,
        created_by=actor.user_id,
    )
    session.add(offer)
    session.flush()
    auth.audit(session, actor.user_id, "resources.offer", j.code, {"offer": offer.id, "resource": r.code})
    return offer


_Closable = TypeVar("_Closable", Need, Offer)


def close_need(session: Session, actor: Actor, need_id: int) -> Need:
    return _close(session, actor, Need, need_id, "need", "close a need")


def close_offer(session: Session, actor: Actor, offer_id: int) -> Offer:
    return _close(session, actor, Offer, offer_id, "offer", "withdraw an offer")


def _close(session: Session, actor: Actor, model: type[_Closable], item_id: int, noun: str, action: str) -> _Closable:
    """Close a need or an offer once, by a coordinator or admin whose scope covers its jurisdiction (closing
    withdraws it from every allocation: a decision, not a data entry)."""
    require_role(actor, APPROVERS, action)
    item = session.get(model, item_id)
    if item is None:
        raise NotFound(f"no {noun} {item_id}")
    code = places.code_of(session, item.jurisdiction_id) or ""
    auth.require_scope(session, actor, item.jurisdiction_id, code, action)
    if item.closed_at is not None:
        raise Conflict(f"{noun} {item_id} is already closed")
    item.closed_at = utcnow()
    return item


def _dispatched(session: Session, column: Any, ids: list[int], today: date) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(column, func.sum(Shipment.quantity))
        .where(column.in_(ids), Shipment.status != "planned", Shipment.depart_day <= today)
        .group_by(column)
    ).all()
    return {int(k): int(v) for k, v in rows}


NEED_COLUMNS = [
    "id",
    "jurisdiction",
    "jurisdiction_name",
    "resource",
    "unit",
    "quantity",
    "allocated",
    "received",
    "remaining",
    "by_date",
    "priority",
    "status",
    "justification",
]
OFFER_COLUMNS = [
    "id",
    "jurisdiction",
    "jurisdiction_name",
    "resource",
    "unit",
    "quantity",
    "allocated",
    "received",
    "remaining",
    "from_date",
    "terms",
    "unit_price",
    "earmark",
    "partners_only",
    "status",
]


def needs_frame(session: Session, root_code: str, status: str | None = None, today: date | None = None) -> pd.DataFrame:
    out = [
        {
            **shared,
            "by_date": n.by_date.isoformat(),
            "priority": n.priority,
            "justification": n.justification,
        }
        for n, shared in _postings(session, Need, Shipment.need_id, root_code, today)
    ]
    frame = pd.DataFrame(out, columns=NEED_COLUMNS)
    return frame[frame["status"] == status].reset_index(drop=True) if status else frame


def offers_frame(
    session: Session, root_code: str, status: str | None = None, today: date | None = None
) -> pd.DataFrame:
    out = [
        {
            **shared,
            "from_date": o.from_date.isoformat(),
            "terms": o.terms,
            "unit_price": o.unit_price,
            "earmark": places.code_of(session, o.earmark_id) if o.earmark_id else None,
            "partners_only": o.partners_only,
        }
        for o, shared in _postings(session, Offer, Shipment.offer_id, root_code, today)
    ]
    frame = pd.DataFrame(out, columns=OFFER_COLUMNS)
    return frame[frame["status"] == status].reset_index(drop=True) if status else frame


def _postings(
    session: Session, model: Any, shipped: Any, root_code: str, today: date | None
) -> list[tuple[Any, dict[str, Any]]]:
    """The needs (or offers) of a subtree, oldest first, each with the fields both kinds share: where, what,
    the quantities and the status derived from them (``shipped``: the shipment column that points at them)."""
    root = places.get(session, root_code)
    today = today or utcnow().date()
    sub = select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root.id)
    rows = session.execute(
        select(model, Jurisdiction.code, Jurisdiction.name, ResourceType.code, ResourceType.unit)
        .join(Jurisdiction, Jurisdiction.id == model.jurisdiction_id)
        .join(ResourceType, ResourceType.id == model.resource_id)
        .where(model.jurisdiction_id.in_(sub))
        .order_by(model.id)
    ).all()
    sent = _dispatched(session, shipped, [r.id for r, *_ in rows], today)
    out = []
    for r, code, name, rcode, unit in rows:
        shared = {
            "id": r.id,
            "jurisdiction": code,
            "jurisdiction_name": name,
            "resource": rcode,
            "unit": unit,
            "quantity": r.quantity / catalog.SCALE,
            "allocated": r.allocated / catalog.SCALE,
            "received": r.received / catalog.SCALE,
            "remaining": max(r.quantity - r.allocated, 0) / catalog.SCALE,
            "status": status_of(r.quantity, r.allocated, sent.get(r.id, 0), r.received, r.closed_at is not None),
        }
        out.append((r, shared))
    return out
