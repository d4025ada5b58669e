"""Hypothesis properties of the allocation optimiser on random small instances.

Never ships more than is available (stock, recomputed from the plan by flow conservation, never goes negative),
never arrives before its lead time, shortfall is never negative, shipments respect bans and capacities, both
solvers reach the same optimum, no rule of thumb beats it, and participation leaves no region worse off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.resources.allocation_baselines import first_come_first_served, proportional_to_need
from accord.resources.optimiser import AllocationProblem, Options, Plan, Routes, alone_shortfall, solve

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: LP plans are floating point: the min-max stage leaves z a hair of slack (1e-7), shipments below 1e-6 of the
#: largest flow are dropped as round-off
LP_TOL = 1e-4


@st.composite
def instances(draw: st.DrawFn) -> AllocationProblem:
    n = draw(st.integers(2, 5))
    n_res = draw(st.integers(1, 2))
    days = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    pairs = [(o, d) for o in range(n) for d in range(n) if o != d]
    chosen = [p for p in pairs if rng.random() < 0.5]
    e = len(chosen)
    capacity = np.where(rng.random((e, n_res)) < 0.3, rng.integers(0, 5, (e, n_res)), np.inf)
    return AllocationProblem(
        nodes=tuple(f"n{i}" for i in range(n)),
        resources=tuple(f"r{j}" for j in range(n_res)),
        reusable=rng.random(n_res) < 0.5,
        use_days=rng.integers(1, 4, n_res),
        days=days,
        initial_stock=rng.integers(0, 11, (n, n_res)).astype(float),
        supply=(rng.integers(0, 6, (n, n_res, days)) * (rng.random((n, n_res, days)) < 0.2)).astype(float),
        demand=(rng.integers(0, 7, (n, n_res, days)) * (rng.random((n, n_res, days)) < 0.6)).astype(float),
        routes=Routes(
            origin=np.array([p[0] for p in chosen], np.int64),
            destination=np.array([p[1] for p in chosen], np.int64),
            lead_days=rng.integers(0, 4, e),
            unit_cost=rng.integers(0, 6, e).astype(float),
            capacity=capacity,
            allowed=rng.random((e, n_res)) < 0.85,
        ),
        priority=rng.integers(1, 4, n).astype(float),
    )


def check_plan(p: AllocationProblem, plan: Plan, tol: float = 1e-6) -> None:
    assert (plan.shortfall >= -tol).all()
    assert (plan.served <= p.demand + tol).all()
    np.testing.assert_allclose(plan.served + plan.shortfall, p.demand, atol=tol)
    ships = plan.shipments
    assert (ships["quantity"] > 0).all()
    node = {name: i for i, name in enumerate(p.nodes)}
    res = {name: j for j, name in enumerate(p.resources)}
    rt = pd.DataFrame(
        {
            "o": p.routes.origin,
            "d": p.routes.destination,
            "lead": p.routes.lead_days,
            "k": np.arange(len(p.routes)),
        }
    )
    merged = ships.assign(o=ships["origin"].map(node), d=ships["destination"].map(node)).merge(
        rt, on=["o", "d"], how="left", validate="many_to_one"
    )
    assert merged["k"].notna().all(), "a shipment on a route that does not exist"
    assert ((merged["arrive_day"] - merged["depart_day"]) == merged["lead"]).all(), "arrived before its lead time"
    assert (merged["arrive_day"] < p.days).all() and (merged["depart_day"] >= 0).all()
    k = merged["k"].to_numpy(int)
    r = merged["resource"].map(res).to_numpy(int)
    assert p.routes.allowed is not None and p.routes.allowed[k, r].all(), "shipped across a ban"
    assert p.routes.capacity is not None
    per_day = merged.assign(r=r).groupby(["k", "r", "depart_day"])["quantity"].sum()
    caps = p.routes.capacity[per_day.index.get_level_values(0), per_day.index.get_level_values(1)]
    assert (per_day.to_numpy() <= caps + tol).all(), "over a route's capacity"
    # flow conservation, recomputed from the plan: stock never negative, so nothing shipped that was not there
    n, n_res, days = p.demand.shape
    out = np.zeros((n, n_res, days))
    into = np.zeros((n, n_res, days))
    np.add.at(out, (merged["o"].to_numpy(int), r, merged["depart_day"].to_numpy(int)), merged["quantity"].to_numpy())
    np.add.at(into, (merged["d"].to_numpy(int), r, merged["arrive_day"].to_numpy(int)), merged["quantity"].to_numpy())
    idle = p.initial_stock.astype(float).copy()
    for t in range(days):
        back = np.zeros((n, n_res))
        for j in range(n_res):
            k_days = int(p.use_days[j])
            if p.reusable[j] and t - k_days >= 0:
                back[:, j] = plan.served[:, j, t - k_days]
        idle = idle + p.supply[:, :, t] + into[:, :, t] + back - out[:, :, t] - plan.served[:, :, t]
        assert (idle >= -tol).all(), f"more shipped or served than available on day {t}"
        np.testing.assert_allclose(idle, plan.stock[:, :, t], atol=max(1e-5, 10 * tol))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_network_plan_is_feasible_and_beats_rules_of_thumb(p: AllocationProblem) -> None:
    plan = solve(p)
    check_plan(p, plan)
    for rule in (proportional_to_need, first_come_first_served):
        base = rule(p)
        check_plan(p, base)
        assert plan.objective <= base.objective + 1e-6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_lp_reaches_the_same_optimum(p: AllocationProblem) -> None:
    net = solve(p)
    lp = solve(p, Options(solver="lp", duals=True))
    check_plan(p, lp, LP_TOL)
    assert lp.objective == pytest.approx(net.objective, rel=1e-7, abs=1e-4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_participation_never_worse_than_alone_and_minmax_feasible(p: AllocationProblem) -> None:
    alone = alone_shortfall(p)
    fair = solve(p, Options(equity="participation"))
    check_plan(p, fair, LP_TOL)
    assert (fair.shortfall.sum(axis=2) <= alone + 1e-6).all()
    assert fair.objective >= solve(p).objective - 1e-4  # a constraint can only cost
    worst = solve(p, Options(equity="minmax"))
    check_plan(p, worst, LP_TOL)
    assert worst.max_share is not None and solve(p).max_share is not None
    assert (worst.max_share <= solve(p).max_share + 1e-6).all()
