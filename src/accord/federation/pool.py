"""The international pool of emergency supplies (pure: posts in, proposed shipments out).

Members post needs (quantity of a resource by a day) and offers (quantity available from a day, donated or
sold at a price, optionally earmarked for some destinations). The hub turns them into one allocation problem
for ``accord.resources.optimiser``:

- **nodes**: every member that needs something, plus one supply node per *offer group* (same member, donor,
  price and earmark); a group's offers arrive at its node on their days;
- **routes**: from each offer group to each member with a need, except its own member and destinations outside
  the earmark; ``allowed[route, resource] = False`` where the offering member bans the export of that resource
  to that destination (export bans are missing arcs, so no flow can cross them);
- **lead time**: ``default_lead_days``, or a green channel's shorter lead time on that lane;
- **cost** per unit: 1 for a donation, 1 + ``price_weight`` x price for a sale (so donations go first at equal
  need, while every cost stays small next to the shortfall penalty);
- **priority** of a member's shortfall: 1 + ``vulnerability_weight`` x vulnerability (0..1), so vulnerable
  health systems are served first when there is not enough.

The optimiser minimises priority-weighted unmet need, then cost. Flows out of a group are split over its offers
first-posted first, so every proposed shipment names the offer it comes from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from accord.errors import AccordError, Problem
from accord.resources import optimiser

SHIPMENT_COLUMNS = ["offer_id", "origin", "destination", "resource", "quantity", "depart_day", "arrive_day", "price"]


@dataclass(frozen=True)
class Need:
    member: str
    resource: str
    quantity: float
    day: int  # days after the pool's first day


@dataclass(frozen=True)
class Offer:
    id: int
    member: str
    resource: str
    quantity: float
    day: int
    price: float = 0.0
    donor: str = ""
    earmark: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ExportBan:
    """``member`` does not let ``resource`` ('*' = any) leave for ``destination`` ('*' = anywhere)."""

    member: str
    resource: str = "*"
    destination: str = "*"


@dataclass(frozen=True)
class PoolProblem:
    days: int
    needs: Sequence[Need]
    offers: Sequence[Offer]
    vulnerability: dict[str, float]
    bans: Sequence[ExportBan] = ()
    #: green channels: (origin member, destination member) -> lead days
    lanes: dict[tuple[str, str], int] | None = None
    default_lead_days: int = 5
    price_weight: float = 0.01
    vulnerability_weight: float = 2.0


@dataclass(frozen=True)
class PoolPlan:
    shipments: pd.DataFrame  # SHIPMENT_COLUMNS
    unmet: pd.DataFrame  # member, resource, need, unmet
    plan: optimiser.Plan


def _check(problem: PoolProblem) -> None:
    problems = []
    for i, n in enumerate(problem.needs):
        if not (n.quantity > 0 and 0 <= n.day < problem.days):
            problems.append(
                Problem(f"need {i + 1} of {n.member}: quantity must be > 0 and day within the horizon", field="needs")
            )
    for o in problem.offers:
        if not (o.quantity > 0 and 0 <= o.day < problem.days and o.price >= 0):
            problems.append(
                Problem(f"offer {o.id} of {o.member}: quantity > 0, price >= 0, day within the horizon", field="offers")
            )
    if problem.default_lead_days < 0 or any(v < 0 for v in (problem.lanes or {}).values()):
        problems.append(Problem("lead days must be >= 0", field="lead_days"))
    if problems:
        raise AccordError("the pool cannot be solved", problems[:50], total=len(problems))


#: offer groups: (member, donor, price, earmark), one supply node each
Groups = list[tuple[str, str, float, tuple[str, ...] | None]]


def _groups(offers: Sequence[Offer]) -> tuple[Groups, np.ndarray]:
    keys = [(o.member, o.donor, o.price, o.earmark) for o in offers]
    distinct = list(dict.fromkeys(keys))
    index = {k: i for i, k in enumerate(distinct)}
    return distinct, np.array([index[k] for k in keys], dtype=np.int64)


def build(problem: PoolProblem) -> tuple[optimiser.AllocationProblem, Groups]:
    """The optimiser's problem for the pool, and the offer groups behind its supply nodes (in node order)."""
    _check(problem)
    resources = tuple(sorted({n.resource for n in problem.needs} | {o.resource for o in problem.offers}))
    needers = sorted({n.member for n in problem.needs})
    groups, group_of = _groups(problem.offers)
    nodes = (*needers, *(f"offer:{g[0]}:{i}" for i, g in enumerate(groups)))
    n_nodes, n_res = len(needers) + len(groups), len(resources)
    r_of = {r: i for i, r in enumerate(resources)}
    demand, supply = _demand_supply(problem, needers, group_of, r_of, n_nodes)
    vulnerability = np.array([problem.vulnerability.get(m, 0.0) for m in needers] + [0.0] * len(groups))
    return (
        optimiser.AllocationProblem(
            nodes=tuple(nodes),
            resources=resources,
            reusable=np.zeros(n_res, dtype=bool),
            use_days=np.ones(n_res, dtype=np.int64),
            days=problem.days,
            initial_stock=np.zeros((n_nodes, n_res)),
            supply=supply,
            demand=demand,
            routes=_routes(problem, needers, groups, r_of),
            priority=1.0 + problem.vulnerability_weight * np.clip(vulnerability, 0.0, 1.0),
        ),
        groups,
    )


