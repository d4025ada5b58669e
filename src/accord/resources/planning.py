"""The allocation problem of a subtree, built from the store: sources (central stockpiles, open offers),
sinks (open needs), lanes (stored routes, or defaults from the distance in the tree) and pairing assistance, as
the arrays :mod:`accord.resources.optimiser` solves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.db import utcnow
from accord.errors import AccordError, Problem
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.resources import catalog, ledger
from accord.resources.catalog_store import ensure_catalog
from accord.resources.checks import MAX_HORIZON_DAYS
from accord.resources.ledger import AccountKind
from accord.resources.model import Account, Entry, Need, Offer, Pairing, ResourceType, Route

#: lanes with no stored route: this many days per two steps in the tree (parent-child), and this cost per step
DEFAULT_DAYS_PER_TWO_HOPS = 1
DEFAULT_COST_PER_HOP = 1.0


def subtree_ids(session: Session, root_id: int) -> list[int]:
    return list(
        session.scalars(select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root_id))
    )


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
    ensure_catalog(session)
    if not (1 <= int(horizon_days) <= MAX_HORIZON_DAYS):
        raise AccordError(
            "invalid horizon",
            [Problem(f"the horizon is 1 to {MAX_HORIZON_DAYS} days, not {horizon_days}", field="horizon_days")],
        )
    inputs = _read_inputs(session, root_code, resource_codes, start or utcnow().date(), int(horizon_days))
    nodes = _source_nodes(session, inputs)
    for n in inputs.needs:
        nodes.add("need", n.id, n.jurisdiction_id)
    init, supply = nodes.stock(len(inputs.rids), inputs.days)
    tree = _TreeDistance(session)
    pairs = _pairs(session)
    lanes = _lanes(session, inputs, nodes, (init > 0) | (supply.sum(axis=2) > 0), tree, pairs)
    demand, priority = _demand(inputs, nodes, lanes)
    # the penalty must dominate every lane's cost, or leaving a need short would be the cheaper plan
    penalty = max(float(shortfall_penalty), 100.0 * max(lanes.cost, default=0.0))
    problem = _problem(inputs, nodes, lanes, (init, supply, demand, priority), _pairing(nodes, tree, pairs), penalty)
    inst = ProblemInstance(problem, inputs.start, inputs.root.id, nodes.kinds, nodes.refs, nodes.place, inputs.rids)
    if nodes.n_sources == 0:
        inst.warnings.append(
            f"no stockpile or open offer under {inputs.root.code} holds any of the resources asked for"
        )
    return inst


def _pairs(session: Session) -> list[tuple[int, int, bool]]:
    """Every stored pairing: (supporter, supported, exclusive)."""
    rows = session.execute(select(Pairing.supporter_id, Pairing.supported_id, Pairing.exclusive)).all()
    return [(int(s), int(t), bool(e)) for s, t, e in rows]


@dataclass
class _Inputs:
    """What the store holds for one plan: the open needs of the chosen resources and the sources that may serve
    them (open offers, central stockpiles), in id order."""

    root: Jurisdiction
    start: date
    days: int
    members: list[int]
    types: dict[int, ResourceType]
    rids: list[int]
    needs: list[Need]
    offers: list[Offer]
    piles: list[Account]

    @property
    def rindex(self) -> dict[int, int]:
        return {rid: k for k, rid in enumerate(self.rids)}


def _read_inputs(
    session: Session, root_code: str, resource_codes: Sequence[str] | None, start: date, days: int
) -> _Inputs:
    root = places.get(session, root_code)
    members = subtree_ids(session, root.id)
    needs = session.scalars(
        select(Need)
        .where(Need.jurisdiction_id.in_(members), Need.closed_at.is_(None), Need.quantity > Need.allocated)
        .order_by(Need.id)
    ).all()
    types = {r.id: r for r in session.scalars(select(ResourceType))}
    rids = _resource_ids(types, resource_codes, needs)
    needs = [n for n in needs if n.resource_id in rids]
    if not needs:
        raise AccordError(
            "nothing to plan",
            [Problem(f"there are no open needs under {root.code} for the chosen resources", field="resources")],
        )
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
    return _Inputs(root, start, days, members, types, rids, list(needs), list(offers), list(piles))


def _resource_ids(
    types: dict[int, ResourceType], resource_codes: Sequence[str] | None, needs: Sequence[Need]
) -> list[int]:
    """The resources asked for (all those with open needs when none is named), in the order asked."""
    if not resource_codes:
        return sorted({n.resource_id for n in needs})
    by_code = {r.code: r for r in types.values()}
    unknown = [c for c in resource_codes if c not in by_code]
    if unknown:
        raise AccordError("unknown resource", [Problem(f"unknown resource '{unknown[0]}'", field="resources")])
    return [by_code[c].id for c in resource_codes]


@dataclass
class _Nodes:
    """The optimiser's nodes in order (sources first, then needs) and the units each source brings: on hand from
    day 0 (stockpiles) or from the day an offer opens."""

    kinds: list[str] = field(default_factory=list)
    refs: list[int] = field(default_factory=list)
    place: list[int] = field(default_factory=list)
    #: (node, resource position, units) and (node, resource position, day, units)
    on_hand: list[tuple[int, int, float]] = field(default_factory=list)
    arriving: list[tuple[int, int, int, float]] = field(default_factory=list)
    n_sources: int = 0

    def add(self, kind: str, ref: int, jid: int) -> None:
        self.kinds.append(kind)
        self.refs.append(ref)
        self.place.append(jid)

    def stock(self, n_res: int, days: int) -> tuple[np.ndarray, np.ndarray]:
        """(nodes, resources) initial stock and (nodes, resources, days) supply."""
        init = np.zeros((len(self.kinds), n_res))
        supply = np.zeros((len(self.kinds), n_res, days))
        for i, r, units in self.on_hand:
            init[i, r] += units
        for i, r, t, units in self.arriving:
            supply[i, r, t] += units
        return init, supply


def _source_nodes(session: Session, inputs: _Inputs) -> _Nodes:
    """A node per open offer and per stockpile with something to give. An account's units are counted once:
    first by its open offers (in order), the rest as stockpile."""
    nodes, rindex = _Nodes(), inputs.rindex
    accounts = [a.id for a in inputs.piles] + [o.account_id for o in inputs.offers]
    budget = dict(_available(session, accounts, inputs.rids, inputs.start))
    for o in inputs.offers:
        key = (o.account_id, o.resource_id)
        q = min(o.quantity - o.allocated, budget.get(key, 0))
        if q <= 0:
            continue
        budget[key] = budget.get(key, 0) - q
        t = max((o.from_date - inputs.start).days, 0)
        nodes.arriving.append((len(nodes.kinds), rindex[o.resource_id], t, q / catalog.SCALE))
        nodes.add("offer", o.id, o.jurisdiction_id)
    for a in inputs.piles:
        left = {rid: budget.get((a.id, rid), 0) for rid in inputs.rids}
        if not any(v > 0 for v in left.values()):
            continue
        for rid, q in left.items():
            if q > 0:
                nodes.on_hand.append((len(nodes.kinds), rindex[rid], q / catalog.SCALE))
        nodes.add("stockpile", a.id, a.jurisdiction_id)
    nodes.n_sources = len(nodes.kinds)
    return nodes


class _TreeDistance:
    """Ancestors of a place, and the steps between two places through their lowest common ancestor."""

    def __init__(self, session: Session) -> None:
        tree = places.load_index(session)
        self.depth = dict(zip(tree.ids.tolist(), tree.depth.tolist(), strict=True))
        self.parent = dict(zip(tree.ids.tolist(), tree.parent_ids.tolist(), strict=True))
        self._ancestors: dict[int, set[int]] = {}

    def ancestors(self, jid: int) -> set[int]:
        """The place and every place above it."""
        if jid not in self._ancestors:
            out, cur = set(), jid
            while cur >= 0:
                out.add(cur)
                cur = self.parent.get(cur, -1)
            self._ancestors[jid] = out
        return self._ancestors[jid]

    def hops(self, a: int, b: int) -> int:
        common = self.ancestors(a) & self.ancestors(b)
        lca_depth = max(int(self.depth[c]) for c in common) if common else 0
        return int(self.depth[a]) + int(self.depth[b]) - 2 * lca_depth


@dataclass
class _Lanes:
    """One row per (source, need) a shipment may join: lead time, unit cost (shipping plus an offer's price) and
    the one resource it carries."""

    origin: list[int] = field(default_factory=list)
    dest: list[int] = field(default_factory=list)
    lead: list[int] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    allowed: list[np.ndarray] = field(default_factory=list)


def _lanes(
    session: Session,
    inputs: _Inputs,
    nodes: _Nodes,
    has: np.ndarray,
    tree: _TreeDistance,
    pairs: list[tuple[int, int, bool]],
) -> _Lanes:
    """Every source holding the resource of a need, unless an earmark, a partners-only offer or a closed route
    keeps them apart."""
    stored = {
        (r.origin_id, r.destination_id): r
        for r in session.scalars(select(Route).where(Route.origin_id.in_(inputs.members)))
    }
    supported_by: dict[int, set[int]] = {}
    for s, t, _ in pairs:
        supported_by.setdefault(s, set()).add(t)
    offer_of = {o.id: o for o in inputs.offers}
    need_of = {n.id: n for n in inputs.needs}
    lanes, rindex, n_res = _Lanes(), inputs.rindex, len(inputs.rids)
    for j in range(nodes.n_sources, len(nodes.kinds)):
        need = need_of[nodes.refs[j]]
        r = rindex[need.resource_id]
        for i in range(nodes.n_sources):
            if not has[i, r]:
                continue
            offer = offer_of[nodes.refs[i]] if nodes.kinds[i] == "offer" else None
            if offer is not None and not _offer_reaches(offer, tree.ancestors(need.jurisdiction_id), supported_by):
                continue
            found = _lane(
                stored.get((nodes.place[i], need.jurisdiction_id)), nodes.place[i], need.jurisdiction_id, tree
            )
            if found is None:
                continue
            mask = np.zeros(n_res, bool)
            mask[r] = True
            lanes.origin.append(i)
            lanes.dest.append(j)
            lanes.lead.append(int(found[0]))
            lanes.cost.append(float(found[1]) + (float(offer.unit_price) if offer is not None else 0.0))
            lanes.allowed.append(mask)
    return lanes


def _offer_reaches(offer: Offer, need_path: set[int], supported_by: dict[int, set[int]]) -> bool:
    """An earmarked offer serves only the earmarked subtree; a partners-only one only the places it supports."""
    if offer.earmark_id is not None and offer.earmark_id not in need_path:
        return False
    return not (offer.partners_only and not (supported_by.get(offer.jurisdiction_id, set()) & need_path))


def _lane(route: Route | None, src: int, dst: int, tree: _TreeDistance) -> tuple[int, float] | None:
    """(lead days, unit cost) from ``src`` to ``dst``: none within a place, the stored route, else a default from
    the distance in the tree; None when the stored route is closed."""
    if route is not None and route.closed:
        return None
    if src == dst:
        return 0, 0.0
    if route is not None:
        return route.lead_days, route.unit_cost
    h = tree.hops(src, dst)
    return math.ceil(h / 2) * DEFAULT_DAYS_PER_TWO_HOPS, h * DEFAULT_COST_PER_HOP


def _demand(inputs: _Inputs, nodes: _Nodes, lanes: _Lanes) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, resources, days) demand on each need's day and the need nodes' priorities. A need due before
    anything can reach it is planned for the earliest arrival instead of given up."""
    demand = np.zeros((len(nodes.kinds), len(inputs.rids), inputs.days))
    priority = np.ones(len(nodes.kinds))
    earliest: dict[int, int] = {}
    for j, d in zip(lanes.dest, lanes.lead, strict=True):
        earliest[j] = min(earliest.get(j, d), d)
    need_of = {n.id: n for n in inputs.needs}
    rindex = inputs.rindex
    for j in range(nodes.n_sources, len(nodes.kinds)):
        need = need_of[nodes.refs[j]]
        t = min(max((need.by_date - inputs.start).days, earliest.get(j, 0)), inputs.days - 1)
        demand[j, rindex[need.resource_id], t] += (need.quantity - need.allocated) / catalog.SCALE
        priority[j] = float(need.priority)
    return demand, priority


def _pairing(nodes: _Nodes, tree: _TreeDistance, pairs: list[tuple[int, int, bool]]) -> Any:
    """Pairing assistance between source and need nodes: a source's place paired with the need's place or a
    place above it (the nearest such pairing found decides whether it is exclusive). None when there is none."""
    from accord.resources import optimiser as opt

    supported_pairs = {(s, t): e for s, t, e in pairs}
    sup_idx: list[int] = []
    sup_to: list[int] = []
    excl: list[bool] = []
    for i in range(nodes.n_sources):
        for j in range(nodes.n_sources, len(nodes.kinds)):
            for t in tree.ancestors(nodes.place[j]):
                if (nodes.place[i], t) in supported_pairs:
                    sup_idx.append(i)
                    sup_to.append(j)
                    excl.append(bool(supported_pairs[(nodes.place[i], t)]))
                    break
    if not sup_idx:
        return None
    return opt.Pairing(np.asarray(sup_idx, np.int64), np.asarray(sup_to, np.int64), np.asarray(excl, bool))


def _problem(
    inputs: _Inputs,
    nodes: _Nodes,
    lanes: _Lanes,
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    pairing: Any,
    shortfall_penalty: float,
) -> Any:
    """The optimiser's problem: every resource consumed on arrival (see :func:`build_problem`)."""
    from accord.resources import optimiser as opt

    init, supply, demand, priority = arrays
    n_res = len(inputs.rids)
    return opt.AllocationProblem(
        nodes=tuple(f"{k}:{ref}" for k, ref in zip(nodes.kinds, nodes.refs, strict=True)),
        resources=tuple(inputs.types[rid].code for rid in inputs.rids),
        reusable=np.zeros(n_res, bool),
        use_days=np.ones(n_res, np.int64),
        days=inputs.days,
        initial_stock=init,
        supply=supply,
        demand=demand,
        routes=opt.Routes(
            origin=np.asarray(lanes.origin, np.int64),
            destination=np.asarray(lanes.dest, np.int64),
            lead_days=np.asarray(lanes.lead, np.int64),
            unit_cost=np.asarray(lanes.cost, np.float64),
            allowed=np.asarray(lanes.allowed, bool).reshape(len(lanes.origin), n_res),
        ),
        priority=priority,
        pairing=pairing,
        shortfall_penalty=shortfall_penalty,
    )
