"""Allocation rules used in practice, as baselines for the optimiser (pure: arrays in, plan out).

Both simulate the horizon day by day. Each day a node first serves its own demand from what it holds; then every
*source* (a node with no demand of that resource: a stockpile, a depot, a donor) ships what it holds straight to
the regions it has an open route to, using the fastest route, by one of two rules:

* proportional to need: each region gets a share of the source's stock proportional to its outstanding need
  (demand from the day a shipment would arrive to the end of the horizon, less what it holds, has in service and
  has coming), never more than that need;
* first come, first served: regions are served in the order in which their need first appeared (ties by node
  order), each in full, until the source is empty.

Regions never ship to each other (there is no lateral pooling without a coordinator). The result is a
``Plan`` priced with the optimiser's own objective, so the two compare like for like.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import pandas as pd

from accord.resources.optimiser import (
    AllocationProblem,
    FloatArray,
    IntArray,
    OpenRoutes,
    Plan,
    empty_shipments,
    objective_of,
    open_routes,
    validate,
)

Rule = Literal["proportional", "fcfs"]


def proportional_to_need(problem: AllocationProblem) -> Plan:
    """Each source splits its stock over reachable regions in proportion to their outstanding need."""
    return _simulate(problem, "proportional")


def first_come_first_served(problem: AllocationProblem) -> Plan:
    """Each source fills requests in the order they first appeared until it runs out."""
    return _simulate(problem, "fcfs")


def _future_need(demand: FloatArray, reusable: bool, use_days: int) -> FloatArray:
    """(N, T) need from day t to the horizon: remaining total for consumables; for reusables the peak number
    of units in service at once (starts over a use_days window)."""
    if not reusable:
        return np.cumsum(demand[:, ::-1], axis=1)[:, ::-1]
    kernel = np.ones(use_days)
    occupancy = np.stack([np.convolve(row, kernel)[: demand.shape[1]] for row in demand]) if len(demand) else demand
    return np.maximum.accumulate(occupancy[:, ::-1], axis=1)[:, ::-1]


def _fastest_routes(routes: OpenRoutes, r: int, sources: IntArray, regions: np.ndarray) -> pd.DataFrame:
    """One route per (source, region) for resource r: the shortest lead time, then the cheapest."""
    ok = routes.allowed[:, r] & np.isin(routes.origin, sources) & regions[routes.destination]
    frame = pd.DataFrame(
        {
            "route": np.flatnonzero(ok),
            "origin": routes.origin[ok],
            "destination": routes.destination[ok],
            "lead": routes.lead_days[ok],
            "cost": routes.unit_cost[ok],
            "cap": routes.capacity[ok, r],
        }
    )
    frame = frame.sort_values(["origin", "destination", "lead", "cost"], kind="stable")
    return frame.drop_duplicates(["origin", "destination"], keep="first")


def _simulate(problem: AllocationProblem, rule: Rule) -> Plan:
    validate(problem)
    p = problem
    t0 = time.perf_counter()
    routes = open_routes(p)
    n, n_res, days = len(p.nodes), len(p.resources), p.days
    served = np.zeros((n, n_res, days))
    stock = np.zeros((n, n_res, days))
    parts: list[pd.DataFrame] = []
    for r in range(n_res):
        parts.append(_simulate_resource(p, routes, r, rule, served, stock))
    shortfall = np.maximum(p.demand - served, 0.0)
    shipments = pd.concat(parts, ignore_index=True) if parts else empty_shipments()
    need = p.demand.sum(axis=2)
    share = np.divide(shortfall.sum(axis=2), need, out=np.zeros_like(need), where=need > 0)
    elapsed = time.perf_counter() - t0
    return Plan(
        problem=p,
        shipments=shipments,
        shortfall=shortfall,
        served=served,
        stock=stock,
        objective=objective_of(p, shortfall, shipments, stock),
        status="heuristic",
        solver=rule,
        equity=rule,
        build_seconds=0.0,
        solve_seconds=elapsed,
        model_size={},
        max_share=share.max(axis=0) if n else np.zeros(n_res),
    )


def _simulate_resource(
    p: AllocationProblem, routes: OpenRoutes, r: int, rule: Rule, served: FloatArray, stock: FloatArray
) -> pd.DataFrame:
    """Run one resource through the horizon, filling ``served`` and ``stock`` in place; returns its shipments."""
    n, days = len(p.nodes), p.days
    demand = p.demand[:, r, :]
    reusable, use_days = bool(p.reusable[r]), int(p.use_days[r])
    is_region = demand.sum(axis=1) > 0
    sources = np.flatnonzero(~is_region)
    lanes = _fastest_routes(routes, r, sources, is_region)
    by_source = {int(str(s)): g for s, g in lanes.groupby("origin", sort=True)}
    future = _future_need(demand, reusable, use_days)
    idle = p.initial_stock[:, r].astype(float).copy()
    arriving = np.zeros((n, days + 1))
    returning = np.zeros((n, days + 1))
    first_need = np.full(n, days, dtype=np.int64)
    rows: list[tuple[int, int, int, int, float, float]] = []
    for t in range(days):
        idle += arriving[:, t] + returning[:, t] + p.supply[:, r, t]
        use = np.minimum(idle, demand[:, t])
        idle -= use
        served[:, r, t] = use
        if reusable:
            returning[:, min(t + use_days, days)] += use
        coming = arriving[:, t + 1 :].sum(axis=1) + (returning[:, t + 1 :].sum(axis=1) if reusable else 0.0)
        for s, lane in by_source.items():
            rows.extend(_ship_from(s, lane, t, days, idle, coming, future, first_need, arriving, rule))
        stock[:, r, t] = idle
    if not rows:
        return empty_shipments()
    o, d, dep, arr, q, c = (np.asarray(col) for col in zip(*rows, strict=True))
    names = np.asarray(p.nodes, dtype=object)
    return pd.DataFrame(
        {
            "origin": names[o.astype(int)],
            "destination": names[d.astype(int)],
            "resource": p.resources[r],
            "depart_day": dep.astype(np.int64),
            "arrive_day": arr.astype(np.int64),
            "quantity": q.astype(float),
            "unit_cost": c.astype(float),
        }
    )


def _ship_from(
    s: int,
    lane: pd.DataFrame,
    t: int,
    days: int,
    idle: FloatArray,
    coming: FloatArray,
    future: FloatArray,
    first_need: IntArray,
    arriving: FloatArray,
    rule: Rule,
) -> list[tuple[int, int, int, int, float, float]]:
    """Ship source ``s``'s idle units on day t by ``rule``; updates idle, coming, first_need and arriving."""
    if idle[s] <= 0:
        return []
    dest = lane["destination"].to_numpy()
    lead = lane["lead"].to_numpy()
    arrive = t + lead
    inside = arrive < days
    dest, lead, arrive = dest[inside], lead[inside], arrive[inside]
    cost = lane["cost"].to_numpy()[inside]
    cap = lane["cap"].to_numpy()[inside]
    need = np.maximum(future[dest, arrive] - idle[dest] - coming[dest], 0.0)
    first_need[dest[need > 0]] = np.minimum(first_need[dest[need > 0]], t)
    total = need.sum()
    if total <= 0:
        return []
    if rule == "proportional":
        give = need * min(1.0, idle[s] / total)
    else:
        order = np.lexsort((dest, first_need[dest]))
        filled = np.minimum(np.cumsum(need[order]), idle[s])
        give = np.zeros(len(need))
        give[order] = np.diff(np.concatenate([[0.0], filled]))
    give = np.floor(np.minimum(give, cap) + 1e-9) if float(idle[s]).is_integer() else np.minimum(give, cap)
    sent = np.flatnonzero(give > 0)
    idle[s] -= give[sent].sum()
    today = arrive[sent] == t  # a same-day lane: the units are there now (served from tomorrow)
    np.add.at(idle, dest[sent][today], give[sent][today])
    np.add.at(arriving, (dest[sent][~today], arrive[sent][~today]), give[sent][~today])
    np.add.at(coming, dest[sent][~today], give[sent][~today])
    return [(s, int(dest[i]), t, int(arrive[i]), float(give[i]), float(cost[i])) for i in sent]