def _demand_supply(
    problem: PoolProblem, needers: list[str], group_of: np.ndarray, r_of: dict[str, int], n_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, resources, days) needs at the needing members' nodes, offers at their groups' nodes."""
    n_need, days = len(needers), problem.days
    m_of = {m: i for i, m in enumerate(needers)}
    demand = np.zeros((n_nodes, len(r_of), days))
    if problem.needs:
        np.add.at(
            demand,
            (
                [m_of[n.member] for n in problem.needs],
                [r_of[n.resource] for n in problem.needs],
                [n.day for n in problem.needs],
            ),
            [n.quantity for n in problem.needs],
        )
    supply = np.zeros((n_nodes, len(r_of), days))
    if problem.offers:
        np.add.at(
            supply,
            (
                n_need + group_of,
                np.array([r_of[o.resource] for o in problem.offers]),
                np.array([o.day for o in problem.offers]),
            ),
            [o.quantity for o in problem.offers],
        )
    return demand, supply


def _routes(problem: PoolProblem, needers: list[str], groups: Groups, r_of: dict[str, int]) -> optimiser.Routes:
    """Every offer group to every member with a need (not its own), within its earmark; export bans close a
    route for a resource (or all); lead times from the green channels, else the default."""
    n_need, n_res = len(needers), len(r_of)
    grid_origin, grid_dest = np.meshgrid(np.arange(len(groups)), np.arange(n_need), indexing="ij")
    origin, dest = grid_origin.ravel(), grid_dest.ravel()
    group_member = np.array([g[0] for g in groups], dtype=object)
    need_member = np.array(needers, dtype=object)
    keep = group_member[origin] != need_member[dest]
    for gi, g in enumerate(groups):
        if g[3] is not None:
            keep &= ~((origin == gi) & ~np.isin(need_member[dest], list(g[3])))
    origin, dest = origin[keep], dest[keep]
    allowed = np.ones((len(origin), n_res), dtype=bool)
    for ban in problem.bans:
        hit = group_member[origin] == ban.member
        if ban.destination != "*":
            hit &= need_member[dest] == ban.destination
        cols = slice(None) if ban.resource == "*" else ([r_of[ban.resource]] if ban.resource in r_of else [])
        allowed[np.ix_(hit, np.arange(n_res)[cols])] = False
    lanes = problem.lanes or {}
    lead = np.array(
        [
            lanes.get((group_member[o], need_member[d]), problem.default_lead_days)
            for o, d in zip(origin, dest, strict=True)
        ],
        dtype=np.int64,
    )
    price = np.array([g[2] for g in groups], dtype=np.float64)
    return optimiser.Routes(
        origin=(n_need + origin).astype(np.int64),
        destination=dest.astype(np.int64),
        lead_days=lead,
        unit_cost=1.0 + problem.price_weight * price[origin],
        allowed=allowed,
    )


def solve(problem: PoolProblem, options: optimiser.Options | None = None) -> PoolPlan:
    alloc, groups = build(problem)
    plan = optimiser.solve(alloc, options or optimiser.Options())
    shipments = _name_offers(plan.shipments, problem.offers, groups, len(alloc.nodes) - len(groups), alloc.nodes)
    need = alloc.demand.sum(axis=2)
    unmet = plan.shortfall.sum(axis=2)
    n_need = len(alloc.nodes) - len(groups)
    rows = [
        {
            "member": alloc.nodes[i],
            "resource": alloc.resources[r],
            "need": float(need[i, r]),
            "unmet": float(unmet[i, r]),
        }
        for i in range(n_need)
        for r in range(len(alloc.resources))
        if need[i, r] > 0
    ]
    return PoolPlan(shipments, pd.DataFrame(rows, columns=["member", "resource", "need", "unmet"]), plan)


def _name_offers(
    flows: pd.DataFrame,
    offers: Sequence[Offer],
    groups: Groups,
    n_need: int,
    nodes: tuple[str, ...],
) -> pd.DataFrame:
    """Split each flow out of an offer group over the group's offers, first-posted first (by day, then id)."""
    if flows.empty:
        return pd.DataFrame(columns=SHIPMENT_COLUMNS)
    node_index = {name: i for i, name in enumerate(nodes)}
    remaining = {o.id: o.quantity for o in offers}
    by_group: dict[tuple[int, str], list[Offer]] = {}
    _, group_of = _groups(offers)
    for o, g in zip(offers, group_of, strict=True):
        by_group.setdefault((int(g), o.resource), []).append(o)
    for lst in by_group.values():
        lst.sort(key=lambda o: (o.day, o.id))
    out = []
    for f in flows.sort_values(["depart_day", "origin", "destination"]).to_dict(orient="records"):
        g = node_index[str(f["origin"])] - n_need
        left = float(f["quantity"])
        for o in by_group.get((g, str(f["resource"])), []):
            if left <= 1e-9:
                break
            if o.day > int(f["depart_day"]) or remaining[o.id] <= 1e-9:
                continue
            take = min(left, remaining[o.id])
            remaining[o.id] -= take
            left -= take
            out.append(
                (
                    o.id,
                    groups[g][0],
                    str(f["destination"]),
                    str(f["resource"]),
                    take,
                    int(f["depart_day"]),
                    int(f["arrive_day"]),
                    o.price,
                )
            )
    return pd.DataFrame(out, columns=SHIPMENT_COLUMNS)
