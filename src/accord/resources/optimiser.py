"""Allocation optimiser: who sends how much of what to whom, and when (pure: arrays in, plan out).

The problem is a time-expanded network per resource: one graph node per (place, day), a holding arc from each day
to the next (stock kept), a shipment arc for every open route and departure day (arriving ``lead_days`` later),
and a *serving* arc per (place, day) whose capacity is the demand and whose cost is minus the priority-weighted
shortfall penalty. Serving a unit of a consumable ends its path; serving with a reusable unit occupies it for
``use_days`` and then returns it to the same place's stock. Minimising cost therefore minimises
``sum(priority * penalty * shortfall) + shipping + holding``.

Solvers (see docs/resources-optimiser.md):

* ``equity="total"`` with whole-number quantities and no coupling constraint: OR-Tools ``SimpleMinCostFlow``
  (network simplex-like cost scaling), one independent problem per resource. Fastest and exact.
* dual prices, ``equity="minmax"``, ``equity="participation"``, a shared route capacity (couples resources) or
  fractional quantities: the same arcs as a sparse LP solved by HiGHS (dual simplex), built as one CSC matrix
  with numpy/scipy, never row by row.

Nothing here touches a database, the web or the CLI; errors are ``accord.errors.AccordError``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accord.errors import AccordError, Problem

Equity = Literal["total", "minmax", "participation"]
SolverChoice = Literal["auto", "network", "lp"]
LpMethod = Literal["auto", "simplex", "ipm"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


# ------------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Routes:
    """Directed routes between nodes (one row per route; all arrays have the same length).

    A route missing from these arrays is a closed route; ``allowed[route, resource] = False`` is an export ban
    or any per-resource closure (e.g. a country that bans mask exports keeps its ventilator lanes open).
    """

    #: index into ``AllocationProblem.nodes`` of the sender
    origin: IntArray
    #: index into ``AllocationProblem.nodes`` of the receiver
    destination: IntArray
    #: whole days between departure and arrival (0 = same day); a shipment departing on day t arrives on t + lead
    lead_days: IntArray
    #: cost per unit shipped (any currency-like unit; must be >= 0 and small next to the shortfall penalty)
    unit_cost: FloatArray
    #: (routes, resources) most units of that resource departing per day; ``np.inf`` = unlimited; None = unlimited
    capacity: FloatArray | None = None
    #: (routes, resources) False where the resource may not travel this route (export ban); None = all allowed
    allowed: BoolArray | None = None
    #: (routes,) most units of *all resources together* departing per day (a truck, a flight); couples the
    #: resources, so it is solved as one LP by HiGHS. None = no such limit
    shared_capacity: FloatArray | None = None

    def __len__(self) -> int:
        return len(self.origin)


@dataclass(frozen=True)
class Pairing:
    """Pairing assistance (supporter -> supported), e.g. a province paired with a struck city.

    A *preferred* pair multiplies the unit cost of the supporter's routes to the supported node by
    ``AllocationProblem.pairing_discount`` (so the optimiser uses them first at equal need). An *exclusive* pair
    closes every route of the supporter to nodes that are not among its supported nodes (a supporter may have
    several exclusive partners; it may still receive from anyone).
    """

    supporter: IntArray
    supported: IntArray
    exclusive: BoolArray


@dataclass(frozen=True)
class AllocationProblem:
    """One allocation instance. N nodes, R resources, T days; arrays are indexed [node, resource, day].

    Nodes are any places that hold, receive or send stock: regions (demand), depots, central stockpiles,
    factories, donors. A source is simply a node with ``initial_stock`` or ``supply`` (offers, production ramps,
    a field hospital adding beds from a date: all are arrivals of units at a node on a day).

    Demand semantics: for a consumable, ``demand[n, r, t]`` units are used up on day t. For a reusable resource
    with ``use_days = k``, ``demand[n, r, t]`` units *start* service on day t and return to n's stock on day t + k;
    with k = 1 the demand is simply the number of units needed in service that day (beds or ventilators occupied),
    which is the usual way to state it.
    """

    nodes: tuple[str, ...]
    resources: tuple[str, ...]
    #: (R,) True for beds, ventilators, staff; False for masks, tests, food
    reusable: BoolArray
    #: (R,) days a reusable unit is occupied per use (>= 1; ignored for consumables)
    use_days: IntArray
    days: int
    #: (N, R) units on hand at the start of day 0
    initial_stock: FloatArray
    #: (N, R, T) units arriving at a node on a day from outside the network (offers, production, new beds)
    supply: FloatArray
    #: (N, R, T) units needed (see class docstring)
    demand: FloatArray
    routes: Routes
    #: (N,) weight of one unit of shortfall at the node (e.g. 1 normal, 3 for a vulnerable health system)
    priority: FloatArray | None = None
    pairing: Pairing | None = None
    #: (R,) cost of keeping one unit one day; None = 0.01 for every resource (keeps stock from idling in transit)
    holding_cost: FloatArray | None = None
    #: cost of one unit of unmet demand at priority 1 (must dominate every shipping and holding cost)
    shortfall_penalty: float = 1000.0
    #: unit-cost multiplier on preferred pairing arcs
    pairing_discount: float = 0.5


@dataclass(frozen=True)
class Options:
    """How to solve.

    ``equity``: "total" minimises total priority-weighted shortfall; "minmax" first minimises, per resource, the
    largest share of a node's demand over the horizon left unmet, then the total cost with that share fixed
    (lexicographic); "participation" minimises the total while no node's unmet demand (per resource, over the
    horizon) exceeds what it would have been alone, with its own stock and no shipments in or out.
    ``solver``: "auto" picks the network solver when it applies (see module docstring), "network" demands it
    (error if it does not apply), "lp" forces HiGHS. ``duals=True`` also returns dual prices (forces the LP).
    ``max_shortfall_share``: a hard cap on every node's unmet share; when it cannot be met the solver says which
    node and resource cannot be served. The LP reports its certified optimality gap in ``Plan.extra``
    (``lp_relative_gap``, and ``minmax_relative_gap`` for the min-max stage): (primal - dual) / max(1, |primal|).
    """

    equity: Equity = "total"
    solver: SolverChoice = "auto"
    duals: bool = False
    time_limit_seconds: float = 600.0
    max_shortfall_share: float | None = None
    #: threads for HiGHS, and worker processes for the per-resource network problems (they are independent)
    threads: int = 1
    #: HiGHS algorithm. "auto" and "simplex": dual simplex on a restricted LP that starts from the arcs the
    #: min-cost flow uses and prices in every arc with a negative reduced cost (delayed column generation: exact,
    #: and small). "ipm": interior point without crossover on the full LP (no column generation)
    lp_method: LpMethod = "auto"


# ------------------------------------------------------------------------------------------ outputs
@dataclass(frozen=True)
class Plan:
    """A solved allocation.

    ``shipments``: one row per (origin, destination, resource, depart_day) with quantity > 0; columns origin,
    destination, resource (ids), depart_day, arrive_day, quantity, unit_cost.
    ``shortfall`` / ``served`` / ``stock``: (N, R, T) unmet demand, demand met, and units idle at the node at the
    end of the day (kept for later).
    ``duals``: (N, R, T) decrease of the objective per extra unit available at (node, day), divided by the
    shortfall penalty, i.e. "priority-weighted units of shortfall avoided by one more unit here"; None unless
    asked for.
    ``max_share``: (R,) largest unmet share of any node's demand over the horizon, per resource.
    """

    problem: AllocationProblem
    shipments: pd.DataFrame
    shortfall: FloatArray
    served: FloatArray
    stock: FloatArray
    objective: float
    status: str
    solver: str
    equity: str
    build_seconds: float
    solve_seconds: float
    #: graph nodes, arcs, LP rows, columns, nonzeros (whatever applies to the solver used)
    model_size: dict[str, int]
    duals: FloatArray | None = None
    max_share: FloatArray | None = None
    warnings: tuple[str, ...] = ()
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def total_shortfall(self) -> float:
        return float(self.shortfall.sum())

    def unmet_share(self) -> FloatArray:
        """(N, R) unmet share of each node's demand over the horizon (0 where there is no demand)."""
        need = self.problem.demand.sum(axis=2)
        share: FloatArray = np.divide(self.shortfall.sum(axis=2), need, out=np.zeros_like(need), where=need > 0)
        return share

    def shortfall_frame(self) -> pd.DataFrame:
        """Long table node, resource, day, demand, served, shortfall (rows with demand or shortfall only)."""
        p = self.problem
        n, r, t = np.nonzero((p.demand > 0) | (self.shortfall > 0))
        return pd.DataFrame(
            {
                "node": np.asarray(p.nodes, dtype=object)[n],
                "resource": np.asarray(p.resources, dtype=object)[r],
                "day": t,
                "demand": p.demand[n, r, t],
                "served": self.served[n, r, t],
                "shortfall": self.shortfall[n, r, t],
            }
        )

    def shortfall_by_node(self) -> pd.DataFrame:
        """One row per (node, resource) with demand: total demand, shortfall and unmet share over the horizon."""
        p = self.problem
        need = p.demand.sum(axis=2)
        short = self.shortfall.sum(axis=2)
        n, r = np.nonzero(need > 0)
        return pd.DataFrame(
            {
                "node": np.asarray(p.nodes, dtype=object)[n],
                "resource": np.asarray(p.resources, dtype=object)[r],
                "demand": need[n, r],
                "shortfall": short[n, r],
                "unmet_share": short[n, r] / need[n, r],
            }
        )


