"""Double-entry rules of the stock ledger (pure: values and arrays in, values out).

Every movement is one transaction of *legs* ``(account, resource, quantity)``: a positive quantity is a debit
(units arrive in the account), a negative one a credit (units leave it). A transaction balances when, for every
resource, its legs sum to zero, so the sum over all accounts of any resource is zero at all times: units enter
the system only from a *source* account (``supply``, ``donated``), whose balance goes negative by what came in,
and leave it only into a *sink* (``consumed``, ``lost``). Holding accounts (a warehouse, a central stockpile,
goods in transit) can never hold less than nothing. Quantities are whole thousandths of the resource's unit
(:data:`accord.resources.catalog.SCALE`): integer sums are exact, so "balances" means exactly zero.

Transactions are append-only; a correction is a *reversing* transaction with every leg negated.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accord.errors import AccordError, Problem


class AccountKind(StrEnum):
    STOCK = "stock"  # a jurisdiction's warehouse (named; "main" by default)
    STOCKPILE = "stockpile"  # the central stockpile a level keeps (held by that level's jurisdiction)
    IN_TRANSIT = "in_transit"  # shipped towards a jurisdiction, not yet received
    CONSUMED = "consumed"  # used up at a jurisdiction (sink)
    LOST = "lost"  # sent but never received: discrepancies (sink)
    SUPPLY = "supply"  # procurement and production entering the system (source)
    DONATED = "donated"  # donations from outside the system (source)
    ADJUSTMENT = "adjustment"  # stock-count corrections, either way


#: accounts that hold real units and may never go below zero
HOLDING = frozenset({AccountKind.STOCK, AccountKind.STOCKPILE, AccountKind.IN_TRANSIT})
#: accounts whose units are on hand (usable now) at their jurisdiction
ON_HAND = frozenset({AccountKind.STOCK, AccountKind.STOCKPILE})


class Movement(StrEnum):
    RECEIPT = "receipt"  # bought or produced: supply -> stock
    DONATION = "donation"  # donated from outside: donated -> stock
    TRANSFER = "transfer"  # between warehouses / stockpiles
    DISPATCH = "dispatch"  # a shipment leaves: stock -> in transit
    ARRIVAL = "arrival"  # a shipment is received: in transit -> stock
    LOSS = "loss"  # a shipment's discrepancy: in transit -> lost
    CONSUME = "consume"  # used: stock -> consumed
    COUNT = "count"  # a stock count found more or less than the books: adjustment <-> stock
    REVERSAL = "reversal"  # a correction: every leg of an earlier transaction negated


_ONHAND = {AccountKind.STOCK, AccountKind.STOCKPILE}
#: movement -> (kinds it may credit, kinds it may debit)
ALLOWED: dict[Movement, tuple[frozenset[AccountKind], frozenset[AccountKind]]] = {
    Movement.RECEIPT: (frozenset({AccountKind.SUPPLY}), frozenset(_ONHAND)),
    Movement.DONATION: (frozenset({AccountKind.DONATED}), frozenset(_ONHAND)),
    Movement.TRANSFER: (frozenset(_ONHAND), frozenset(_ONHAND)),
    Movement.DISPATCH: (frozenset(_ONHAND), frozenset({AccountKind.IN_TRANSIT})),
    Movement.ARRIVAL: (frozenset({AccountKind.IN_TRANSIT}), frozenset(_ONHAND)),
    Movement.LOSS: (frozenset({AccountKind.IN_TRANSIT}), frozenset({AccountKind.LOST})),
    Movement.CONSUME: (frozenset(_ONHAND), frozenset({AccountKind.CONSUMED})),
    Movement.COUNT: (
        frozenset(_ONHAND | {AccountKind.ADJUSTMENT}),
        frozenset(_ONHAND | {AccountKind.ADJUSTMENT}),
    ),
}


@dataclass(frozen=True, slots=True)
class Leg:
    account: int
    resource: int
    quantity: int  # thousandths of a unit; > 0 debit, < 0 credit


def move(
    movement: Movement,
    source: int,
    source_kind: AccountKind,
    target: int,
    target_kind: AccountKind,
    resource: int,
    quantity: int,
) -> list[Leg]:
    """The two legs of moving ``quantity`` of ``resource`` from ``source`` to ``target``, checked against the rules."""
    if movement is Movement.REVERSAL:
        raise AccordError("a reversal is made with reverse(), not move()")
    credits, debits = ALLOWED[movement]
    if source_kind not in credits:
        raise AccordError(
            "movement not allowed",
            [Problem(f"a {movement} cannot take units from a {source_kind} account", field="from")],
        )
    if target_kind not in debits:
        raise AccordError(
            "movement not allowed",
            [Problem(f"a {movement} cannot put units into a {target_kind} account", field="to")],
        )
    if movement is Movement.COUNT and AccountKind.ADJUSTMENT not in (source_kind, target_kind):
        raise AccordError("movement not allowed", [Problem("a stock count moves units to or from adjustment")])
    if source == target:
        raise AccordError("movement not allowed", [Problem("the source and the target are the same account")])
    if quantity <= 0:
        raise AccordError("invalid quantity", [Problem("a movement moves a positive quantity", field="quantity")])
    return [Leg(source, resource, -quantity), Leg(target, resource, quantity)]


def check_balanced(legs: Sequence[Leg]) -> None:
    """Refuse a transaction that is not balanced (per resource) or has empty legs."""
    if len(legs) < 2:
        raise AccordError("unbalanced transaction", [Problem("a transaction has at least two legs")])
    totals: dict[int, int] = {}
    for leg in legs:
        if not isinstance(leg.quantity, int) or leg.quantity == 0:
            raise AccordError(
                "invalid transaction", [Problem("every leg moves a non-zero whole number of thousandths")]
            )
        totals[leg.resource] = totals.get(leg.resource, 0) + leg.quantity
    off = {r: t for r, t in totals.items() if t != 0}
    if off:
        r, t = next(iter(off.items()))
        raise AccordError("unbalanced transaction", [Problem(f"resource {r} is off by {t} thousandths")])


def reverse(legs: Sequence[Leg]) -> list[Leg]:
    return [Leg(leg.account, leg.resource, -leg.quantity) for leg in legs]


# ------------------------------------------------------------------------------------------ balances
ENTRY_COLUMNS = ["account", "resource", "day", "quantity"]


def balances(entries: pd.DataFrame, at: date | None = None) -> pd.Series:
    """Balance (thousandths) per (account, resource) of the entries dated on or before ``at`` (all when None)."""
    if at is not None and len(entries):
        entries = entries[entries["day"] <= at]
    if entries.empty:
        return pd.Series([], dtype=np.int64, index=pd.MultiIndex.from_arrays([[], []], names=["account", "resource"]))
    return entries.groupby(["account", "resource"])["quantity"].sum().astype(np.int64)


def lowest_after(entries: pd.DataFrame, keys: Iterable[tuple[int, int]], start: date) -> dict[tuple[int, int], int]:
    """For each (account, resource), the lowest end-of-day balance on any day from ``start`` on.

    Back-dated movements must not leave a hole later on: a warehouse that held 10 on Monday and shipped all 10 on
    Tuesday cannot have 5 more consumed back-dated to Monday, because Tuesday would end at -5.
    """
    wanted = set(keys)
    out: dict[tuple[int, int], int] = {k: 0 for k in wanted}
    if entries.empty or not wanted:
        return out
    shift = np.int64(1 << 32)
    key = entries["account"].to_numpy(np.int64) * shift + entries["resource"].to_numpy(np.int64)
    mask = np.isin(key, np.array([a * (1 << 32) + r for a, r in wanted], dtype=np.int64))
    day = _day_numbers(entries["day"])[mask]
    qty = entries["quantity"].to_numpy(np.int64)[mask]
    key = key[mask]
    order = np.lexsort((day, key))
    key, day, qty = key[order], day[order], qty[order]
    n = len(key)
    if n == 0:
        return out
    # running balance within each (account, resource); end of day = the last row of each (key, day)
    first_of_key = np.r_[True, key[1:] != key[:-1]]
    start_idx = np.maximum.accumulate(np.where(first_of_key, np.arange(n), 0))
    csum = np.cumsum(qty)
    running = csum - np.where(start_idx > 0, csum[start_idx - 1], 0)
    end_of_day = np.r_[(key[1:] != key[:-1]) | (day[1:] != day[:-1]), True]
    s0 = _day_numbers(pd.Series([start]))[0]
    bounds = [*np.flatnonzero(first_of_key).tolist(), n]
    for lo, hi in itertools.pairwise(bounds):
        eod = end_of_day[lo:hi]
        r, d = running[lo:hi][eod], day[lo:hi][eod]
        early = d < s0
        floor = int(r[early][-1]) if early.any() else 0
        later = r[~early]
        k = (int(key[lo] // shift), int(key[lo] % shift))
        if not len(later):
            out[k] = floor
        elif d[~early][0] == s0:  # the balance carried in counts only if nothing moved on the first day
            out[k] = int(later.min())
        else:
            out[k] = min(floor, int(later.min()))
    return out


def _day_numbers(days: pd.Series) -> NDArray[np.int64]:
    """Dates (date objects or timestamps) as whole days since 1970."""
    values: NDArray[np.int64] = pd.to_datetime(days).to_numpy().astype("datetime64[D]").astype(np.int64)
    return values


def burn_rate(consumed: pd.DataFrame, at: date, window: int = 7) -> pd.Series:
    """Mean daily consumption (thousandths per day) per (account, resource) over the ``window`` days ending ``at``.

    ``consumed`` has columns account (the holding account the units left), resource, day, quantity (> 0).
    """
    if consumed.empty:
        return pd.Series([], dtype=np.float64)
    start = pd.Timestamp(at) - pd.Timedelta(days=window - 1)
    days = pd.to_datetime(consumed["day"])
    mask = (days >= start) & (days <= pd.Timestamp(at))
    return consumed[mask].groupby(["account", "resource"])["quantity"].sum().astype(np.float64) / window


def days_of_supply(on_hand: NDArray[np.float64], daily_use: NDArray[np.float64]) -> NDArray[np.float64]:
    """On hand divided by daily use; infinite where nothing is used, 0 where nothing is on hand and some is used."""
    on = np.asarray(on_hand, dtype=np.float64)
    use = np.asarray(daily_use, dtype=np.float64)
    out = np.full(np.broadcast(on, use).shape, np.inf)
    np.divide(on, use, out=out, where=use > 0)
    result: NDArray[np.float64] = np.maximum(out, 0.0)
    return result


# ---------------------------------------------------------------------------------------- in memory
@dataclass
class Book:
    """A whole ledger in memory with the same rules as the database one (used by property tests and tools)."""

    kinds: dict[int, AccountKind]
    transactions: list[tuple[date, list[Leg]]] = field(default_factory=list)
    reversed: set[int] = field(default_factory=set)

    def entries(self) -> pd.DataFrame:
        rows = [(leg.account, leg.resource, day, leg.quantity) for day, legs in self.transactions for leg in legs]
        return pd.DataFrame(rows, columns=ENTRY_COLUMNS)

    def post(self, day: date, legs: list[Leg]) -> int:
        check_balanced(legs)
        self._check_holdings(day, legs)
        self.transactions.append((day, legs))
        return len(self.transactions) - 1

    def reverse(self, txn: int, day: date) -> int:
        if txn in self.reversed:
            raise AccordError(f"transaction {txn} was already reversed")
        tid = self.post(day, reverse(self.transactions[txn][1]))
        self.reversed.add(txn)
        return tid

    def _check_holdings(self, day: date, legs: list[Leg]) -> None:
        entries = pd.concat(
            [
                self.entries(),
                pd.DataFrame([(g.account, g.resource, day, g.quantity) for g in legs], columns=ENTRY_COLUMNS),
            ]
        )
        keys = [(g.account, g.resource) for g in legs if g.quantity < 0 and self.kinds[g.account] in HOLDING]
        for (a, r), low in lowest_after(entries, keys, day).items():
            if low < 0:
                raise AccordError(
                    "not enough stock", [Problem(f"account {a} would hold {low} thousandths of resource {r}")]
                )
