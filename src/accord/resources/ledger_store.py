"""The stock ledger as stored: accounts, balanced transactions written in bulk, running balances, and the
stock levels read from them. The double-entry rules are pure, in :mod:`accord.resources.ledger`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from accord.auth.roles import Actor
from accord.db import utcnow
from accord.errors import AccordError, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.resources import catalog, ledger
from accord.resources.catalog_store import ensure_catalog, resource_of
from accord.resources.ledger import AccountKind, Leg, Movement
from accord.resources.model import Account, Balance, Entry, ResourceType, Transaction


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


def conservation(session: Session) -> dict[str, int]:
    """Sum of all legs per resource (thousandths): zero for every resource when the books balance."""
    rows = session.execute(
        select(ResourceType.code, func.sum(Entry.quantity))
        .join(ResourceType, ResourceType.id == Entry.resource_id)
        .group_by(ResourceType.code)
    ).all()
    return {c: int(q) for c, q in rows}


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