# ------------------------------------------------------------------------------------------ checks
def _fail(message: str, field_name: str | None = None) -> AccordError:
    return AccordError("The allocation problem is invalid", [Problem(message, field=field_name)])


def validate(problem: AllocationProblem) -> None:
    """Shapes, signs and indices; raises ``AccordError`` naming the first field that is wrong."""
    p = problem
    if p.days < 1:
        raise _fail("the horizon must be at least one day", "days")
    if len(set(p.nodes)) != len(p.nodes):
        raise _fail("node ids must be unique", "nodes")
    if len(set(p.resources)) != len(p.resources):
        raise _fail("resource ids must be unique", "resources")
    _check_shapes(p)
    _check_values(p)
    _check_indices(p)
    if not p.shortfall_penalty > 0:
        raise _fail("the shortfall penalty must be positive", "shortfall_penalty")


def _check_shapes(p: AllocationProblem) -> None:
    n_nodes, n_res, days = len(p.nodes), len(p.resources), p.days
    shapes: dict[str, tuple[object, tuple[int, ...]]] = {
        "reusable": (p.reusable, (n_res,)),
        "use_days": (p.use_days, (n_res,)),
        "initial_stock": (p.initial_stock, (n_nodes, n_res)),
        "supply": (p.supply, (n_nodes, n_res, days)),
        "demand": (p.demand, (n_nodes, n_res, days)),
    }
    e = len(p.routes)
    optional: dict[str, tuple[object, tuple[int, ...]]] = {
        "priority": (p.priority, (n_nodes,)),
        "holding_cost": (p.holding_cost, (n_res,)),
        "routes.destination": (p.routes.destination, (e,)),
        "routes.lead_days": (p.routes.lead_days, (e,)),
        "routes.unit_cost": (p.routes.unit_cost, (e,)),
        "routes.capacity": (p.routes.capacity, (e, n_res)),
        "routes.allowed": (p.routes.allowed, (e, n_res)),
        "routes.shared_capacity": (p.routes.shared_capacity, (e,)),
    }
    for name, (value, shape) in {**shapes, **optional}.items():
        if value is None and name in optional:
            continue
        got = np.shape(np.asarray(value))
        if got != shape:
            raise _fail(f"expected an array of shape {shape}, got {got}", name)


def _check_values(p: AllocationProblem) -> None:
    numeric = {
        "initial_stock": p.initial_stock,
        "supply": p.supply,
        "demand": p.demand,
        "priority": p.priority,
        "holding_cost": p.holding_cost,
        "routes.unit_cost": p.routes.unit_cost,
        "routes.lead_days": p.routes.lead_days,
    }
    for name, arr in numeric.items():
        if arr is None:
            continue
        a = np.asarray(arr, dtype=float)
        if not np.all(np.isfinite(a)):
            raise _fail("values must be finite numbers", name)
        if np.any(a < 0):
            raise _fail(f"values must not be negative (found {a.min():g})", name)
    for name, arr in {"routes.capacity": p.routes.capacity, "routes.shared_capacity": p.routes.shared_capacity}.items():
        if arr is not None and (np.any(np.isnan(arr)) or np.any(np.asarray(arr) < 0)):
            raise _fail("capacities must be numbers >= 0 (inf for unlimited)", name)
    if np.any(np.asarray(p.use_days) < 1):
        raise _fail("use_days must be at least 1", "use_days")


