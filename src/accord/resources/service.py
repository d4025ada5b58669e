"""Use cases of resource mobilisation. Each public function runs inside the caller's transaction (the CLI's
``clikit.session_scope``, the API's request session): an error anywhere rolls the whole call back.

The rules live in pure modules (:mod:`catalog`, :mod:`ledger`, :mod:`warning`, :mod:`capacity`; the optimiser in
:mod:`optimiser`); this module reads and writes the tables and checks who may do what.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import APPROVERS, SUBMITTERS, Actor, Role
from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.resources import capacity_reports, catalog, ledger, warning
from accord.resources.ledger import AccountKind, Leg, Movement
from accord.resources.model import (
    Account,
    Balance,
    Entry,
    Need,
    NeedRule,
    Offer,
    Pairing,
    Plan,
    Receipt,
    ResourceType,
    Route,
    Shipment,
    Transaction,
)

TERMS = ("donation", "sale")
MAX_PRIORITY = 5
MAX_HORIZON_DAYS = 120
#: lanes with no stored route: this many days per two steps in the tree (parent-child), and this cost per step
DEFAULT_DAYS_PER_TWO_HOPS = 1
DEFAULT_COST_PER_HOP = 1.0


# ============================================================================================ catalog
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
    _require_role(actor, APPROVERS, "add resource types")
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
    _require_role(actor, APPROVERS, "change need rules")
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


# ============================================================================================ helpers
def _require_role(actor: Actor, roles: frozenset[Role], what: str) -> None:
    if not actor.can(roles):
        raise Forbidden(f"{actor.username} may not {what} (role {actor.role or 'public'})")


def _place(session: Session, code: str, *, field: str = "jurisdiction") -> Jurisdiction:
    j = session.scalar(select(Jurisdiction).where(Jurisdiction.code == code.strip()))
    if j is None:
        raise AccordError("unknown jurisdiction", [Problem(f"no jurisdiction with code '{code}'", field=field)])
    return j


def _day(value: date | str | None, default: date, field: str) -> date:
    if value is None or value == "":
        return default
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise AccordError("invalid date", [Problem(f"'{value}' is not a date (YYYY-MM-DD)", field=field)]) from None


def account(session: Session, kind: AccountKind, jid: int, name: str = "main") -> Account:
    """The account, created on first use."""
    name = (name or "main").strip()[:100]
    acc = session.scalar(
        select(Account).where(Account.kind == kind.value, Account.jurisdiction_id == jid, Account.name == name)
    )
    if acc is None:
        acc = Account(kind=kind.value, jurisdiction_id=jid, name=name)
        session.add(acc)
        session.flush()
    return acc


def subtree_ids(session: Session, root_id: int) -> list[int]:
    return list(
        session.scalars(select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root_id))
    )


# ============================================================================================= ledger
@dataclass
class Posting:
    """A transaction to write: its movement kind, effective day and legs."""

    kind: Movement
    day: date
    legs: list[Leg]
    memo: str | None = None
    shipment_id: int | None = None
    reverses_id: int | None = None


def write(session: Session, actor: Actor, postings: Sequence[Posting]) -> list[int]:
    """Append balanced transactions (one multi-row INSERT each for transactions and legs), then refuse (and roll
    back) if any holding account would dip below zero on any day. Returns the new transaction ids, in order."""
    if not postings:
        return []
    for p in postings:
        ledger.check_balanced(p.legs)
    now = utcnow()
    session.flush()
    ids = list(
        session.scalars(
            insert(Transaction).returning(Transaction.id, sort_by_parameter_order=True),
            [
                {
                    "kind": p.kind.value,
                    "day": p.day,
                    "recorded_at": now,
                    "user_id": actor.user_id,
                    "memo": (p.memo or None) and p.memo[:500],
                    "reverses_id": p.reverses_id,
                    "shipment_id": p.shipment_id,
                }
                for p in postings
            ],
        )
    )
    rows = [
        {"txn_id": tid, "account_id": g.account, "resource_id": g.resource, "day": p.day, "quantity": g.quantity}
        for tid, p in zip(ids, postings, strict=True)
        for g in p.legs
    ]
    session.execute(insert(Entry), rows)
    _add_to_balances(session, rows)
    _check_holdings(session, postings)
    return ids


def _add_to_balances(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add the legs to the running totals per (account, resource): one upsert, keys in a fixed order so that
    concurrent writers lock rows in the same order."""
    totals: dict[tuple[int, int], int] = {}
    for r in rows:
        key = (r["account_id"], r["resource_id"])
        totals[key] = totals.get(key, 0) + int(r["quantity"])
    values = [{"account_id": a, "resource_id": r, "quantity": q} for (a, r), q in sorted(totals.items())]
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = upsert(Balance)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Balance.account_id, Balance.resource_id],
        set_={"quantity": Balance.quantity + stmt.excluded.quantity},
    )
    session.execute(stmt, values)


def held_at(session: Session, accounts: Any, day: date, resource_id: int | None = None) -> list[tuple[int, int, int]]:
    """(account, resource, thousandths) at the end of ``day`` for the accounts selected by ``accounts`` (a
    subquery of account ids): the running balance less the legs booked for later days (usually none), so the
    cost does not grow with the length of the books."""
    now = select(Balance.account_id, Balance.resource_id, Balance.quantity).where(Balance.account_id.in_(accounts))
    # legs dated after ``day``, found through the transactions' day index (no account filter in SQL: SQLite would
    # then walk every leg of the accounts instead); kept when their account is among those asked for
    # (summed here, not GROUP BY: SQLite would walk the whole (account, resource, day) index to avoid a sort)
    later = (
        select(Entry.account_id, Entry.resource_id, Entry.quantity)
        .join(Transaction, Transaction.id == Entry.txn_id)
        .where(Transaction.day > day)
    )
    if resource_id is not None:
        now, later = now.where(Balance.resource_id == resource_id), later.where(Entry.resource_id == resource_id)
    out = {(a, r): int(q) for a, r, q in session.execute(now).all()}
    for a, r, q in session.execute(later).all():
        if (a, r) in out:  # every account with a leg has a balance row
            out[(a, r)] -= int(q)
    return [(a, r, q) for (a, r), q in out.items()]


def _check_holdings(session: Session, postings: Sequence[Posting]) -> None:
    credited = {(g.account, g.resource) for p in postings for g in p.legs if g.quantity < 0}
    if not credited:
        return
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_({a for a, _ in credited})))}
    keys = {(a, r) for a, r in credited if AccountKind(accounts[a].kind) in ledger.HOLDING}
    if not keys:
        return
    start = min(p.day for p in postings)
    ids, res = {a for a, _ in keys}, {r for _, r in keys}
    before = session.execute(
        select(Entry.account_id, Entry.resource_id, func.sum(Entry.quantity))
        .where(Entry.account_id.in_(ids), Entry.resource_id.in_(res), Entry.day < start)
        .group_by(Entry.account_id, Entry.resource_id)
    ).all()
    after = session.execute(
        select(Entry.account_id, Entry.resource_id, Entry.day, func.sum(Entry.quantity))
        .where(Entry.account_id.in_(ids), Entry.resource_id.in_(res), Entry.day >= start)
        .group_by(Entry.account_id, Entry.resource_id, Entry.day)
    ).all()
    frame = pd.DataFrame(
        [(a, r, start - timedelta(days=1), int(q)) for a, r, q in before] + [(a, r, d, int(q)) for a, r, d, q in after],
        columns=ledger.ENTRY_COLUMNS,
    )
    lows = ledger.lowest_after(frame, keys, start)
    short = [(k, v) for k, v in lows.items() if v < 0]
    if short:
        (acc_id, rid), low = short[0]
        acc = accounts[acc_id]
        r = session.get(ResourceType, rid)
        code = places.code_of(session, acc.jurisdiction_id)
        raise AccordError(
            "not enough stock",
            [
                Problem(
                    f"the {acc.kind} account '{acc.name}' of {code} would hold {catalog.from_milli(low):g} "
                    f"{r.unit if r else ''} of {r.code if r else rid}: it does not have that much",
                    field="quantity",
                )
            ],
            status=409,
            kind="conflict",
        )


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
    _require_role(actor, SUBMITTERS, "book stock movements")
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
    when = _day(day, today or utcnow().date(), "day")
    src_j, dst_j = _place(session, source.code, field="from"), _place(session, target.code, field="to")
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
    _require_role(actor, SUBMITTERS, "correct the ledger")
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


