"""Pooling: sharing helps while there is enough in total, and cannot make up for too little."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from benchmarks.allocation_pooling import pooling_curve, pooling_instance, state_demand

from accord.resources.optimiser import AllocationProblem, Options, Routes, solve


def two_waves(stock_each: float, pooled: bool) -> AllocationProblem:
    """Two regions whose ventilator peaks (10) come at different times, one day apart."""
    days = 8
    demand = np.zeros((2, 1, days))
    demand[0, 0, :4] = [2, 10, 10, 2]
    demand[1, 0, 4:] = [2, 10, 10, 2]
    o, d = (np.array([0, 1]), np.array([1, 0])) if pooled else (np.zeros(0, int), np.zeros(0, int))
    return AllocationProblem(
        nodes=("east", "west"),
        resources=("ventilator",),
        reusable=np.array([True]),
        use_days=np.array([1]),
        days=days,
        initial_stock=np.array([[stock_each], [stock_each]]),
        supply=np.zeros((2, 1, days)),
        demand=demand,
        routes=Routes(origin=o, destination=d, lead_days=np.ones(len(o), np.int64), unit_cost=np.ones(len(o))),
    )


def test_pooling_covers_staggered_peaks_when_there_is_enough_in_total() -> None:
    alone = solve(two_waves(5, pooled=False))
    pooled = solve(two_waves(5, pooled=True))
    assert alone.total_shortfall == 20  # each region is 5 short on each of its two peak days
    assert pooled.total_shortfall == 0  # east lends its 5 to west after its own peak, and back
    scarce_alone = solve(two_waves(2, pooled=False)).total_shortfall
    scarce_pooled = solve(two_waves(2, pooled=True)).total_shortfall
    assert scarce_pooled < scarce_alone and scarce_pooled / scarce_alone > 0.5  # pooling cannot conjure units


@pytest.mark.shared_data
def test_us_states_pooling_curve_reproduces_the_literature(data_dir: Path) -> None:
    curve = pooling_curve(data_dir, date(2020, 4, 1), 30, levels=(0.5, 1.25)).set_index("adequacy")
    assert curve.loc[1.25, "removed_share"] > 0.8  # pooling removes most shortfall when supply is adequate
    assert curve.loc[0.5, "removed_share"] < 0.4  # and little when it is not
    assert (curve["shortfall_pooled"] <= curve["shortfall_alone"]).all()


@pytest.mark.shared_data
def test_us_states_instance_is_built_from_the_jhu_counts(data_dir: Path) -> None:
    demand, states = state_demand(data_dir, date(2020, 4, 1), 30)
    assert len(states) == 49 and "New York" in states.index and "Hawaii" not in states.index
    assert demand.idxmax().mode().iloc[0] == "New York"  # the April 2020 epicentre
    assert (demand.to_numpy() >= 0).all()
    p = pooling_instance(demand, states, 1.0, pooled=True)
    assert p.initial_stock.sum() == pytest.approx(demand.sum(axis=0).max(), rel=0.01)
    assert len(p.routes) == 49 * 48
    plan = solve(p, Options(solver="network"))
    assert plan.total_shortfall < 0.05 * demand.to_numpy().sum()