def _check_indices(p: AllocationProblem) -> None:
    n_nodes, e = len(p.nodes), len(p.routes)
    for name, idx in {"routes.origin": p.routes.origin, "routes.destination": p.routes.destination}.items():
        if e and (np.min(idx) < 0 or np.max(idx) >= n_nodes):
            raise _fail("route ends must be node indices", name)
    if e and np.any(p.routes.origin == p.routes.destination):
        raise _fail("a route must join two different nodes", "routes")
    if p.pairing is not None:
        for name, idx in {"pairing.supporter": p.pairing.supporter, "pairing.supported": p.pairing.supported}.items():
            if len(idx) and (np.min(idx) < 0 or np.max(idx) >= n_nodes):
                raise _fail("pairing ends must be node indices", name)


def _priority(p: AllocationProblem) -> FloatArray:
    return np.ones(len(p.nodes)) if p.priority is None else np.asarray(p.priority, dtype=float)


def _holding(p: AllocationProblem) -> FloatArray:
    return np.full(len(p.resources), 0.01) if p.holding_cost is None else np.asarray(p.holding_cost, dtype=float)


@dataclass(frozen=True)
class OpenRoutes:
    """Routes after pairing rules: per-route cost, capacity and the per-resource allow mask actually used."""

    origin: IntArray
    destination: IntArray
    lead_days: IntArray
    unit_cost: FloatArray
    capacity: FloatArray  # (E, R), inf = unlimited
    allowed: BoolArray  # (E, R)
    route_index: IntArray  # index into problem.routes


def open_routes(p: AllocationProblem) -> OpenRoutes:
    """Apply pairing (discounts, exclusive closures) and the allow mask; drop routes that are closed for all."""
    rt = p.routes
    e, n_res = len(rt), len(p.resources)
    cost = np.asarray(rt.unit_cost, dtype=float).copy()
    allowed = np.ones((e, n_res), bool) if rt.allowed is None else np.asarray(rt.allowed, bool).copy()
    cap = np.full((e, n_res), np.inf) if rt.capacity is None else np.asarray(rt.capacity, dtype=float)
    if p.pairing is not None and len(p.pairing.supporter):
        n = len(p.nodes)
        pair_key = p.pairing.supporter.astype(np.int64) * n + p.pairing.supported
        route_key = rt.origin.astype(np.int64) * n + rt.destination
        paired = np.isin(route_key, pair_key)
        cost[paired] *= p.pairing_discount
        exclusive_supporters = np.unique(p.pairing.supporter[p.pairing.exclusive])
        closed = np.isin(rt.origin, exclusive_supporters) & ~np.isin(route_key, pair_key[p.pairing.exclusive])
        allowed[closed] = False
    keep = allowed.any(axis=1)
    return OpenRoutes(
        origin=np.asarray(rt.origin, np.int64)[keep],
        destination=np.asarray(rt.destination, np.int64)[keep],
        lead_days=np.asarray(rt.lead_days, np.int64)[keep],
        unit_cost=cost[keep],
        capacity=cap[keep],
        allowed=allowed[keep],
        route_index=np.flatnonzero(keep),
    )