def conservation(session: Session) -> dict[str, int]:
    """Sum of all legs per resource (thousandths): zero for every resource when the books balance."""
    rows = session.execute(
        select(ResourceType.code, func.sum(Entry.quantity))
        .join(ResourceType, ResourceType.id == Entry.resource_id)
        .group_by(ResourceType.code)
    ).all()
    return {c: int(q) for c, q in rows}


# ============================================================================================== stock
STOCK_COLUMNS = [
    "jurisdiction",
    "jurisdiction_name",
    "account_kind",
    "account",
    "resource",
    "unit",
    "on_hand",
    "burn_rate",
    "days_of_supply",
]


def stock(
    session: Session, root_code: str, at: date | None = None, resource: str | None = None, window: int = 7
) -> pd.DataFrame:
    """Holding accounts of the subtree at the end of ``at``: on hand, burn rate (mean daily use over ``window``
    days) and days of supply (on hand / burn rate)."""
    ensure_catalog(session)
    root = places.get(session, root_code)
    at = at or utcnow().date()
    sub = select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root.id)
    holding = select(Account.id).where(
        Account.jurisdiction_id.in_(sub), Account.kind.in_([k.value for k in ledger.HOLDING])
    )
    rid = resource_of(session, resource).id if resource else None
    held = pd.DataFrame(held_at(session, holding, at, rid), columns=["account_id", "resource_id", "on_hand"])
    start = at - timedelta(days=window - 1)
    used = pd.DataFrame(
        session.execute(
            select(Entry.account_id, Entry.resource_id, func.sum(Entry.quantity))
            .join(Transaction, Transaction.id == Entry.txn_id)
            .where(  # no account filter: through the day index (see held_at); the merge below keeps the subtree's
                Transaction.kind == Movement.CONSUME.value,
                Entry.quantity < 0,
                Transaction.day >= start,
                Transaction.day <= at,
            )
            .group_by(Entry.account_id, Entry.resource_id)
        ).all(),
        columns=["account_id", "resource_id", "used"],
    )
    frame = held.merge(used, on=["account_id", "resource_id"], how="left")
    if frame.empty:
        return pd.DataFrame(columns=STOCK_COLUMNS)
    accounts = pd.DataFrame(
        session.execute(
            select(Account.id, Account.kind, Account.name, Jurisdiction.code, Jurisdiction.name)
            .join(Jurisdiction, Jurisdiction.id == Account.jurisdiction_id)
            .where(Account.id.in_(frame["account_id"].unique().tolist()))
        ).all(),
        columns=["account_id", "account_kind", "account", "jurisdiction", "jurisdiction_name"],
    )
    types = pd.DataFrame(
        session.execute(select(ResourceType.id, ResourceType.code, ResourceType.unit)).all(),
        columns=["resource_id", "resource", "unit"],
    )
    frame = frame.merge(accounts, on="account_id").merge(types, on="resource_id")
    frame["on_hand"] = frame["on_hand"].astype(float) / catalog.SCALE
    frame["burn_rate"] = -frame["used"].fillna(0).astype(float) / catalog.SCALE / window
    dos = ledger.days_of_supply(frame["on_hand"].to_numpy(), frame["burn_rate"].to_numpy())
    frame["days_of_supply"] = np.where(np.isinf(dos), np.nan, np.round(dos, 2))
    frame = frame[frame["on_hand"].ne(0) | frame["burn_rate"].gt(0)]
    return (
        frame[STOCK_COLUMNS].sort_values(["jurisdiction", "resource", "account_kind", "account"]).reset_index(drop=True)
    )


