"""The allocation optimiser on small instances whose optimum can be worked out by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from accord.errors import AccordError
from accord.resources.allocation_baselines import first_come_first_served, proportional_to_need
from accord.resources.optimiser import (
    AllocationProblem,
    Options,
    Pairing,
    Routes,
    alone_shortfall,
    solve,
)


def routes(*rows: tuple[int, int, int, float], n_res: int = 1, **kw: object) -> Routes:
    """Routes from (origin, destination, lead_days, unit_cost) rows."""
    arr = np.array(rows, dtype=float).reshape(-1, 4)
    return Routes(
        origin=arr[:, 0].astype(np.int64),
        destination=arr[:, 1].astype(np.int64),
        lead_days=arr[:, 2].astype(np.int64),
        unit_cost=arr[:, 3],
        **kw,  # type: ignore[arg-type]
    )


def problem(
    nodes: int,
    days: int,
    stock: list[float],
    demand: dict[tuple[int, int], float],
    rts: Routes,
    *,
    reusable: bool = False,
    use_days: int = 1,
    **kw: object,
) -> AllocationProblem:
    """One resource; ``demand`` maps (node, day) -> quantity."""
    d = np.zeros((nodes, 1, days))
    for (n, t), q in demand.items():
        d[n, 0, t] = q
    return AllocationProblem(
        nodes=tuple(f"n{i}" for i in range(nodes)),
        resources=("r",),
        reusable=np.array([reusable]),
        use_days=np.array([use_days]),
        days=days,
        initial_stock=np.array(stock, float)[:, None],
        supply=np.zeros((nodes, 1, days)),
        demand=d,
        routes=rts,
        **kw,  # type: ignore[arg-type]
    )


def test_lead_time_decides_what_can_be_served() -> None:
    # depot n0 holds 10; n1 needs 4 on day 0 (unreachable in time) and 4 on day 2 (reachable, lead 2)
    p = problem(2, 3, [10, 0], {(1, 0): 4, (1, 2): 4}, routes((0, 1, 2, 1.0)))
    plan = solve(p)
    assert plan.status == "optimal" and plan.solver == "ortools-min-cost-flow"
    assert plan.shortfall[1, 0].tolist() == [4, 0, 0]
    row = plan.shipments.iloc[0]
    assert (row.origin, row.destination, row.depart_day, row.arrive_day, row.quantity) == ("n0", "n1", 0, 2, 4)
    assert plan.objective == pytest.approx(4 * 1000 + 4 * 1.0 + 0.01 * (6 + 6))  # shortfall, shipping, holding


def test_priority_decides_who_gets_scarce_units() -> None:
    p = problem(3, 2, [5, 0, 0], {(1, 1): 5, (2, 1): 5}, routes((0, 1, 1, 1.0), (0, 2, 1, 1.0)))
    plan = solve(replace(p, priority=np.array([1.0, 1.0, 3.0])))
    assert plan.shortfall[:, 0, 1].tolist() == [0, 5, 0]


def test_export_ban_and_closed_route_are_respected() -> None:
    two = AllocationProblem(
        nodes=("a", "b"),
        resources=("masks", "beds"),
        reusable=np.array([False, True]),
        use_days=np.array([1, 1]),
        days=2,
        initial_stock=np.array([[10.0, 10.0], [0.0, 0.0]]),
        supply=np.zeros((2, 2, 2)),
        demand=np.array([[[0, 0], [0, 0]], [[0, 3], [0, 3]]], float),  # b needs 3 masks and 3 beds on day 1
        routes=routes((0, 1, 1, 1.0), allowed=np.array([[False, True]])),
    )
    plan = solve(two)
    assert set(plan.shipments["resource"]) == {"beds"}
    assert plan.shortfall[1, 0, 1] == 3 and plan.shortfall[1, 1, 1] == 0
    assert plan.warnings == ("node 'b' needs masks but no open route reaches it from any stock",)


def test_unreachable_region_is_named() -> None:
    p = problem(3, 2, [10, 0, 0], {(1, 1): 2, (2, 1): 2}, routes((0, 1, 1, 1.0)))
    plan = solve(p)
    assert any("'n2'" in w and "no open route" in w for w in plan.warnings)


def test_reusable_units_come_back_after_use() -> None:
    # 2 beds, each admission occupies a bed 2 days: starts of 2 on day 0 and 2 on day 2 are all served,
    # a third start on day 1 is not (both beds busy)
    p = problem(1, 4, [2], {(0, 0): 2, (0, 1): 1, (0, 2): 2}, routes(), reusable=True, use_days=2)
    plan = solve(p)
    assert plan.shortfall[0, 0].tolist() == [0, 1, 0, 0]


def test_consumables_do_not_come_back() -> None:
    p = problem(1, 3, [2], {(0, 0): 2, (0, 2): 2}, routes())
    assert solve(p).shortfall[0, 0].tolist() == [0, 0, 2]


def test_capacity_expansion_arrives_as_supply() -> None:
    # a field hospital adds 3 beds at n0 from day 2
    p = problem(1, 4, [1], {(0, t): 3 for t in range(4)}, routes(), reusable=True)
    supply = np.zeros((1, 1, 4))
    supply[0, 0, 2] = 2
    plan = solve(replace(p, supply=supply))
    assert plan.shortfall[0, 0].tolist() == [2, 2, 0, 0]


def test_preferred_pairing_wins_a_tie_and_exclusive_pairing_closes_other_routes() -> None:
    rts = routes((0, 1, 1, 1.0), (0, 2, 1, 1.0))
    p = problem(3, 2, [4, 0, 0], {(1, 1): 4, (2, 1): 4}, rts)
    preferred = solve(replace(p, pairing=Pairing(np.array([0]), np.array([2]), np.array([False]))))
    assert preferred.shortfall[:, 0, 1].tolist() == [0, 4, 0]
    assert preferred.shipments["unit_cost"].tolist() == [0.5]
    # exclusive: n0 may only help n2 even when n1 has the higher priority
    exclusive = replace(p, pairing=Pairing(np.array([0]), np.array([2]), np.array([True])))
    plan = solve(replace(exclusive, priority=np.array([1.0, 5.0, 1.0])))
    assert plan.shortfall[:, 0, 1].tolist() == [0, 4, 0]


def test_network_and_lp_agree_and_duals_show_where_one_more_unit_helps() -> None:
    rts = routes((0, 1, 1, 1.0), (0, 2, 1, 2.0), (1, 2, 1, 0.5))
    p = problem(3, 4, [6, 1, 0], {(1, 1): 3, (1, 3): 3, (2, 2): 4, (2, 3): 2}, rts, priority=np.array([1.0, 1.0, 2.0]))
    net = solve(p)
    lp = solve(p, Options(solver="lp", duals=True))
    assert lp.solver == "highs-lp" and lp.extra["lp_relative_gap"] < 1e-9
    assert lp.objective == pytest.approx(net.objective, rel=1e-9)
    assert lp.duals is not None
    # one more unit where demand goes unmet is worth that node's priority in units of shortfall
    short = np.argwhere(lp.shortfall[:, 0, :] > 0)
    assert len(short) > 0
    for n, t in short:
        assert lp.duals[n, 0, t] == pytest.approx([1.0, 1.0, 2.0][n], abs=0.01)
    # where nothing is short there is nothing to gain
    assert abs(lp.duals[0, 0, 3]) < 0.01


def test_minmax_spreads_the_shortfall() -> None:
    # 6 units, two regions needing 6 and 2: total-min does not care who is short, min-max makes shares equal
    p = problem(3, 2, [6, 0, 0], {(1, 1): 6, (2, 1): 2}, routes((0, 1, 1, 1.0), (0, 2, 1, 1.0)))
    fair = solve(p, Options(equity="minmax"))
    assert fair.max_share is not None
    assert fair.max_share[0] == pytest.approx(0.25, abs=1e-6)
    assert fair.shortfall[1:, 0, 1] == pytest.approx([1.5, 0.5])
    assert fair.total_shortfall == pytest.approx(solve(p).total_shortfall)
    assert fair.extra["minmax_share"] == pytest.approx(0.25) and fair.extra["minmax_relative_gap"] < 1e-7
    assert fair.extra["lp_relative_gap"] < 1e-7
    by_ipm = solve(p, Options(equity="minmax", lp_method="ipm"))
    assert by_ipm.extra["minmax_relative_gap"] < 1e-6
    assert by_ipm.max_share is not None and by_ipm.max_share[0] == pytest.approx(0.25, abs=1e-6)


def test_participation_leaves_no_region_worse_off_than_alone() -> None:
    # n1 holds 4 and needs 4 late; n2 needs 4 early, at higher priority: total-min takes n1's stock
    p = problem(3, 3, [0, 4, 0], {(1, 2): 4, (2, 1): 4}, routes((1, 2, 1, 0.1)), priority=np.array([1.0, 1.0, 3.0]))
    total = solve(p)
    assert total.shortfall[1].sum() == 4  # n1 gave everything away
    fair = solve(p, Options(equity="participation"))
    alone = alone_shortfall(p)
    assert np.all(fair.shortfall.sum(axis=2) <= alone + 1e-6)
    assert fair.shortfall[1].sum() == 0


def test_shared_route_capacity_couples_resources() -> None:
    p = AllocationProblem(
        nodes=("depot", "city"),
        resources=("masks", "gowns"),
        reusable=np.array([False, False]),
        use_days=np.array([1, 1]),
        days=2,
        initial_stock=np.array([[10.0, 10.0], [0.0, 0.0]]),
        supply=np.zeros((2, 2, 2)),
        demand=np.array([[[0, 0], [0, 0]], [[0, 6], [0, 6]]], float),
        routes=routes((0, 1, 1, 1.0), shared_capacity=np.array([8.0])),
        priority=np.array([1.0, 1.0]),
    )
    plan = solve(p)
    assert plan.solver == "highs-lp"
    assert plan.shipments["quantity"].sum() == pytest.approx(8)
    assert plan.total_shortfall == pytest.approx(4)


def test_max_shortfall_share_that_cannot_be_met_says_which_region() -> None:
    p = problem(3, 2, [4, 0, 0], {(1, 1): 4, (2, 1): 4}, routes((0, 1, 1, 1.0), (0, 2, 1, 1.0)))
    with pytest.raises(AccordError) as caught:
        solve(p, Options(max_shortfall_share=0.2))
    assert "max_shortfall_share" in str(caught.value) and "50.0%" in str(caught.value)
    cut = problem(3, 2, [4, 0, 0], {(1, 1): 1, (2, 1): 1}, routes((0, 1, 1, 1.0)))
    with pytest.raises(AccordError, match="node 'n2' needs r but no open route reaches it"):
        solve(cut, Options(max_shortfall_share=0.5))
    ok = solve(p, Options(max_shortfall_share=0.5))
    assert ok.max_share is not None and ok.max_share[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"initial_stock": np.array([[-1.0], [0.0]])}, "field 'initial_stock': values must not be negative"),
        ({"demand": np.full((2, 1, 2), np.nan)}, "field 'demand': values must be finite"),
        ({"days": 0}, "field 'days'"),
        ({"use_days": np.array([0])}, "field 'use_days'"),
        ({"supply": np.zeros((2, 1, 3))}, "field 'supply': expected an array of shape (2, 1, 2)"),
        ({"routes": routes((0, 5, 1, 1.0))}, "field 'routes.destination'"),
        ({"routes": routes((0, 0, 1, 1.0))}, "two different nodes"),
        ({"routes": routes((0, 1, -1, 1.0))}, "field 'routes.lead_days'"),
        ({"nodes": ("a", "a")}, "field 'nodes': node ids must be unique"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(change: dict[str, object], message: str) -> None:
    p = problem(2, 2, [1, 0], {(1, 1): 1}, routes((0, 1, 1, 1.0)))
    with pytest.raises(AccordError) as caught:
        solve(replace(p, **change))  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_network_solver_refuses_what_it_cannot_do() -> None:
    p = problem(2, 2, [1.5, 0], {(1, 1): 1}, routes((0, 1, 1, 1.0)))
    with pytest.raises(AccordError, match="not whole numbers"):
        solve(p, Options(solver="network"))
    assert solve(p).solver == "highs-lp"  # auto falls back to the LP for fractional quantities
    with pytest.raises(AccordError, match="unknown equity option"):
        solve(p, Options(equity="fair"))  # type: ignore[arg-type]


def test_baselines_are_feasible_and_never_beat_the_optimum() -> None:
    rts = routes((0, 1, 1, 1.0), (0, 2, 2, 1.0), (0, 3, 1, 1.0))
    p = problem(4, 5, [9, 1, 0, 2], {(1, 1): 3, (1, 3): 3, (2, 2): 4, (3, 0): 3, (3, 4): 2}, rts)
    best = solve(p)
    for rule in (proportional_to_need, first_come_first_served):
        plan = rule(p)
        assert plan.objective >= best.objective - 1e-6
        assert (plan.shortfall >= 0).all()
        assert (plan.shipments["arrive_day"] - plan.shipments["depart_day"] >= 1).all()
        assert plan.shipments["quantity"].sum() <= 9