def unreachable(p: AllocationProblem, routes: OpenRoutes | None = None) -> list[tuple[int, int]]:
    """(node, resource) pairs with demand that no unit can ever reach: no stock or supply of their own and no
    open path from any node that has some."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order

    routes = routes or open_routes(p)
    n = len(p.nodes)
    has_units = (p.initial_stock + p.supply.sum(axis=2)) > 0
    needs = p.demand.sum(axis=2) > 0
    found: list[tuple[int, int]] = []
    for r in range(len(p.resources)):
        ok = routes.allowed[:, r]
        sources = np.flatnonzero(has_units[:, r])
        # a super-source (index n) joined to every node holding units, then one breadth-first search
        tails = np.concatenate([routes.origin[ok], np.full(len(sources), n)])
        heads = np.concatenate([routes.destination[ok], sources])
        graph = coo_matrix((np.ones(len(tails)), (tails, heads)), shape=(n + 1, n + 1)).tocsr()
        reached = breadth_first_order(graph, n, directed=True, return_predecessors=False)
        cut = np.ones(n + 1, bool)
        cut[reached] = False
        found.extend((int(i), r) for i in np.flatnonzero(cut[:n] & needs[:, r]))
    return found


# ------------------------------------------------------------------------------------------ network
@dataclass(frozen=True)
class _Block:
    """The time-expanded network of one resource. Graph node n*T + t is (node n, day t); node N*T is the sink.

    Arcs are stored in three runs: holding (N*T, in (n, t) order), serving (one per (n, t) with demand), and
    shipping (one per open route and departure day whose arrival falls inside the horizon).
    """

    resource: int
    tail: IntArray
    head: IntArray
    cost: FloatArray
    cap: FloatArray
    node_supply: FloatArray  # (N*T + 1,), the sink's entry is minus the total
    n_hold: int
    serve_at: IntArray  # flat (n, t) index of each serving arc
    ship_route: IntArray  # index into OpenRoutes of each shipping arc
    ship_day: IntArray  # departure day of each shipping arc

    @property
    def n_arcs(self) -> int:
        return len(self.tail)

    @property
    def serve_slice(self) -> slice:
        return slice(self.n_hold, self.n_hold + len(self.serve_at))

    @property
    def ship_slice(self) -> slice:
        return slice(self.n_hold + len(self.serve_at), self.n_arcs)


def _build_block(p: AllocationProblem, routes: OpenRoutes, r: int, weight: FloatArray, hold_cost: float) -> _Block:
    n, days = len(p.nodes), p.days
    sink = n * days
    flat = np.arange(n * days, dtype=np.int64)
    day = flat % days
    # holding: (n, t) -> (n, t+1); the last day drains into the sink at no cost
    hold_head = np.where(day < days - 1, flat + 1, sink)
    hold_cost_arr = np.where(day < days - 1, hold_cost, 0.0)
    # serving: capacity = demand; reusable units come back use_days later (or leave at the horizon)
    dem = p.demand[:, r, :].reshape(-1)
    serve_at = np.flatnonzero(dem > 0)
    if p.reusable[r]:
        back = day[serve_at] + int(p.use_days[r])
        serve_head = np.where(back < days, serve_at + int(p.use_days[r]), sink)
    else:
        serve_head = np.full(len(serve_at), sink, dtype=np.int64)
    serve_cost = -p.shortfall_penalty * weight[serve_at // days]
    # shipping: one arc per open route and departure day that arrives within the horizon
    ok = np.flatnonzero(routes.allowed[:, r] & (routes.lead_days < days) & (routes.capacity[:, r] > 0))
    # only departures when the origin can hold units and arrivals while the destination can still use them
    first, last = _useful_window(p, routes, r, ok)
    lo = first[routes.origin[ok]]
    hi = np.minimum(days - 1, last[routes.destination[ok]]) - routes.lead_days[ok]
    departures = np.maximum(hi - lo + 1, 0)
    ship_route = np.repeat(ok, departures)
    starts = np.repeat(np.cumsum(departures) - departures, departures)
    ship_day = np.arange(len(ship_route), dtype=np.int64) - starts + np.repeat(lo, departures)
    ship_tail = routes.origin[ship_route] * days + ship_day
    ship_head = routes.destination[ship_route] * days + ship_day + routes.lead_days[ship_route]
    supply = p.supply[:, r, :].copy()
    supply[:, 0] += p.initial_stock[:, r]
    node_supply = np.append(supply.reshape(-1), -supply.sum())
    return _Block(
        resource=r,
        tail=np.concatenate([flat, serve_at, ship_tail]),
        head=np.concatenate([hold_head, serve_head, ship_head]),
        cost=np.concatenate([hold_cost_arr, serve_cost, routes.unit_cost[ship_route]]),
        cap=np.concatenate([np.full(n * days, np.inf), dem[serve_at], routes.capacity[ship_route, r]]),
        node_supply=node_supply,
        n_hold=n * days,
        serve_at=serve_at,
        ship_route=ship_route,
        ship_day=ship_day,
    )


def _useful_window(p: AllocationProblem, routes: OpenRoutes, r: int, ok: IntArray) -> tuple[IntArray, IntArray]:
    """(N,) first day a node can hold any unit of resource r, and last day a unit there can still serve demand
    (there or further on). Shipping arcs outside these windows can carry no flow in any optimal plan (they would
    carry nothing, or only units held to the end at a cost), so leaving them out keeps the optimum and shrinks
    the network."""
    n, days = len(p.nodes), p.days
    has = (p.supply[:, r, :] > 0).copy()
    has[:, 0] |= p.initial_stock[:, r] > 0
    first = np.where(has.any(axis=1), np.argmax(has, axis=1), days).astype(np.int64)
    wants = p.demand[:, r, :] > 0
    last = np.where(wants.any(axis=1), days - 1 - np.argmax(wants[:, ::-1], axis=1), -1).astype(np.int64)
    o, d, lead = routes.origin[ok], routes.destination[ok], routes.lead_days[ok]
    for _ in range(n + 1):  # label-correcting: converges in as many rounds as the longest useful relay chain
        new_first, new_last = first.copy(), last.copy()
        np.minimum.at(new_first, d, first[o] + lead)
        np.maximum.at(new_last, o, last[d] - lead)
        new_first = np.minimum(new_first, days)
        new_last = np.maximum(new_last, -1)
        if np.array_equal(new_first, first) and np.array_equal(new_last, last):
            break
        first, last = new_first, new_last
    return first, last


def _is_whole(*arrays: FloatArray) -> bool:
    return all(np.all(np.isinf(a) | (a == np.round(a))) for a in arrays)


#: costs are rounded to 1/COST_SCALE (a hundredth of a cost unit) for the integer network solver
COST_SCALE = 100


def _solve_network(block: _Block) -> FloatArray:
    """Arc flows of the min-cost flow (OR-Tools); the problem is always feasible thanks to holding arcs."""
    from ortools.graph.python import min_cost_flow

    total = float(block.node_supply[:-1].sum())
    big = int(total) + 1
    caps = np.where(np.isinf(block.cap), big, np.minimum(block.cap, big)).astype(np.int64)
    costs = np.rint(block.cost * COST_SCALE).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(block.tail, block.head, caps, costs)
    nodes = np.arange(len(block.node_supply), dtype=np.int64)
    flow.set_nodes_supplies(nodes, np.rint(block.node_supply).astype(np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise AccordError(f"The network solver stopped without an optimal plan (status {status})", status=500)
    return np.asarray(flow.flows(np.arange(block.n_arcs, dtype=np.int64)), dtype=float)


def _solve_networks_in_parallel(blocks: list[_Block], workers: int) -> list[FloatArray]:
    """The per-resource networks in worker processes (OR-Tools holds the GIL while it solves)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        max_workers=min(workers, len(blocks)), mp_context=multiprocessing.get_context("fork")
    ) as ex:
        return list(ex.map(_solve_network, blocks))


# ----------------------------------------------------------------------------------------------- LP
@dataclass(frozen=True)
class _Rows:
    """The LP's rows, which do not depend on which columns are in: flow conservation for each block's graph
    nodes (the sink's row is redundant and left out), then per-node share rows, then shared-capacity rows."""

    lower: FloatArray
    upper: FloatArray
    graph_nodes: int  # rows per block
    days: int
    share_start: list[int]  # per block: first share row (-1: none)
    share_local: list[IntArray]  # per block: (N,) index of the node's share row, -1 where it has none
    share_demand: list[FloatArray]  # per block: demand over the horizon of each share row's node
    cap_start: int  # first shared-capacity row (-1: none)
    cap_id: IntArray  # per open route: its index among capacity-limited routes, -1 if unlimited


def _rows(
    p: AllocationProblem, routes: OpenRoutes, blocks: list[_Block], options: Options, alone: FloatArray | None
) -> _Rows:
    n, days = len(p.nodes), p.days
    g = n * days
    lower: list[FloatArray] = [b.node_supply[:-1] for b in blocks]
    upper: list[FloatArray] = [b.node_supply[:-1] for b in blocks]
    next_row = g * len(blocks)
    need = p.demand.sum(axis=2)
    with_shares = options.equity in ("minmax", "participation") or options.max_shortfall_share is not None
    share_start, share_local, share_demand = [], [], []
    for b in blocks:
        local = np.full(n, -1, dtype=np.int64)
        if not with_shares:
            share_start.append(-1)
            share_local.append(local)
            share_demand.append(np.zeros(0))
            continue
        demand_nodes = np.flatnonzero(need[:, b.resource] > 0)
        local[demand_nodes] = np.arange(len(demand_nodes))
        d = need[demand_nodes, b.resource]
        if options.equity == "minmax":  # served + d * z >= d, i.e. unmet share <= z
            lo = d.copy()
        elif options.equity == "participation":  # served >= d - alone
            assert alone is not None
            lo = d - alone[demand_nodes, b.resource]
        else:
            lo = np.zeros(len(d))
        if options.max_shortfall_share is not None:
            lo = np.maximum(lo, d * (1 - options.max_shortfall_share))
        lower.append(lo)
        upper.append(np.full(len(d), np.inf))
        share_start.append(next_row)
        share_local.append(local)
        share_demand.append(d)
        next_row += len(d)
    cap_start, cap_id = -1, np.full(len(routes.origin), -1, dtype=np.int64)
    if p.routes.shared_capacity is not None:
        shared = np.asarray(p.routes.shared_capacity, float)[routes.route_index]
        limited = np.isfinite(shared)
        if limited.any():
            cap_id[limited] = np.arange(int(limited.sum()))
            cap_start = next_row
            lower.append(np.full(int(limited.sum()) * days, -np.inf))
            upper.append(np.repeat(shared[limited], days))
    return _Rows(
        lower=np.concatenate(lower),
        upper=np.concatenate(upper),
        graph_nodes=g,
        days=days,
        share_start=share_start,
        share_local=share_local,
        share_demand=share_demand,
        cap_start=cap_start,
        cap_id=cap_id,
    )