# ===================================================================================== needs / offers
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
    _require_role(actor, SUBMITTERS, "post needs")
    j = _place(session, code)
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
        by_date=_day(by_date, today, "by_date"),
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
    _require_role(actor, SUBMITTERS, "post offers")
    j = _place(session, code)
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
    mark = _place(session, earmark, field="earmark") if earmark else None
    acc = account(session, AccountKind(source), j.id, warehouse)
    offer = Offer(
        jurisdiction_id=j.id,
        resource_id=r.id,
        account_id=acc.id,
        quantity=milli,
        from_date=_day(from_date, today or utcnow().date(), "from_date"),
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
    _require_role(actor, APPROVERS, action)
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


# ==================================================================================== routes, pairing
def set_route(
    session: Session,
    actor: Actor,
    origin: str,
    destination: str,
    *,
    lead_days: int,
    unit_cost: float = 1.0,
    closed: bool = False,
    note: str | None = None,
) -> Route:
    _require_role(actor, APPROVERS, "set routes")
    o, d = _place(session, origin, field="origin"), _place(session, destination, field="destination")
    auth.require_scope(session, actor, o.id, o.code, "set routes")
    problems = []
    if not (0 <= int(lead_days) <= MAX_HORIZON_DAYS):
        problems.append(Problem(f"lead time is 0 to {MAX_HORIZON_DAYS} days, not {lead_days}", field="lead_days"))
    cost = float(unit_cost)
    if not (math.isfinite(cost) and cost >= 0):
        problems.append(Problem(f"unit cost must be a non-negative number, not {unit_cost}", field="unit_cost"))
    if o.id == d.id:
        problems.append(Problem("a route joins two different places", field="destination"))
    if problems:
        raise AccordError("invalid route", problems)
    route = session.scalar(select(Route).where(Route.origin_id == o.id, Route.destination_id == d.id))
    if route is None:
        route = Route(origin_id=o.id, destination_id=d.id, lead_days=0, unit_cost=0.0)
        session.add(route)
    route.lead_days, route.unit_cost, route.closed, route.note = int(lead_days), cost, bool(closed), note
    session.flush()
    auth.audit(session, actor.user_id, "resources.route", o.code, {"to": d.code, "closed": closed})
    return route


def set_pairing(
    session: Session, actor: Actor, supporter: str, supported: str, *, exclusive: bool = False, note: str | None = None
) -> Pairing:
    _require_role(actor, APPROVERS, "pair jurisdictions")
    s, t = _place(session, supporter, field="supporter"), _place(session, supported, field="supported")
    auth.require_scope(session, actor, s.id, s.code, "pair jurisdictions")
    if s.id == t.id:
        raise AccordError("invalid pairing", [Problem("a place cannot be paired with itself", field="supported")])
    pair = session.scalar(select(Pairing).where(Pairing.supporter_id == s.id, Pairing.supported_id == t.id))
    if pair is None:
        pair = Pairing(supporter_id=s.id, supported_id=t.id)
        session.add(pair)
    pair.exclusive, pair.note = bool(exclusive), note
    session.flush()
    auth.audit(session, actor.user_id, "resources.pairing", s.code, {"supported": t.code, "exclusive": exclusive})
    return pair


def routes_frame(session: Session) -> pd.DataFrame:
    o, d = Jurisdiction.__table__.alias("o"), Jurisdiction.__table__.alias("d")
    rows = session.execute(
        select(o.c.code, d.c.code, Route.lead_days, Route.unit_cost, Route.closed, Route.note)
        .join(o, o.c.id == Route.origin_id)
        .join(d, d.c.id == Route.destination_id)
        .order_by(o.c.code, d.c.code)
    ).all()
    return pd.DataFrame(rows, columns=["origin", "destination", "lead_days", "unit_cost", "closed", "note"])


def pairings_frame(session: Session) -> pd.DataFrame:
    s, t = Jurisdiction.__table__.alias("s"), Jurisdiction.__table__.alias("t")
    rows = session.execute(
        select(s.c.code, t.c.code, Pairing.exclusive, Pairing.note)
        .join(s, s.c.id == Pairing.supporter_id)
        .join(t, t.c.id == Pairing.supported_id)
        .order_by(s.c.code, t.c.code)
    ).all()
    return pd.DataFrame(rows, columns=["supporter", "supported", "exclusive", "note"])


# ========================================================================================== planning
@dataclass
class ProblemInstance:
    """An allocation problem built from the store, with what each optimiser node stands for."""

    problem: Any  # optimiser.AllocationProblem
    start: date
    root_id: int
    #: per node: kind ("stockpile", "offer", "need"), record id (account / offer / need), jurisdiction id
    node_kind: list[str]
    node_ref: list[int]
    node_place: list[int]
    resource_ids: list[int]
    warnings: list[str] = field(default_factory=list)


def _available(
    session: Session, account_ids: list[int], resource_ids: list[int], start: date
) -> dict[tuple[int, int], int]:
    """Units an account can give from ``start`` on without going below zero on any later day (future-dated
    dispatches already approved count)."""
    if not account_ids:
        return {}
    rows = session.execute(
        select(Entry.account_id, Entry.resource_id, Entry.day, func.sum(Entry.quantity))
        .where(Entry.account_id.in_(account_ids), Entry.resource_id.in_(resource_ids))
        .group_by(Entry.account_id, Entry.resource_id, Entry.day)
    ).all()
    frame = pd.DataFrame([(a, r, d, int(q)) for a, r, d, q in rows], columns=ledger.ENTRY_COLUMNS)
    keys = {(int(a), int(r)) for a, r in zip(frame["account"], frame["resource"], strict=True)}
    return {k: max(v, 0) for k, v in ledger.lowest_after(frame, keys, start).items()}


def build_problem(
    session: Session,
    root_code: str,
    resource_codes: Sequence[str] | None = None,
    horizon_days: int = 14,
    *,
    start: date | None = None,
    shortfall_penalty: float = 1000.0,
) -> ProblemInstance:
    """The allocation problem of a subtree: sources are its central stockpiles and open offers, sinks its open
    needs (what is still unallocated), lanes the stored routes (closed ones left out; unstored lanes get a default
    lead time and cost from the distance in the tree), pairing assistance as stored.

    Every need and every source is a node of its own, so a shipment names exactly the need it serves and the
    account it leaves from; sources only send and needs only receive (no transshipment: every shipment is one
    dispatch and one receipt in the ledger). Units given to a need stay there (a transfer of a ventilator is a
    transfer), so every resource is passed to the optimiser as consumed on arrival.
    """
    from accord.resources import optimiser as opt

    ensure_catalog(session)
    if not (1 <= int(horizon_days) <= MAX_HORIZON_DAYS):
        raise AccordError(
            "invalid horizon",
            [Problem(f"the horizon is 1 to {MAX_HORIZON_DAYS} days, not {horizon_days}", field="horizon_days")],
        )
    root = places.get(session, root_code)
    start = start or utcnow().date()
    days = int(horizon_days)
    members = subtree_ids(session, root.id)
    needs = session.scalars(
        select(Need)
        .where(Need.jurisdiction_id.in_(members), Need.closed_at.is_(None), Need.quantity > Need.allocated)
        .order_by(Need.id)
    ).all()
    types = {r.id: r for r in session.scalars(select(ResourceType))}
    by_code = {r.code: r for r in types.values()}
    if resource_codes:
        unknown = [c for c in resource_codes if c not in by_code]
        if unknown:
            raise AccordError("unknown resource", [Problem(f"unknown resource '{unknown[0]}'", field="resources")])
        rids = [by_code[c].id for c in resource_codes]
    else:
        rids = sorted({n.resource_id for n in needs})
    needs = [n for n in needs if n.resource_id in rids]
    if not needs:
        raise AccordError(
            "nothing to plan",
            [Problem(f"there are no open needs under {root.code} for the chosen resources", field="resources")],
        )
    rindex = {rid: k for k, rid in enumerate(rids)}
    offers = session.scalars(
        select(Offer)
        .where(
            Offer.jurisdiction_id.in_(members),
            Offer.closed_at.is_(None),
            Offer.quantity > Offer.allocated,
            Offer.resource_id.in_(rids),
            Offer.from_date < start + timedelta(days=days),
        )
        .order_by(Offer.id)
    ).all()
    piles = session.scalars(
        select(Account)
        .where(Account.jurisdiction_id.in_(members), Account.kind == AccountKind.STOCKPILE.value)
        .order_by(Account.id)
    ).all()
    avail = _available(session, [a.id for a in piles] + [o.account_id for o in offers], rids, start)

    kinds: list[str] = []
    refs: list[int] = []
    place: list[int] = []
    init_rows: list[tuple[int, int, float]] = []

    def add_node(kind: str, ref: int, jid: int) -> None:
        kinds.append(kind)
        refs.append(ref)
        place.append(jid)

    supply_rows: list[tuple[int, int, int, float]] = []
    # an account's units are counted once: first by its open offers (in order), the rest as stockpile
    budget = dict(avail)
    for o in offers:
        key = (o.account_id, o.resource_id)
        q = min(o.quantity - o.allocated, budget.get(key, 0))
        if q <= 0:
            continue
        budget[key] = budget.get(key, 0) - q
        t = max((o.from_date - start).days, 0)
        supply_rows.append((len(kinds), rindex[o.resource_id], t, q / catalog.SCALE))
        add_node("offer", o.id, o.jurisdiction_id)
    for a in piles:
        left = {rid: budget.get((a.id, rid), 0) for rid in rids}
        if not any(v > 0 for v in left.values()):
            continue
        for rid, q in left.items():
            if q > 0:
                init_rows.append((len(kinds), rindex[rid], q / catalog.SCALE))
        add_node("stockpile", a.id, a.jurisdiction_id)
    n_sources = len(kinds)
    for n in needs:
        add_node("need", n.id, n.jurisdiction_id)
    size, n_res = len(kinds), len(rids)
    init = np.zeros((size, n_res))
    supply = np.zeros((size, n_res, days))
    demand = np.zeros((size, n_res, days))
    for i, r, units in init_rows:
        init[i, r] += units
    for i, r, t, units in supply_rows:
        supply[i, r, t] += units
    priority = np.ones(size)

    tree = places.load_index(session)
    depth = dict(zip(tree.ids.tolist(), tree.depth.tolist(), strict=True))
    parent = dict(zip(tree.ids.tolist(), tree.parent_ids.tolist(), strict=True))
    stored = {
        (r.origin_id, r.destination_id): r for r in session.scalars(select(Route).where(Route.origin_id.in_(members)))
    }
    pairs = session.execute(select(Pairing.supporter_id, Pairing.supported_id, Pairing.exclusive)).all()
    supported_by: dict[int, set[int]] = {}
    for s, t, _ in pairs:
        supported_by.setdefault(s, set()).add(t)
    offer_of = {o.id: o for o in offers}
    need_of = {n.id: n for n in needs}
    ancestors_cache: dict[int, set[int]] = {}

    def ancestors(jid: int) -> set[int]:
        if jid not in ancestors_cache:
            out, cur = set(), jid
            while cur >= 0:
                out.add(cur)
                cur = parent.get(cur, -1)
            ancestors_cache[jid] = out
        return ancestors_cache[jid]

    def hops(a: int, b: int) -> int:
        common = ancestors(a) & ancestors(b)
        lca_depth = max(int(depth[c]) for c in common) if common else 0
        return int(depth[a]) + int(depth[b]) - 2 * lca_depth

    origin: list[int] = []
    dest: list[int] = []
    lead: list[int] = []
    cost: list[float] = []
    allowed: list[Any] = []
    has = (init > 0) | (supply.sum(axis=2) > 0)
    for j in range(n_sources, size):
        need = need_of[refs[j]]
        r = rindex[need.resource_id]
        for i in range(n_sources):
            if not has[i, r]:
                continue
            if kinds[i] == "offer":
                o = offer_of[refs[i]]
                if o.earmark_id is not None and o.earmark_id not in ancestors(need.jurisdiction_id):
                    continue
                if o.partners_only and not (
                    supported_by.get(o.jurisdiction_id, set()) & ancestors(need.jurisdiction_id)
                ):
                    continue
                price = float(o.unit_price)
            else:
                price = 0.0
            src_place, dst_place = place[i], need.jurisdiction_id
            route = stored.get((src_place, dst_place))
            if route is not None and route.closed:
                continue
            if src_place == dst_place:
                days_, unit = 0, 0.0
            elif route is not None:
                days_, unit = route.lead_days, route.unit_cost
            else:
                h = hops(src_place, dst_place)
                days_, unit = math.ceil(h / 2) * DEFAULT_DAYS_PER_TWO_HOPS, h * DEFAULT_COST_PER_HOP
            mask = np.zeros(n_res, bool)
            mask[r] = True
            origin.append(i)
            dest.append(j)
            lead.append(int(days_))
            cost.append(float(unit) + price)
            allowed.append(mask)
    # a need due before anything can reach it is planned for the earliest arrival instead of given up
    earliest: dict[int, int] = {}
    for j, d in zip(dest, lead, strict=True):
        earliest[j] = min(earliest.get(j, d), d)
    for j in range(n_sources, size):
        need = need_of[refs[j]]
        t = min(max((need.by_date - start).days, earliest.get(j, 0)), days - 1)
        demand[j, rindex[need.resource_id], t] += (need.quantity - need.allocated) / catalog.SCALE
        priority[j] = float(need.priority)

    sup_idx: list[int] = []
    sup_to: list[int] = []
    excl: list[bool] = []
    supported_pairs = {(s, t): e for s, t, e in pairs}
    for i in range(n_sources):
        for j in range(n_sources, size):
            for t in ancestors(place[j]):
                if (place[i], t) in supported_pairs:
                    sup_idx.append(i)
                    sup_to.append(j)
                    excl.append(bool(supported_pairs[(place[i], t)]))
                    break
    max_cost = max(cost, default=0.0)
    problem = opt.AllocationProblem(
        nodes=tuple(f"{k}:{ref}" for k, ref in zip(kinds, refs, strict=True)),
        resources=tuple(types[rid].code for rid in rids),
        reusable=np.zeros(n_res, bool),
        use_days=np.ones(n_res, np.int64),
        days=days,
        initial_stock=init,
        supply=supply,
        demand=demand,
        routes=opt.Routes(
            origin=np.asarray(origin, np.int64),
            destination=np.asarray(dest, np.int64),
            lead_days=np.asarray(lead, np.int64),
            unit_cost=np.asarray(cost, np.float64),
            allowed=np.asarray(allowed, bool).reshape(len(origin), n_res),
        ),
        priority=priority,
        pairing=opt.Pairing(np.asarray(sup_idx, np.int64), np.asarray(sup_to, np.int64), np.asarray(excl, bool))
        if sup_idx
        else None,
        shortfall_penalty=max(float(shortfall_penalty), 100.0 * max_cost),
    )
    inst = ProblemInstance(problem, start, root.id, kinds, refs, place, rids)
    if n_sources == 0:
        inst.warnings.append(f"no stockpile or open offer under {root.code} holds any of the resources asked for")
    return inst


def solve_plan(
    session: Session,
    actor: Actor,
    root_code: str,
    resource_codes: Sequence[str] | None = None,
    horizon_days: int = 14,
    *,
    start: date | None = None,
    equity: str = "total",
    duals: bool = False,
    max_shortfall_share: float | None = None,
) -> Plan:
    """Build the problem of a subtree, solve it and store the proposal (shipments in status ``planned``)."""
    from accord.resources import optimiser as opt

    _require_role(actor, APPROVERS, "plan allocations")
    root = places.get(session, root_code)
    auth.require_scope(session, actor, root.id, root.code, "plan allocations")
    inst = build_problem(session, root_code, resource_codes, horizon_days, start=start)
    options = opt.Options(equity=equity, duals=duals, max_shortfall_share=max_shortfall_share)  # type: ignore[arg-type]
    try:
        result = opt.solve(inst.problem, options)
    except AccordError as exc:  # name places, not optimiser nodes
        exc.problems = [replace(p, message=_readable(session, inst, p.message)) for p in exc.problems]
        exc.title = _readable(session, inst, exc.title)
        raise
    return _store_plan(session, actor, inst, result, options)


def _node_label(session: Session, inst: ProblemInstance, i: int) -> str:
    return f"{inst.node_kind[i]} {inst.node_ref[i]} ({places.code_of(session, inst.node_place[i])})"


def _store_plan(session: Session, actor: Actor, inst: ProblemInstance, result: Any, options: Any) -> Plan:
    p = inst.problem
    node_at = {name: k for k, name in enumerate(p.nodes)}
    offers = {
        o.id: o
        for o in session.scalars(
            select(Offer).where(
                Offer.id.in_([r for k, r in zip(inst.node_kind, inst.node_ref, strict=True) if k == "offer"])
            )
        )
    }
    needs = {
        n.id: n
        for n in session.scalars(
            select(Need).where(
                Need.id.in_([r for k, r in zip(inst.node_kind, inst.node_ref, strict=True) if k == "need"])
            )
        )
    }
    rid_of = dict(zip(p.resources, inst.resource_ids, strict=True))
    served = result.served.sum(axis=2)
    short = result.shortfall.sum(axis=2)
    need_rows = []
    for i, kind in enumerate(inst.node_kind):
        if kind != "need":
            continue
        n = needs[inst.node_ref[i]]
        r = inst.resource_ids.index(n.resource_id)
        need_rows.append(
            {
                "need": n.id,
                "jurisdiction": places.code_of(session, n.jurisdiction_id),
                "resource": p.resources[r],
                "demand": float(p.demand[i, r].sum()),
                "served": float(served[i, r]),
                "shortfall": float(short[i, r]),
                "priority": n.priority,
            }
        )
    warnings = list(inst.warnings) + [_readable(session, inst, w) for w in result.warnings]
    top_duals = []
    if result.duals is not None:
        flat = result.duals.sum(axis=2)
        for i, r in zip(*np.unravel_index(np.argsort(-flat, axis=None)[:10], flat.shape), strict=True):
            if flat[i, r] > 1e-9:
                top_duals.append(
                    {
                        "node": _node_label(session, inst, int(i)),
                        "resource": p.resources[int(r)],
                        "value": float(flat[i, r]),
                    }
                )
    summary = {
        "solver": result.solver,
        "status": result.status,
        "equity": result.equity,
        "objective": float(result.objective),
        "build_seconds": round(float(result.build_seconds), 4),
        "solve_seconds": round(float(result.solve_seconds), 4),
        "model_size": {k: int(v) for k, v in result.model_size.items()},
        "demand": float(p.demand.sum()),
        "served": float(result.served.sum()),
        "shortfall": float(result.shortfall.sum()),
        "needs": need_rows,
        "warnings": warnings,
        "duals": top_duals,
    }
    plan = Plan(
        root_id=inst.root_id,
        status="proposed",
        start=inst.start,
        horizon_days=p.days,
        options={
            "equity": options.equity,
            "duals": options.duals,
            "max_shortfall_share": options.max_shortfall_share,
            "resources": list(p.resources),
        },
        summary=summary,
        created_by=actor.user_id,
    )
    session.add(plan)
    session.flush()
    for s in result.shipments.itertuples(index=False):
        i, j = node_at[s.origin], node_at[s.destination]
        q = catalog.to_milli(float(s.quantity))
        if q <= 0:
            continue
        need = needs[inst.node_ref[j]]
        if inst.node_kind[i] == "offer":
            offer = offers[inst.node_ref[i]]
            src_acc, offer_id = offer.account_id, offer.id
        else:
            src_acc, offer_id = inst.node_ref[i], None
        session.add(
            Shipment(
                plan_id=plan.id,
                resource_id=rid_of[s.resource],
                source_account_id=src_acc,
                offer_id=offer_id,
                need_id=need.id,
                origin_id=inst.node_place[i],
                destination_id=need.jurisdiction_id,
                depart_day=inst.start + timedelta(days=int(s.depart_day)),
                arrive_day=inst.start + timedelta(days=int(s.arrive_day)),
                quantity=q,
                proposed_quantity=q,
                unit_cost=float(s.unit_cost),
                status="planned",
                received=0,
                discrepancy=0,
            )
        )
    session.flush()
    auth.audit(session, actor.user_id, "resources.plan", places.code_of(session, inst.root_id), {"plan": plan.id})
    return plan


def _readable(session: Session, inst: ProblemInstance, text: str) -> str:
    """The optimiser names nodes ``need:12``; say which place that is."""
    for i, name in enumerate(inst.problem.nodes):
        quoted = f"'{name}'"
        if quoted in text:
            text = text.replace(quoted, _node_label(session, inst, i))
    return text


def get_plan(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    return plan


def edit_shipment(session: Session, actor: Actor, plan_id: int, shipment_id: int, quantity: object) -> Shipment:
    """A coordinator changes a planned quantity (0 drops the lane) before approval."""
    _require_role(actor, APPROVERS, "edit plans")
    plan = get_plan(session, plan_id)
    auth.require_scope(session, actor, plan.root_id, places.code_of(session, plan.root_id) or "", "edit plans")
    if plan.status != "proposed":
        raise Conflict(f"plan {plan_id} is {plan.status}; only a proposed plan can be edited")
    s = session.get(Shipment, shipment_id)
    if s is None or s.plan_id != plan_id:
        raise NotFound(f"plan {plan_id} has no shipment {shipment_id}")
    r = session.get(ResourceType, s.resource_id)
    assert r is not None
    s.quantity = quantity_in_unit(r, quantity, None)
    auth.audit(session, actor.user_id, "resources.plan.edit", None, {"plan": plan_id, "shipment": shipment_id})
    return s


def approve_plan(session: Session, actor: Actor, plan_id: int) -> Plan:
    """Approve a proposed plan: every shipment is dispatched in the ledger (its source account -> in transit to the
    destination, dated its departure day), its need and offer allocated. All or nothing: a plan that is stale
    (its needs or offers changed, or its stock went elsewhere) is refused as a whole."""
    _require_role(actor, APPROVERS, "approve plans")
    plan = get_plan(session, plan_id)
    auth.require_scope(session, actor, plan.root_id, places.code_of(session, plan.root_id) or "", "approve plans")
    now = utcnow()
    flipped = session.execute(  # type: ignore[attr-defined]
        update(Plan)
        .where(Plan.id == plan_id, Plan.status == "proposed")
        .values(status="approved", approved_at=now, approved_by=actor.user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if flipped != 1:
        session.refresh(plan)
        when = plan.approved_at.isoformat(timespec="seconds") if plan.approved_at else "earlier"
        raise Conflict(f"plan {plan_id} was already approved ({when}); a plan is approved once")
    session.refresh(plan)
    ships = session.scalars(
        select(Shipment).where(Shipment.plan_id == plan_id, Shipment.quantity > 0).order_by(Shipment.id)
    ).all()
    per_need: dict[int, int] = {}
    per_offer: dict[int, int] = {}
    for s in ships:
        per_need[s.need_id] = per_need.get(s.need_id, 0) + s.quantity
        if s.offer_id is not None:
            per_offer[s.offer_id] = per_offer.get(s.offer_id, 0) + s.quantity
    for nid, q in per_need.items():
        need = session.get(Need, nid)
        assert need is not None
        if need.closed_at is not None or need.allocated + q > need.quantity:
            raise Conflict(
                f"plan {plan_id} is stale: need {nid} has {catalog.from_milli(need.quantity - need.allocated):g} "
                f"left unallocated{' and is closed' if need.closed_at else ''}, the plan sends "
                f"{catalog.from_milli(q):g}; solve again"
            )
        need.allocated += q
    for oid, q in per_offer.items():
        offer = session.get(Offer, oid)
        assert offer is not None
        if offer.closed_at is not None or offer.allocated + q > offer.quantity:
            raise Conflict(
                f"plan {plan_id} is stale: offer {oid} no longer has {catalog.from_milli(q):g} available; solve again"
            )
        offer.allocated += q
    postings = []
    for s in ships:
        transit = account(session, AccountKind.IN_TRANSIT, s.destination_id)
        postings.append(
            Posting(
                Movement.DISPATCH,
                s.depart_day,
                [Leg(s.source_account_id, s.resource_id, -s.quantity), Leg(transit.id, s.resource_id, s.quantity)],
                f"plan {plan_id} shipment {s.id}",
                shipment_id=s.id,
            )
        )
        s.status = "dispatched"
    try:
        write(session, actor, postings)
    except AccordError as exc:
        raise Conflict(
            f"plan {plan_id} cannot be dispatched: {exc.problems[0].message if exc.problems else exc}"
        ) from None
    session.execute(update(Shipment).where(Shipment.plan_id == plan_id, Shipment.quantity == 0).values(status="closed"))
    auth.audit(
        session, actor.user_id, "resources.plan.approve", places.code_of(session, plan.root_id), {"plan": plan_id}
    )
    return plan


def receive(
    session: Session,
    actor: Actor,
    shipment_id: int,
    quantity: object,
    *,
    unit: str | None = None,
    day: date | str | None = None,
    note: str | None = None,
    final: bool = False,
    warehouse: str = "main",
) -> Shipment:
    """Record units received from a shipment. ``final`` closes it: what was sent and not received is booked as a
    discrepancy (in transit -> lost at the destination) with the note, never dropped."""
    _require_role(actor, SUBMITTERS, "receive shipments")
    s = session.get(Shipment, shipment_id)
    if s is None:
        raise NotFound(f"no shipment {shipment_id}")
    code = places.code_of(session, s.destination_id) or ""
    auth.require_scope(session, actor, s.destination_id, code, "receive shipments")
    if s.status not in ("dispatched", "received"):
        raise Conflict(f"shipment {shipment_id} is {s.status}: only a dispatched shipment can be received")
    r = session.get(ResourceType, s.resource_id)
    assert r is not None
    milli = quantity_in_unit(r, quantity, unit)
    outstanding = s.quantity - s.received - s.discrepancy
    if milli > outstanding:
        raise AccordError(
            "receipt larger than the shipment",
            [
                Problem(
                    f"{catalog.from_milli(milli):g} {r.unit} is more than the {catalog.from_milli(outstanding):g} "
                    f"{r.unit} still on the way in shipment {shipment_id}",
                    field="quantity",
                )
            ],
        )
    when = _day(day, max(utcnow().date(), s.depart_day), "day")
    if when < s.depart_day:
        raise AccordError(
            "receipt before departure", [Problem(f"shipment {shipment_id} leaves on {s.depart_day}", field="day")]
        )
    if milli == 0 and not final:
        raise AccordError(
            "invalid quantity", [Problem("receive more than zero, or close the shipment", field="quantity")]
        )
    transit = account(session, AccountKind.IN_TRANSIT, s.destination_id)
    postings = []
    if milli > 0:
        target = account(session, AccountKind.STOCK, s.destination_id, warehouse)
        postings.append(
            Posting(
                Movement.ARRIVAL,
                when,
                [Leg(transit.id, r.id, -milli), Leg(target.id, r.id, milli)],
                note,
                shipment_id=s.id,
            )
        )
    missing = outstanding - milli if final else 0
    if missing > 0:
        lost = account(session, AccountKind.LOST, s.destination_id)
        postings.append(
            Posting(
                Movement.LOSS,
                when,
                [Leg(transit.id, r.id, -missing), Leg(lost.id, r.id, missing)],
                f"discrepancy on shipment {s.id}: {note or 'no note'}",
                shipment_id=s.id,
            )
        )
    txns = write(session, actor, postings)
    if milli > 0:
        session.add(
            Receipt(shipment_id=s.id, day=when, quantity=milli, note=note, txn_id=txns[0], user_id=actor.user_id)
        )
    s.received += milli
    s.discrepancy += missing
    if missing:
        s.discrepancy_note = (note or "received less than sent")[:500]
    # partly received stays "received" (more may come); everything accounted for closes it
    s.status = "closed" if s.received + s.discrepancy >= s.quantity else "received"
    need = session.get(Need, s.need_id)
    assert need is not None
    need.received += milli
    # what was lost on the way is needed again: it goes back to the need's remaining quantity
    need.allocated -= missing
    if s.offer_id is not None:
        offer = session.get(Offer, s.offer_id)
        assert offer is not None
        offer.received += milli
    auth.audit(session, actor.user_id, "resources.receive", code, {"shipment": s.id, "quantity": milli, "final": final})
    return s


def plan_frames(session: Session, plan_id: int) -> tuple[Plan, pd.DataFrame]:
    """A plan and its shipments with places (names, coordinates) and resources spelled out."""
    plan = get_plan(session, plan_id)
    o, d = Jurisdiction.__table__.alias("o"), Jurisdiction.__table__.alias("d")
    rows = session.execute(
        select(
            Shipment.id,
            ResourceType.code,
            ResourceType.unit,
            o.c.code,
            o.c.name,
            o.c.lon,
            o.c.lat,
            d.c.code,
            d.c.name,
            d.c.lon,
            d.c.lat,
            Shipment.need_id,
            Shipment.offer_id,
            Shipment.depart_day,
            Shipment.arrive_day,
            Shipment.quantity,
            Shipment.proposed_quantity,
            Shipment.received,
            Shipment.discrepancy,
            Shipment.status,
            Shipment.unit_cost,
        )
        .join(ResourceType, ResourceType.id == Shipment.resource_id)
        .join(o, o.c.id == Shipment.origin_id)
        .join(d, d.c.id == Shipment.destination_id)
        .where(Shipment.plan_id == plan_id)
        .order_by(Shipment.id)
    ).all()
    frame = pd.DataFrame(rows, columns=SHIPMENT_COLUMNS)
    for col in ("quantity", "proposed_quantity", "received", "discrepancy"):
        frame[col] = frame[col].astype(float) / catalog.SCALE
    for col in ("depart_day", "arrive_day"):
        frame[col] = frame[col].map(lambda v: v.isoformat() if v is not None else None)
    return plan, frame


SHIPMENT_COLUMNS = [
    "id",
    "resource",
    "unit",
    "origin",
    "origin_name",
    "origin_lon",
    "origin_lat",
    "destination",
    "destination_name",
    "destination_lon",
    "destination_lat",
    "need",
    "offer",
    "depart_day",
    "arrive_day",
    "quantity",
    "proposed_quantity",
    "received",
    "discrepancy",
    "status",
    "unit_cost",
]


def plan_dict(session: Session, plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "root": places.code_of(session, plan.root_id),
        "status": plan.status,
        "start": plan.start.isoformat(),
        "horizon_days": plan.horizon_days,
        "options": plan.options,
        "summary": plan.summary,
        "created_at": plan.created_at.isoformat(timespec="seconds"),
        "approved_at": plan.approved_at.isoformat(timespec="seconds") if plan.approved_at else None,
    }


def plans_frame(session: Session, root_code: str) -> pd.DataFrame:
    root = places.get(session, root_code)
    sub = select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root.id)
    plans = session.scalars(select(Plan).where(Plan.root_id.in_(sub)).order_by(Plan.id.desc())).all()
    return pd.DataFrame(
        [
            {
                "id": p.id,
                "root": places.code_of(session, p.root_id),
                "status": p.status,
                "start": p.start.isoformat(),
                "horizon_days": p.horizon_days,
                "resources": ",".join(p.options.get("resources", [])),
                "demand": p.summary.get("demand"),
                "served": p.summary.get("served"),
                "shortfall": p.summary.get("shortfall"),
                "created_at": p.created_at.isoformat(timespec="seconds"),
            }
            for p in plans
        ],
        columns=[
            "id",
            "root",
            "status",
            "start",
            "horizon_days",
            "resources",
            "demand",
            "served",
            "shortfall",
            "created_at",
        ],
    )


# ===================================================================================== early warning
WARNING_COLUMNS = [
    "jurisdiction",
    "jurisdiction_name",
    "local_name",
    "resource",
    "resource_name",
    "resource_local_name",
    "category",
    "kind",
    "unit",
    "on_hand",
    "burn_rate",
    "demand_today",
    "days_of_supply",
    "stockout_date",
    "level",
]
CENSUS = {"hospitalised": "hospitalised", "icu": "icu_occupied", "ventilated": "ventilated"}


def _regions(session: Session, root: Jurisdiction, level: str | None) -> list[Jurisdiction]:
    """The regions to rank: jurisdictions at ``level`` under root (default: root's children; root if a leaf)."""
    if level:
        found = [j for j, _ in places.subtree(session, root.id, level=level)]
        if not found:
            raise AccordError("unknown level", [Problem(f"there is no '{level}' under {root.code}", field="level")])
        return found
    kids = places.children(session, root.id)
    return kids or [root]


def early_warning(
    session: Session,
    root_code: str,
    day: date | None = None,
    *,
    level: str | None = None,
    horizon: int = 14,
    window: int = 7,
    thresholds: dict[str, warning.Thresholds] | None = None,
    resource: str | None = None,
    view: str = "all",
    fed_share: float = 0.0,
) -> pd.DataFrame:
    """Days of supply per region and resource, worst first (see :mod:`accord.resources.warning`).

    Stock is everything on hand in the region's subtree (warehouses and stockpiles); the burn rate its recorded
    consumption; the forecast the region's census (``view`` = "public" uses approved figures only) times the need
    rules. Food rules apply to the share of the population fed from public stock (``fed_share``, e.g. the people
    in quarantine); at the default 0 food warns on its burn rate alone.
    """
    if not (0.0 <= fed_share <= 1.0):
        raise AccordError("invalid share", [Problem(f"fed_share is 0 to 1, not {fed_share}", field="fed_share")])
    ensure_catalog(session)
    root = places.get(session, root_code)
    day = day or utcnow().date()
    if not (1 <= horizon <= MAX_HORIZON_DAYS):
        raise AccordError("invalid horizon", [Problem(f"the horizon is 1 to {MAX_HORIZON_DAYS} days", field="horizon")])
    regions = _regions(session, root, level)
    region_ids = [j.id for j in regions]
    types = _tracked_types(session, root.id) if not resource else [resource_of(session, resource)]
    rpos = {r.id: k for k, r in enumerate(types)}

    on_hand, used = _region_totals(session, root.id, region_ids, rpos, day, window)
    burn = used / window
    load = _census_load(session, root, regions, day, horizon, window, view)
    load["population"] = load["population"] * fed_share
    by_res = catalog.rules_by_resource(rules(session))
    limits = {**warning.DEFAULT_THRESHOLDS, **(thresholds or {})}
    parts = [
        _warning_part(regions, r, day, on_hand[:, k], burn[:, k], load, by_res.get(r.code, []), limits, horizon)
        for k, r in enumerate(types)
    ]
    parts = [p for p in parts if not p.empty]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=WARNING_COLUMNS)
    order = frame["days_of_supply"].astype(float).fillna(np.inf)
    return (
        frame.assign(_o=order).sort_values(["_o", "jurisdiction", "resource"]).drop(columns="_o").reset_index(drop=True)
    )


def warning_view(session: Session, actor: Actor, root_code: str) -> str:
    """The census the early warning of ``root_code`` may use for this actor: provisional figures ("all") only
    for users whose subtree holds the root, approved figures ("public") for everyone else."""
    from accord.surveillance import service as surveillance

    root = places.get(session, root_code)
    return "all" if surveillance.can_see_provisional(session, actor, root.id) else "public"


def _tracked_types(session: Session, root_id: int) -> list[ResourceType]:
    """The resources the subtree keeps books of (a resource nobody here tracks is not an alert): those with a
    running balance (any, even zero) in an account of the subtree, read from the small balance table rather than a
    DISTINCT over every leg."""
    booked = (
        select(Balance.resource_id)
        .join(Account, Account.id == Balance.account_id)
        .join(JurisdictionClosure, JurisdictionClosure.descendant_id == Account.jurisdiction_id)
        .where(JurisdictionClosure.ancestor_id == root_id)
        .distinct()
    )
    return list(session.scalars(select(ResourceType).where(ResourceType.id.in_(booked)).order_by(ResourceType.id)))


def _region_totals(
    session: Session, root_id: int, region_ids: list[int], rpos: dict[int, int], day: date, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """(regions, resources) units on hand at the end of ``day`` and units consumed over the ``window`` days up to
    it, over each region's subtree (on-hand accounts: warehouses and stockpiles)."""
    on_hand, used = np.zeros((len(region_ids), len(rpos))), np.zeros((len(region_ids), len(rpos)))
    if not region_ids or not rpos:
        return on_hand, used
    member = dict(
        session.execute(
            select(JurisdictionClosure.descendant_id, JurisdictionClosure.ancestor_id).where(
                JurisdictionClosure.ancestor_id.in_(region_ids)
            )
        ).all()
    )
    accounts = dict(
        session.execute(
            select(Account.id, Account.jurisdiction_id)
            .join(JurisdictionClosure, JurisdictionClosure.descendant_id == Account.jurisdiction_id)
            .where(JurisdictionClosure.ancestor_id == root_id, Account.kind.in_([k.value for k in ledger.ON_HAND]))
        ).all()
    )
    pos = {jid: k for k, jid in enumerate(region_ids)}
    region_of = {a: pos[member[j]] for a, j in accounts.items() if j in member}
    chosen = select(Account.id).where(Account.id.in_(list(region_of)))
    spent = session.execute(
        select(Entry.account_id, Entry.resource_id, func.sum(Entry.quantity))
        .join(Transaction, Transaction.id == Entry.txn_id)
        .where(
            Transaction.kind == Movement.CONSUME.value,
            Transaction.day > day - timedelta(days=window),
            Transaction.day <= day,
            Entry.quantity < 0,
        )
        .group_by(Entry.account_id, Entry.resource_id)
    ).all()  # every account's use in the window, through the day index; the subtree's are picked below
    for out, rows, sign in ((on_hand, held_at(session, chosen, day), 1), (used, spent, -1)):
        picked = [(region_of[a], rpos[r], int(q)) for a, r, q in rows if a in region_of and r in rpos]
        if picked:
            i, k, q = (np.array(c) for c in zip(*picked, strict=True))
            np.add.at(out, (i, k), sign * q / catalog.SCALE)
    return on_hand, used


def _warning_part(
    regions: list[Jurisdiction],
    r: ResourceType,
    day: date,
    on_hand: np.ndarray,
    burn: np.ndarray,
    load: dict[str, Any],
    rules_: list[catalog.NeedRule],
    limits: dict[str, warning.Thresholds],
    horizon: int,
) -> pd.DataFrame:
    """The rows of one resource, built column-wise (no Python loop over regions)."""
    n_reg = len(regions)
    need = warning.forecast_need(load, rules_, (n_reg, horizon))
    if r.kind == catalog.Kind.REUSABLE:
        days_left = warning.days_of_supply_reusable(on_hand, need)
        demand = need
    else:
        demand = np.maximum(need, burn[:, None])
        days_left = warning.days_of_supply_consumable(on_hand, demand)
    t = limits.get(r.category, warning.Thresholds(3.0, 7.0))
    levels = warning.alert_levels(days_left, np.full(n_reg, t.critical_days), np.full(n_reg, t.warning_days))
    keep = np.flatnonzero((on_hand > 0) | (demand.sum(axis=1) > 0))
    left = days_left[keep]
    finite = np.isfinite(left)
    whole = np.where(finite, np.floor(np.where(finite, left, 0.0)), 0).astype("int64")
    runs_out = pd.Timestamp(day) + pd.to_timedelta(whole, unit="D")
    return pd.DataFrame(
        {
            "jurisdiction": [regions[i].code for i in keep],
            "jurisdiction_name": [regions[i].name for i in keep],
            "local_name": [regions[i].local_name for i in keep],
            "resource": r.code,
            "resource_name": r.name,
            "resource_local_name": r.local_name,
            "category": r.category,
            "kind": r.kind,
            "unit": r.unit,
            "on_hand": np.round(on_hand[keep], 3),
            "burn_rate": np.round(burn[keep], 3),
            "demand_today": np.round(demand[keep, 0], 3),
            "days_of_supply": pd.Series(np.round(left, 2), dtype=object).where(finite, None),
            "stockout_date": pd.Series(runs_out.strftime("%Y-%m-%d"), dtype=object).where(finite, None),
            "level": levels[keep].tolist(),
        },
        columns=WARNING_COLUMNS,
    )


def _census_load(
    session: Session, root: Jurisdiction, regions: list[Jurisdiction], day: date, horizon: int, window: int, view: str
) -> dict[str, Any]:
    """Projected load per basis, (regions, horizon): census projected forward, population held constant."""
    from accord.surveillance import service as surveillance

    level = regions[0].level
    n = len(regions)
    load: dict[str, Any] = {
        "population": np.array([[float(j.population or 0)] for j in regions]) * np.ones((1, horizon))
    }
    start = day - timedelta(days=2 * window)
    try:
        figures = surveillance.figures_at_level(session, root.code, level, list(CENSUS.values()), start, day, view=view)
    except AccordError:
        return load
    pos = {j.code: k for k, j in enumerate(regions)}
    dates = pd.date_range(start, day)
    for basis, indicator in CENSUS.items():
        part = figures[(figures["indicator"] == indicator) & (figures["disaggregation"] == "")]
        census = np.full((n, len(dates)), np.nan)
        if not part.empty:
            wide = part.pivot_table(index="jurisdiction", columns="date", values="value", aggfunc="last")
            wide = wide.reindex(columns=dates)
            for code, row in wide.iterrows():
                if code in pos:
                    census[pos[str(code)]] = row.to_numpy(dtype=float)
        load[basis] = warning.project(census, horizon, window)
    return load


def bulletin_paragraph(session: Session, root_code: str, day: date, lang: str = "en") -> str:
    """The early-warning sentence for the daily bulletin (public figures only)."""
    return bulletin_sentence(early_warning(session, root_code, day, view="public"), lang)


def bulletin_sentence(frame: pd.DataFrame, lang: str = "en") -> str:
    """The sentence for an early-warning frame already computed (worst first)."""
    zh = lang == "zh"
    frame = frame[frame["level"].isin(["critical", "warning"])]  # the sentence reads only the alerts
    rows = [
        {
            "region_name": (rec["local_name"] if zh and rec["local_name"] else rec["jurisdiction_name"]),
            "resource_name": (
                rec["resource_local_name"] if zh and rec["resource_local_name"] else rec["resource_name"]
            ),
            "days": rec["days_of_supply"],
            "level": rec["level"],
        }
        for rec in frame.to_dict(orient="records")
    ]
    return warning.bulletin_sentence(rows, lang)


# ==================================================================================== capacity import
@dataclass
class CapacityImport:
    rows: int
    postings: int
    skipped_measures: dict[str, int]
    unknown_places: list[str]


def import_capacity(
    session: Session,
    actor: Actor,
    text: str,
    *,
    file: str = "capacity.csv",
    fmt: str = "saner",
    day: date | None = None,
    skip_unknown: bool = False,
    warehouse: str = "main",
) -> CapacityImport:
    """Book reported stock levels as counts: the difference to the books becomes a movement on the report's day
    (more than the books: a receipt for consumables, a count for reusables; less: consumption for consumables, a
    count for reusables). All rows are checked first; nothing is written if any is wrong."""
    _require_role(actor, SUBMITTERS, "import capacity")
    ensure_catalog(session)
    types = {r.code: r for r in session.scalars(select(ResourceType))}
    if fmt == "saner":
        parsed = capacity_reports.parse_saner(text, set(types), file)
    elif fmt == "covid19scenarios":
        parsed = capacity_reports.parse_covid19scenarios(text, day or utcnow().date(), file)
    else:
        raise AccordError(
            "unknown format", [Problem(f"format is saner or covid19scenarios, not '{fmt}'", field="format")]
        )
    problems = list(parsed.problems)
    rows = parsed.rows.copy()
    tree = places.load_index(session)
    jids: list[int] = []
    unknown: list[str] = []
    milli: list[int] = []
    for rec in rows.to_dict(orient="records"):
        line, name = int(rec["line"]), str(rec["jurisdiction"])
        jid = _resolve_place(tree, name, fmt)
        if jid is None:
            unknown.append(name)
            if not skip_unknown:
                problems.append(Problem(f"no jurisdiction with code or name '{name}'", file, line, "jurisdiction"))
        jids.append(jid if jid is not None else -1)
        r = types[str(rec["resource"])]
        factor = 1.0
        if rec["unit"]:
            try:
                factor = catalog.conversion_factor(str(rec["unit"]), r.unit)
            except AccordError as exc:
                problems.append(Problem(exc.problems[0].message, file, line, "unit"))
        milli.append(catalog.to_milli(float(rec["quantity"]) * factor))
    rows["jid"] = jids
    rows["milli"] = milli
    rows = rows[rows["jid"] >= 0]
    rows = _prefer_specific_names(rows, unknown, problems, skip_unknown, file)
    dups = rows[rows.duplicated(["date", "jid", "resource"], keep=False)]
    if len(dups):
        first = dups.to_dict(orient="records")[-1]
        problems.append(
            Problem(
                f"{first['resource']} of {first['jurisdiction']} on {first['date']} is given twice",
                file,
                int(first["line"]),
            )
        )
    if problems:
        raise AccordError(f"{file}: the capacity report was not imported", problems[:50], total=len(problems))
    for jid in sorted({int(j) for j in rows["jid"]}):
        auth.require_scope(session, actor, jid, str(tree.codes[tree.ids == jid][0]), "report capacity")
    postings = _count_postings(session, rows, types, warehouse)
    write(session, actor, postings)
    auth.audit(session, actor.user_id, "resources.import_capacity", None, {"file": file, "rows": len(rows)})
    return CapacityImport(len(rows), len(postings), parsed.skipped, sorted(set(unknown)))


def _prefer_specific_names(
    rows: pd.DataFrame, unknown: list[str], problems: list[Problem], skip_unknown: bool, file: str
) -> pd.DataFrame:
    """Two names of a table on one place (the country "Georgia" and "USA-Georgia" in a tree of US states): the
    prefixed, sub-national name wins; the other is skipped (or refused without ``skip_unknown``)."""
    names = rows.groupby("jid")["jurisdiction"].nunique()
    clashing = set(names[names > 1].index)
    if not clashing:
        return rows
    plain = rows["jid"].isin(clashing) & ~rows["jurisdiction"].str.contains("-", regex=False)
    for rec in rows[plain].drop_duplicates("jurisdiction").to_dict(orient="records"):
        unknown.append(str(rec["jurisdiction"]))
        if not skip_unknown:
            problems.append(
                Problem(f"'{rec['jurisdiction']}' names the same place as a more specific row", file, int(rec["line"]))
            )
    return rows[~plain]


def _resolve_place(tree: places.TreeIndex, name: str, fmt: str) -> int | None:
    for candidate in capacity_reports.name_candidates(name) if fmt == "covid19scenarios" else [name]:
        if candidate in tree.by_code:
            return tree.by_code[candidate]
        found = tree.names.get(candidate.casefold(), [])
        if len(found) == 1:
            return found[0]
    return None


def _count_postings(
    session: Session, rows: pd.DataFrame, types: dict[str, ResourceType], warehouse: str
) -> list[Posting]:
    postings: list[Posting] = []
    records: dict[tuple[int, str], list[tuple[date, int, int, str]]] = {}
    for rec in rows.to_dict(orient="records"):
        key = (int(rec["jid"]), str(rec["resource"]))
        records.setdefault(key, []).append((rec["date"], int(rec["milli"]), int(rec["line"]), str(rec["source"])))
    for (jid, code), items in sorted(records.items()):
        r = types[code]
        stock_acc = account(session, AccountKind.STOCK, jid, warehouse)
        book = [
            (d, int(q))
            for d, q in session.execute(
                select(Entry.day, Entry.quantity).where(Entry.account_id == stock_acc.id, Entry.resource_id == r.id)
            )
        ]
        reusable = r.kind == catalog.Kind.REUSABLE
        for when, target, line, source in sorted(items):
            diff = target - sum(q for d, q in book if d <= when)
            if diff == 0:
                continue
            if reusable:
                mv, other = Movement.COUNT, AccountKind.ADJUSTMENT
            elif diff > 0:
                mv, other = Movement.RECEIPT, AccountKind.SUPPLY
            else:
                mv, other = Movement.CONSUME, AccountKind.CONSUMED
            acc = account(session, other, jid)
            legs = [Leg(stock_acc.id, r.id, diff), Leg(acc.id, r.id, -diff)]
            postings.append(Posting(mv, when, legs, f"capacity report {source} line {line}"))
            book.append((when, diff))
    return postings
