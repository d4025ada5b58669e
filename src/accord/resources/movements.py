"""Stock movements a user books (receipt, donation, transfer, consume, count) and their corrections
(reversals); the transactions of a subtree. Dispatches, arrivals and losses are booked by plans and shipments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import SUBMITTERS, Actor
from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.resources import catalog, ledger
from accord.resources.catalog_store import quantity_in_unit, resource_of
from accord.resources.checks import parse_day, place_named, require_role
from accord.resources.ledger import AccountKind, Leg, Movement
from accord.resources.ledger_store import Posting, account, write
from accord.resources.model import Account, Entry, ResourceType, Transaction


@dataclass(frozen=True)
class Side:
    """One side of a movement as a user names it: an account kind, a jurisdiction code, a warehouse name."""

    kind: AccountKind
    code: str
    name: str = "main"


def _side(value: str, default_code: str | None = None) -> Side:
    """``stock:AR-01[:north-depot]`` or ``supply:AR`` (the kind defaults to stock; the code to ``default_code``)."""
    parts = value.split(":")
    if parts[0] in set(AccountKind):
        kind, rest = AccountKind(parts[0]), parts[1:]
    else:
        kind, rest = AccountKind.STOCK, parts
    code = rest[0] if rest and rest[0] else default_code
    if not code:
        raise AccordError("invalid account", [Problem(f"'{value}' names no jurisdiction", field="account")])
    return Side(kind, code, rest[1] if len(rest) > 1 and rest[1] else "main")


def parse_side(value: str, default_code: str | None = None) -> Side:
    try:
        return _side(value, default_code)
    except ValueError:
        raise AccordError("invalid account", [Problem(f"'{value}' is not kind:code[:name]", field="account")]) from None


def post_movement(
    session: Session,
    actor: Actor,
    movement: str,
    *,
    resource: str,
    quantity: object,
    unit: str | None,
    source: Side,
    target: Side,
    day: date | str | None = None,
    memo: str | None = None,
    today: date | None = None,
) -> Transaction:
    """Book one movement (receipt, donation, transfer, consume, count) after checking role, scope and units."""
    require_role(actor, SUBMITTERS, "book stock movements")
    try:
        mv = Movement(movement)
    except ValueError:
        raise AccordError("unknown movement", [Problem(f"'{movement}' is not a movement", field="movement")]) from None
    if mv in (Movement.DISPATCH, Movement.ARRIVAL, Movement.LOSS, Movement.REVERSAL):
        raise AccordError(
            "movement not allowed here",
            [Problem(f"a {mv} is booked by approving a plan, receiving a shipment or reversing", field="movement")],
        )
    r = resource_of(session, resource)
    milli = quantity_in_unit(r, quantity, unit)
    if milli <= 0:
        raise AccordError("invalid quantity", [Problem("the quantity must be more than zero", field="quantity")])
    when = parse_day(day, today or utcnow().date(), "day")
    src_j, dst_j = place_named(session, source.code, field="from"), place_named(session, target.code, field="to")
    scoped = src_j if source.kind in ledger.ON_HAND else dst_j
    _require_both_sides(session, actor, mv, src_j, dst_j)
    src = account(session, source.kind, src_j.id, source.name)
    dst = account(session, target.kind, dst_j.id, target.name)
    legs = ledger.move(mv, src.id, source.kind, dst.id, target.kind, r.id, milli)
    (tid,) = write(session, actor, [Posting(mv, when, legs, memo)])
    txn = session.get(Transaction, tid)
    assert txn is not None
    auth.audit(session, actor.user_id, f"resources.{mv}", scoped.code, {"txn": txn.id, "resource": r.code})
    return txn


def _require_both_sides(session: Session, actor: Actor, mv: Movement, src: Jurisdiction, dst: Jurisdiction) -> None:
    """A movement books into two accounts, and both belong to jurisdictions in the actor's subtree. Units never
    leave a subtree by a direct transfer: they go through an allocation plan approved by a coordinator whose
    scope covers both ends (then received by the destination), or through the international pool."""
    auth.require_scope(session, actor, src.id, src.code, "book stock")
    if actor.unrestricted or (actor.scope_id is not None and places.is_within(session, actor.scope_id, dst.id)):
        return
    if mv is Movement.TRANSFER:
        raise Forbidden(
            f"{actor.username} may not transfer stock to '{dst.code}': it is outside their jurisdiction; units "
            "go to another jurisdiction through an approved allocation plan"
        )
    auth.require_scope(session, actor, dst.id, dst.code, "book stock")


def reverse_transaction(
    session: Session, actor: Actor, txn_id: int, reason: str, day: date | None = None
) -> Transaction:
    """A correction: a new transaction negating every leg of ``txn_id`` (which stays in the books)."""
    require_role(actor, SUBMITTERS, "correct the ledger")
    if not reason or not reason.strip():
        raise AccordError("a correction needs a reason", [Problem("give the reason for the reversal", field="reason")])
    txn = session.get(Transaction, txn_id)
    if txn is None:
        raise NotFound(f"no transaction {txn_id}")
    if txn.shipment_id is not None:
        raise Conflict(f"transaction {txn_id} belongs to shipment {txn.shipment_id}: correct it with a receipt")
    if txn.reverses_id is not None:
        raise Conflict(f"transaction {txn_id} is itself a reversal; book the movement again instead")
    done = session.scalar(select(Transaction.id).where(Transaction.reverses_id == txn_id))
    if done is not None:
        raise Conflict(f"transaction {txn_id} was already reversed by transaction {done}")
    entries = session.scalars(select(Entry).where(Entry.txn_id == txn_id)).all()
    for e in entries:
        acc = session.get(Account, e.account_id)
        if acc is not None and AccountKind(acc.kind) in ledger.ON_HAND:
            auth.require_scope(
                session, actor, acc.jurisdiction_id, places.code_of(session, acc.jurisdiction_id) or "", "correct stock"
            )
    legs = ledger.reverse([Leg(e.account_id, e.resource_id, int(e.quantity)) for e in entries])
    (rid,) = write(
        session,
        actor,
        [Posting(Movement.REVERSAL, day or txn.day, legs, f"reverses {txn_id}: {reason}", reverses_id=txn_id)],
    )
    rev = session.get(Transaction, rid)
    assert rev is not None
    auth.audit(session, actor.user_id, "resources.reverse", None, {"txn": txn_id, "reversal": rev.id, "reason": reason})
    return rev


def transactions_frame(session: Session, root_code: str, limit: int = 200) -> pd.DataFrame:
    root = places.get(session, root_code)
    sub = select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root.id)
    rows = session.execute(
        select(
            Transaction.id,
            Transaction.kind,
            Transaction.day,
            Transaction.memo,
            Transaction.reverses_id,
            Account.kind,
            Account.name,
            Jurisdiction.code,
            ResourceType.code,
            Entry.quantity,
        )
        .join(Entry, Entry.txn_id == Transaction.id)
        .join(Account, Account.id == Entry.account_id)
        .join(Jurisdiction, Jurisdiction.id == Account.jurisdiction_id)
        .join(ResourceType, ResourceType.id == Entry.resource_id)
        .where(Account.jurisdiction_id.in_(sub))
        .order_by(Transaction.id.desc(), Entry.id)
        .limit(limit)
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "txn",
            "movement",
            "day",
            "memo",
            "reverses",
            "account_kind",
            "account",
            "jurisdiction",
            "resource",
            "q",
        ],
    )
    frame["quantity"] = frame.pop("q").astype(float) / catalog.SCALE
    return frame