def _arc_entries(rows: _Rows, k: int, b: _Block, arcs: IntArray) -> tuple[IntArray, IntArray, FloatArray]:
    """(column position, row, value) of the matrix entries of ``arcs`` of block k, columns numbered 0..len-1."""
    g = rows.graph_nodes
    pos = np.arange(len(arcs), dtype=np.int64)
    head = b.head[arcs]
    into = head < g
    parts_c, parts_r, parts_v = [pos, pos[into]], [k * g + b.tail[arcs], k * g + head[into]], []
    parts_v = [np.ones(len(arcs)), -np.ones(int(into.sum()))]
    start = rows.share_start[k]
    if start >= 0:
        s = (arcs >= b.serve_slice.start) & (arcs < b.serve_slice.stop)
        local = rows.share_local[k][b.serve_at[arcs[s] - b.n_hold] // rows.days]
        on = local >= 0
        parts_c.append(pos[s][on])
        parts_r.append(start + local[on])
        parts_v.append(np.ones(int(on.sum())))
    if rows.cap_start >= 0:
        sh = arcs >= b.ship_slice.start
        j = arcs[sh] - b.ship_slice.start
        rid = rows.cap_id[b.ship_route[j]]
        on = rid >= 0
        parts_c.append(pos[sh][on])
        parts_r.append(rows.cap_start + rid[on] * rows.days + b.ship_day[j][on])
        parts_v.append(np.ones(int(on.sum())))
    return np.concatenate(parts_c), np.concatenate(parts_r), np.concatenate(parts_v)


def _csc(n_cols: int, col: IntArray, row: IntArray, val: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """Column starts, row indices and values of the entries, sorted by column."""
    order = np.argsort(col, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=n_cols))])
    return starts.astype(np.int32), row[order].astype(np.int32), val[order].astype(float)


class _Model:
    """A HiGHS model over a growing set of columns: the share variables z (min-max), then arcs as they are
    added. ``col_block``/``col_arc`` say which arc each arc column is."""

    def __init__(self, rows: _Rows, n_z: int, options: Options) -> None:
        import highspy

        self.rows = rows
        self.n_z = n_z
        self.col_block = np.zeros(0, np.int64)
        self.col_arc = np.zeros(0, np.int64)
        self.cost = np.zeros(0)
        self.lower = np.zeros(0)
        self.upper = np.zeros(0)
        self.nnz = 0
        lp = highspy.HighsLp()
        lp.num_col_ = 0
        lp.num_row_ = len(rows.lower)
        inf = highspy.kHighsInf
        lp.row_lower_ = np.where(np.isinf(rows.lower), -inf, rows.lower)
        lp.row_upper_ = np.where(np.isinf(rows.upper), inf, rows.upper)
        self.h = highspy.Highs()  # type: ignore[no-untyped-call]
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("time_limit", float(options.time_limit_seconds))
        self.h.setOptionValue("threads", int(options.threads))
        self.h.passModel(lp)
        if n_z:  # z_k enters block k's share rows with coefficient d
            col = np.concatenate([np.full(len(d), k) for k, d in enumerate(rows.share_demand)])
            row = np.concatenate([rows.share_start[k] + np.arange(len(d)) for k, d in enumerate(rows.share_demand)])
            val = np.concatenate(rows.share_demand)
            self._add(np.zeros(n_z), np.full(n_z, np.inf), col.astype(np.int64), row, val, n_z)

    def use(self, method: str) -> None:
        if method == "ipm":  # interior point scales better on big, degenerate models; its gap is certified
            self.h.setOptionValue("solver", "ipm")
            self.h.setOptionValue("run_crossover", "off")
        else:
            self.h.setOptionValue("solver", "simplex")

    def _add(self, cost: FloatArray, upper: FloatArray, col: IntArray, row: IntArray, val: FloatArray, m: int) -> None:
        starts, index, value = _csc(m, col, row, val)
        finite_upper = np.where(np.isinf(upper), 1e30, upper)  # HiGHS reads >= 1e20 as infinite
        self.h.addCols(m, cost, np.zeros(m), finite_upper, len(value), starts[:-1], index, value)
        self.cost = np.concatenate([self.cost, cost])
        self.lower = np.concatenate([self.lower, np.zeros(m)])
        self.upper = np.concatenate([self.upper, upper])
        self.nnz += len(value)

    @property
    def n_cols(self) -> int:
        return self.n_z + len(self.col_arc)

    def add_arcs(self, k: int, b: _Block, arcs: IntArray, arc_cost: FloatArray) -> None:
        if len(arcs) == 0:
            return
        col, row, val = _arc_entries(self.rows, k, b, arcs)
        self._add(arc_cost, b.cap[arcs], col, row, val, len(arcs))
        self.col_block = np.concatenate([self.col_block, np.full(len(arcs), k)])
        self.col_arc = np.concatenate([self.col_arc, arcs])

    def solve(self) -> str:
        self.h.changeColsCost(self.n_cols, np.arange(self.n_cols, dtype=np.int32), self.cost)
        status = _run(self.h)
        # later rounds only add columns or change costs: without presolve HiGHS restarts from the last basis
        self.h.setOptionValue("presolve", "off")
        return status

    def gap(self) -> float:
        return _relative_gap(self.cost, self.lower, self.upper, self.rows.lower, self.rows.upper, self.h)


def _run(h: object) -> str:
    import highspy

    h.run()  # type: ignore[attr-defined]
    status = h.getModelStatus()  # type: ignore[attr-defined]
    if status == highspy.HighsModelStatus.kOptimal:
        return "optimal"
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible"
    if status == highspy.HighsModelStatus.kTimeLimit:
        return "time_limit"
    return str(status).rsplit(".", 1)[-1]


def _relative_gap(
    cost: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    row_lower: FloatArray,
    row_upper: FloatArray,
    h: object,
) -> float:
    """(primal - dual objective) / max(1, |primal|) of HiGHS's solution: a certificate of how far from optimal it
    can be. Duals are signed as d(objective)/d(bound), so each dual multiplies the bound it is active at."""
    sol = h.getSolution()  # type: ignore[attr-defined]
    x, y, r = np.asarray(sol.col_value), np.asarray(sol.row_dual), np.asarray(sol.col_dual)
    primal = float(cost @ x)
    row_bound = np.where(y >= 0, row_lower, row_upper)
    col_bound = np.where(r >= 0, lower, upper)
    y_on, r_on = np.abs(y) > 1e-12, np.abs(r) > 1e-12
    if np.isinf(row_bound[y_on]).any() or np.isinf(col_bound[r_on]).any():
        return float("inf")
    dual = float(y[y_on] @ row_bound[y_on] + r[r_on] @ col_bound[r_on])
    return abs(primal - dual) / max(1.0, abs(primal))


@dataclass
class _GroupResult:
    flows: list[FloatArray]
    duals: list[FloatArray] | None
    status: str
    size: dict[str, int]
    extra: dict[str, float]
    build_seconds: float
    solve_seconds: float


def _starting_arcs(block: _Block) -> IntArray:
    """Shipping arcs used by the min-cost flow of the block with quantities rounded up (a good first guess of
    the columns an LP optimum needs; rounding up keeps every positive quantity positive, hence the same arcs)."""
    supply = np.ceil(block.node_supply[:-1] - 1e-9)
    guess = replace(block, cap=np.ceil(block.cap - 1e-9), node_supply=np.append(supply, -supply.sum()))
    flow = _solve_network(guess)
    ship = np.arange(block.ship_slice.start, block.ship_slice.stop)
    return ship[flow[block.ship_slice] > 0]


def _price(model: _Model, blocks: list[_Block], stage_cost: list[FloatArray], active: list[BoolArray]) -> int:
    """Add every shipping arc whose reduced cost under the current duals is negative; returns how many.
    When none is, the restricted LP's optimum is optimal for the full LP (delayed column generation)."""
    y = np.asarray(model.h.getSolution().row_dual)
    rows, g = model.rows, model.rows.graph_nodes
    added = 0
    for k, b in enumerate(blocks):
        cand = np.flatnonzero(~active[k]) + b.ship_slice.start
        if len(cand) == 0:
            continue
        head = b.head[cand]
        reduced = (
            stage_cost[k][cand] - y[k * g + b.tail[cand]] + np.where(head < g, y[k * g + np.minimum(head, g - 1)], 0)
        )
        if rows.cap_start >= 0:
            j = cand - b.ship_slice.start
            rid = rows.cap_id[b.ship_route[j]]
            reduced -= np.where(rid >= 0, y[rows.cap_start + np.maximum(rid, 0) * rows.days + b.ship_day[j]], 0.0)
        tol = 1e-7 * max(1.0, float(np.abs(stage_cost[k]).max(initial=0.0)))
        new = cand[reduced < -tol]
        if len(new):
            model.add_arcs(k, b, new, stage_cost[k][new])
            active[k][new - b.ship_slice.start] = True
            added += len(new)
    return added


def _solve_with_columns(
    model: _Model, blocks: list[_Block], stage_cost: list[FloatArray], active: list[BoolArray], generate: bool
) -> tuple[str, int]:
    """Solve, pricing in missing arcs until none improves; an infeasible restricted LP gets every arc."""
    rounds = 0
    while True:
        rounds += 1
        status = model.solve()
        if status == "infeasible" and generate and not all(a.all() for a in active):
            for k, b in enumerate(blocks):
                missing = np.flatnonzero(~active[k]) + b.ship_slice.start
                model.add_arcs(k, b, missing, stage_cost[k][missing])
                active[k][:] = True
            continue
        if status != "optimal" or not generate or _price(model, blocks, stage_cost, active) == 0:
            return status, rounds


def _solve_lp_group(
    p: AllocationProblem,
    routes: OpenRoutes,
    blocks: list[_Block],
    options: Options,
    alone: FloatArray | None,
) -> _GroupResult:
    """One HiGHS LP over ``blocks`` with the side constraints the options ask for.

    With the simplex method the LP starts from the shipping arcs that the min-cost flow uses and adds arcs whose
    reduced cost is negative until none is (exact: the final duals price every left-out arc at >= 0). The
    interior point method gets the full model."""
    t0 = time.perf_counter()
    rows = _rows(p, routes, blocks, options, alone)
    n_z = len(blocks) if options.equity == "minmax" else 0
    full_cols = n_z + sum(b.n_arcs for b in blocks)
    # auto: column generation keeps the LP small, and the simplex method warm-starts after each pricing round
    method = "simplex" if options.lp_method == "auto" else options.lp_method
    generate = method == "simplex"
    model = _Model(rows, n_z, options)
    model.use(method)
    true_cost = [b.cost for b in blocks]
    stage_cost = [np.zeros(b.n_arcs) for b in blocks] if n_z else true_cost
    active = _initial_columns(model, blocks, stage_cost, generate)
    if n_z:
        model.cost[:n_z] = 1.0  # stage 1: only the shares count
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    extra: dict[str, float] = {}
    status, rounds = _solve_with_columns(model, blocks, stage_cost, active, generate)
    if status == "infeasible":
        raise _infeasible(p, routes, blocks, options, alone)
    if n_z and status == "optimal":
        z = np.asarray(model.h.getSolution().col_value)[:n_z]
        extra["minmax_share"] = float(z.max())
        extra["minmax_relative_gap"] = model.gap()
        # stage 2: keep every share at its optimum (a hair of slack for round-off), minimise the ordinary cost
        model.upper[:n_z] = z + 1e-7
        model.h.changeColsBounds(n_z, np.arange(n_z, dtype=np.int32), np.zeros(n_z), model.upper[:n_z])
        model.cost = np.concatenate([np.zeros(n_z), _column_costs(model, true_cost)])
        status, more = _solve_with_columns(model, blocks, true_cost, active, generate)
        rounds += more
    solve_s = time.perf_counter() - t1
    info = model.h.getInfo()
    extra["lp_relative_gap"] = model.gap()
    extra["simplex_iterations"] = float(info.simplex_iteration_count)
    extra["ipm_iterations"] = float(info.ipm_iteration_count)
    extra["pricing_rounds"] = float(rounds)
    flows, duals = _lp_solution(model, rows, blocks, n_z, p.shortfall_penalty)
    size = {
        "lp_rows": len(rows.lower),
        "lp_columns_full": int(full_cols),
        "lp_columns_used": int(model.n_cols),
        "lp_nonzeros_used": int(model.nnz),
    }
    return _GroupResult(flows, duals, status, size, extra, build, solve_s)


def _initial_columns(
    model: _Model, blocks: list[_Block], stage_cost: list[FloatArray], generate: bool
) -> list[BoolArray]:
    """Add each block's starting columns to the model (holding and serving arcs always; shipping arcs those the
    min-cost flow uses when columns are generated, else all); returns which shipping arcs are in."""
    active: list[BoolArray] = []
    for k, b in enumerate(blocks):
        ship = np.arange(b.ship_slice.start, b.n_arcs)
        start = _starting_arcs(b) if generate else ship
        keep = np.zeros(len(ship), dtype=bool)
        keep[start - b.ship_slice.start] = True
        active.append(keep)
        arcs = np.concatenate([np.arange(b.ship_slice.start), start])  # holding and serving arcs are always in
        model.add_arcs(k, b, arcs, stage_cost[k][arcs])
    return active


def _lp_solution(
    model: _Model, rows: _Rows, blocks: list[_Block], n_z: int, penalty: float
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Arc flows per block, and the node balance duals per block in units of the shortfall penalty."""
    sol = model.h.getSolution()
    x = np.asarray(sol.col_value)[n_z:]
    y = np.asarray(sol.row_dual)
    flows = [np.zeros(b.n_arcs) for b in blocks]
    for k in range(len(blocks)):
        mine = model.col_block == k
        flows[k][model.col_arc[mine]] = x[mine]
    g = rows.graph_nodes
    duals = [-y[k * g : (k + 1) * g] / penalty for k in range(len(blocks))]
    return flows, duals


def _column_costs(model: _Model, cost: list[FloatArray]) -> FloatArray:
    out = np.zeros(len(model.col_arc))
    for k, c in enumerate(cost):
        mine = model.col_block == k
        out[mine] = c[model.col_arc[mine]]
    return out


def _infeasible(
    p: AllocationProblem,
    routes: OpenRoutes,
    blocks: list[_Block],
    options: Options,
    alone: FloatArray | None,
) -> AccordError:
    """Say why ``max_shortfall_share`` cannot be met: an unreachable node, or the best achievable worst share."""
    cut = [(node, r) for node, r in unreachable(p, routes) if r in {b.resource for b in blocks}]
    if cut:
        node, r = cut[0]
        return AccordError(
            "The allocation problem is infeasible",
            [
                Problem(
                    f"node '{p.nodes[node]}' needs {p.resources[r]} but no open route reaches it from any stock "
                    f"(at most {options.max_shortfall_share:g} of its demand may go unmet)",
                    field="max_shortfall_share",
                )
            ],
            total=len(cut),
        )
    best = _solve_lp_group(
        p, routes, blocks, Options(equity="minmax", time_limit_seconds=options.time_limit_seconds), alone
    )
    short_by_node = np.zeros((len(p.nodes), len(p.resources)))
    for b, f in zip(blocks, best.flows, strict=True):
        served = np.zeros(len(p.nodes) * p.days)
        np.add.at(served, b.serve_at, f[b.serve_slice])
        short_by_node[:, b.resource] = p.demand[:, b.resource, :].sum(axis=1) - served.reshape(
            len(p.nodes), p.days
        ).sum(axis=1)
    need = p.demand.sum(axis=2)
    share = np.divide(short_by_node, need, out=np.zeros_like(need), where=need > 0)
    node, r = (int(i) for i in np.unravel_index(int(np.argmax(share)), share.shape))
    return AccordError(
        "The allocation problem is infeasible",
        [
            Problem(
                f"at best {share[node, r]:.1%} of the {p.resources[r]} demand of node '{p.nodes[node]}' goes unmet, "
                f"more than the allowed {options.max_shortfall_share:.1%} (constraint max_shortfall_share binds)",
                field="max_shortfall_share",
            )
        ],
    )


def _groups(p: AllocationProblem, use_lp: bool) -> list[list[int]]:
    """Resources solved together: all of them when a shared route capacity couples them in an LP."""
    coupled = use_lp and p.routes.shared_capacity is not None and np.isfinite(p.routes.shared_capacity).any()
    return [list(range(len(p.resources)))] if coupled else [[r] for r in range(len(p.resources))]


def _use_lp(p: AllocationProblem, options: Options) -> bool:
    needs_lp = (
        options.duals
        or options.equity != "total"
        or options.max_shortfall_share is not None
        or (p.routes.shared_capacity is not None and bool(np.isfinite(p.routes.shared_capacity).any()))
    )
    whole = _is_whole(p.initial_stock, p.supply, p.demand) and (
        p.routes.capacity is None or _is_whole(np.asarray(p.routes.capacity, float))
    )
    if options.solver == "network":
        if needs_lp or not whole:
            why = "it needs duals or side constraints" if needs_lp else "the quantities are not whole numbers"
            raise _fail(f"the network solver cannot solve this problem because {why}; use solver 'lp' or 'auto'")
        return False
    return options.solver == "lp" or needs_lp or not whole


def alone_shortfall(problem: AllocationProblem) -> FloatArray:
    """(N, R) unmet demand over the horizon of each node left to itself: own stock and supply, no shipments."""
    closed = Routes(
        origin=np.zeros(0, np.int64),
        destination=np.zeros(0, np.int64),
        lead_days=np.zeros(0, np.int64),
        unit_cost=np.zeros(0),
    )
    lonely = replace(problem, routes=closed, pairing=None)
    alone: FloatArray = solve(lonely, Options(solver="auto")).shortfall.sum(axis=2)
    return alone


def solve(problem: AllocationProblem, options: Options | None = None) -> Plan:
    """Solve ``problem``; raises ``AccordError`` for malformed input or an unmeetable ``max_shortfall_share``."""
    options = options or Options()
    if options.equity not in ("total", "minmax", "participation"):
        raise _fail(f"unknown equity option '{options.equity}' (use total, minmax or participation)", "equity")
    if options.solver not in ("auto", "network", "lp"):
        raise _fail(f"unknown solver '{options.solver}' (use auto, network or lp)", "solver")
    validate(problem)
    p = problem
    t0 = time.perf_counter()
    routes = open_routes(p)
    weight, hold = _priority(p), _holding(p)
    use_lp = _use_lp(p, options)
    alone = alone_shortfall(p) if options.equity == "participation" else None
    blocks = [_build_block(p, routes, r, weight, float(hold[r])) for r in range(len(p.resources))]
    build = time.perf_counter() - t0
    solve_s = 0.0
    flows: list[FloatArray] = [np.zeros(0)] * len(blocks)
    duals: list[FloatArray] | None = [np.zeros(0)] * len(blocks) if use_lp else None
    size = {"graph_nodes": sum(len(b.node_supply) for b in blocks), "arcs": sum(b.n_arcs for b in blocks)}
    status, extra = "optimal", dict[str, float]()
    groups = _groups(p, use_lp)
    if not use_lp and options.threads > 1 and len(groups) > 1:
        t1 = time.perf_counter()
        flows = _solve_networks_in_parallel(blocks, options.threads)
        solve_s = time.perf_counter() - t1
        groups = []
    for group in groups:
        if use_lp:
            res = _solve_lp_group(p, routes, [blocks[r] for r in group], options, alone)
            build += res.build_seconds
            solve_s += res.solve_seconds
            for k, r in enumerate(group):
                flows[r] = res.flows[k]
                if duals is not None and res.duals is not None:
                    duals[r] = res.duals[k]
            for key, v in res.size.items():
                size[key] = size.get(key, 0) + v
            for key, fv in res.extra.items():  # counts add up over groups; gaps and shares: the worst
                extra[key] = extra.get(key, 0.0) + fv if key.endswith("iterations") else max(extra.get(key, 0.0), fv)
            if res.status != "optimal":
                status = res.status
        else:
            t1, c1 = time.perf_counter(), time.process_time()
            flows[group[0]] = _solve_network(blocks[group[0]])
            solve_s += time.perf_counter() - t1
            extra["solve_cpu_seconds"] = extra.get("solve_cpu_seconds", 0.0) + time.process_time() - c1
    plan = _assemble(p, routes, blocks, flows, duals, options, use_lp, status, build, solve_s, size, extra)
    return plan


def _assemble(
    p: AllocationProblem,
    routes: OpenRoutes,
    blocks: list[_Block],
    flows: list[FloatArray],
    duals: list[FloatArray] | None,
    options: Options,
    use_lp: bool,
    status: str,
    build: float,
    solve_s: float,
    size: dict[str, int],
    extra: dict[str, float],
) -> Plan:
    n, n_res, days = len(p.nodes), len(p.resources), p.days
    served, stock, ship_parts = _read_flows(p, routes, blocks, flows)
    served = np.minimum(served, p.demand)
    shortfall = np.maximum(p.demand - served, 0.0)
    shipments = pd.concat(ship_parts, ignore_index=True) if ship_parts else _empty_shipments()
    objective = objective_of(p, shortfall, shipments, stock)
    dual_arr = None
    if duals is not None:
        dual_arr = np.stack([d.reshape(n, days) for d in duals], axis=1)
    need = p.demand.sum(axis=2)
    share = np.divide(shortfall.sum(axis=2), need, out=np.zeros_like(need), where=need > 0)
    warn = tuple(
        f"node '{p.nodes[i]}' needs {p.resources[r]} but no open route reaches it from any stock"
        for i, r in unreachable(p, routes)
    )
    return Plan(
        problem=p,
        shipments=shipments,
        shortfall=shortfall,
        served=served,
        stock=stock,
        objective=objective,
        status=status,
        solver="highs-lp" if use_lp else "ortools-min-cost-flow",
        equity=options.equity,
        build_seconds=build,
        solve_seconds=solve_s,
        model_size=size,
        duals=dual_arr,
        max_share=share.max(axis=0) if n else np.zeros(n_res),
        warnings=warn,
        extra=extra,
    )


def _read_flows(
    p: AllocationProblem, routes: OpenRoutes, blocks: list[_Block], flows: list[FloatArray]
) -> tuple[FloatArray, FloatArray, list[pd.DataFrame]]:
    """(nodes, resources, days) units served and stock kept, and the shipments of every block, from its arc
    flows (round-off dust below the tolerance dropped)."""
    n, n_res, days = len(p.nodes), len(p.resources), p.days
    served = np.zeros((n, n_res, days))
    stock = np.zeros((n, n_res, days))
    ship_parts: list[pd.DataFrame] = []
    for b, f in zip(blocks, flows, strict=True):
        tol = 1e-6 * max(1.0, float(np.abs(f).max(initial=0.0)))  # interior-point flows carry round-off dust
        f = np.where(np.abs(f) < tol, 0.0, f)
        s = np.zeros(n * days)
        np.add.at(s, b.serve_at, f[b.serve_slice])
        served[:, b.resource, :] = s.reshape(n, days)
        stock[:, b.resource, :] = f[: b.n_hold].reshape(n, days)
        fs = f[b.ship_slice]
        moved = np.flatnonzero(fs > tol)
        e = b.ship_route[moved]
        ship_parts.append(
            pd.DataFrame(
                {
                    "origin": np.asarray(p.nodes, dtype=object)[routes.origin[e]],
                    "destination": np.asarray(p.nodes, dtype=object)[routes.destination[e]],
                    "resource": p.resources[b.resource],
                    "depart_day": b.ship_day[moved],
                    "arrive_day": b.ship_day[moved] + routes.lead_days[e],
                    "quantity": fs[moved],
                    "unit_cost": routes.unit_cost[e],
                }
            )
        )
    return served, stock, ship_parts


def objective_of(p: AllocationProblem, shortfall: FloatArray, shipments: pd.DataFrame, stock: FloatArray) -> float:
    """Priority-weighted shortfall times the penalty, plus shipping and holding costs (the quantity minimised)."""
    weight, hold = _priority(p), _holding(p)
    return (
        p.shortfall_penalty * float((shortfall.sum(axis=(1, 2)) * weight).sum())
        + float((shipments["quantity"] * shipments["unit_cost"]).sum())
        + float((stock[:, :, :-1].sum(axis=(0, 2)) * hold).sum())
    )


def empty_shipments() -> pd.DataFrame:
    """The shipments table with no rows (its columns and dtypes)."""
    return _empty_shipments()


def _empty_shipments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": pd.Series(dtype=object),
            "destination": pd.Series(dtype=object),
            "resource": pd.Series(dtype=object),
            "depart_day": pd.Series(dtype=np.int64),
            "arrive_day": pd.Series(dtype=np.int64),
            "quantity": pd.Series(dtype=float),
            "unit_cost": pd.Series(dtype=float),
        }
    )
