"""Allocation optimiser at scale: 3,000 regions x 50 supply nodes x 5 resources x 14 days with lead times.

Prints, for the same seeded synthetic instance: the network form solved to optimality by OR-Tools min-cost flow
(build and solve seconds, graph size), the min-max equity option on HiGHS (seconds, LP size, the share reached,
the price of fairness and the optimality residuals), and proportional-to-need and first-come-first-served
allocation (total shortfall, worst region's unmet share, and the ratio to ours). ``--dense`` adds, for contrast,
the dense form (every depot linked to every region) of one resource as a general LP on HiGHS under a time cap.

The instance: regions are points on a 1,000 km square with log-normal populations; an epidemic wave peaks in each
region on a random day; per-resource demand follows the wave (ventilators and nurses in service per day; ICU beds
admitted per day, occupied 7 days; N95 and test kits used up); regions hold 0-120 % of their own peak need and
50 depots hold a national stockpile plus daily production. Routes: each region is served by its 3 nearest depots
(lead 1-3 days by distance, cost by distance), exchanges with its 4 nearest regions (lead 1 day, lateral
pooling), and depots supply each other (lead 1-2 days); 3 % of lateral lanes ban N95 exports.

    uv run python benchmarks/allocation_scale.py [--regions 3000] [--depots 50] [--days 14] [--skip-minmax] [--dense]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import numpy as np
from scipy.spatial import cKDTree

from accord.resources.allocation_baselines import first_come_first_served, proportional_to_need
from accord.resources.optimiser import AllocationProblem, Options, Plan, Routes, solve

RESOURCES = ("ventilator", "icu_bed", "nurse", "n95", "test_kit")
REUSABLE = np.array([True, True, True, False, False])
USE_DAYS = np.array([1, 7, 1, 1, 1])
#: units per 100,000 population at the wave's peak (ICU beds: admissions per day)
PEAK_PER_100K = np.array([12.0, 3.0, 40.0, 900.0, 1500.0])


def synthetic_instance(
    regions: int = 3000, depots: int = 50, days: int = 14, seed: int = 7, adequacy: float = 0.85, dense: bool = False
) -> AllocationProblem:
    """The seeded instance described in the module docstring (``dense``: every depot links to every region)."""
    rng = np.random.default_rng(seed)
    n_res = len(RESOURCES)
    xy = rng.uniform(0, 1000, size=(regions + depots, 2))
    population = np.concatenate([np.exp(rng.normal(np.log(60_000), 1.0, regions)), np.zeros(depots)])
    t = np.arange(days)
    peak = rng.uniform(-3, days + 3, size=(regions, 1))
    width = rng.uniform(3, 8, size=(regions, 1))
    intensity = rng.gamma(2.0, 0.5, size=(regions, 1))
    wave = intensity * np.exp(-(((t - peak) / width) ** 2))  # (regions, days)
    demand = np.zeros((regions + depots, n_res, days))
    demand[:regions] = np.rint(population[:regions, None, None] / 1e5 * PEAK_PER_100K[None, :, None] * wave[:, None])
    # regions hold an uneven share of their own peak need; depots hold the rest of a national stock at `adequacy`
    need_total = np.where(REUSABLE, demand.max(axis=2).sum(axis=0), demand.sum(axis=(0, 2)))
    initial = np.zeros((regions + depots, n_res))
    own = rng.uniform(0.0, 1.2, size=(regions, n_res)) * np.where(
        REUSABLE, demand[:regions].max(axis=2), demand[:regions].sum(axis=2) * 0.5
    )
    initial[:regions] = np.rint(own)
    national = adequacy * need_total - initial[:regions].sum(axis=0)
    depot_share = rng.dirichlet(np.ones(depots))
    stockpile = np.maximum(national, 0) * 0.7
    initial[regions:] = np.rint(depot_share[:, None] * stockpile[None, :])
    supply = np.zeros_like(demand)
    production = np.maximum(national, 0) * 0.3 / days
    supply[regions:] = np.rint(depot_share[:, None, None] * production[None, :, None] * np.ones(days))
    routes = _routes(xy, regions, depots, rng, dense)
    priority = np.ones(regions + depots)
    priority[rng.choice(regions, size=regions // 10, replace=False)] = 2.0  # vulnerable health systems
    names = tuple(f"R{i:04d}" for i in range(regions)) + tuple(f"D{j:02d}" for j in range(depots))
    return AllocationProblem(
        nodes=names,
        resources=RESOURCES,
        reusable=REUSABLE,
        use_days=USE_DAYS,
        days=days,
        initial_stock=initial,
        supply=supply,
        demand=demand,
        routes=routes,
        priority=priority,
    )


def _routes(xy: np.ndarray, regions: int, depots: int, rng: np.random.Generator, dense: bool) -> Routes:
    tree_d = cKDTree(xy[regions:])
    tree_r = cKDTree(xy[:regions])
    k_dep = depots if dense else min(3, depots)
    dist_d, near_d = tree_d.query(xy[:regions], k=k_dep)
    dist_d, near_d = dist_d.reshape(regions, -1), near_d.reshape(regions, -1)
    dist_r, near_r = tree_r.query(xy[:regions], k=5)
    dep_i, dep_j = np.meshgrid(np.arange(depots), np.arange(depots), indexing="ij")
    off = dep_i != dep_j
    dd = np.linalg.norm(xy[regions + dep_i[off]] - xy[regions + dep_j[off]], axis=1)
    origin = np.concatenate([regions + near_d.ravel(), np.repeat(np.arange(regions), 4), regions + dep_i[off]])
    destination = np.concatenate([np.repeat(np.arange(regions), k_dep), near_r[:, 1:].ravel(), regions + dep_j[off]])
    dist = np.concatenate([dist_d.ravel(), dist_r[:, 1:].ravel(), dd])
    kind = np.concatenate([np.zeros(regions * k_dep), np.ones(regions * 4), np.full(int(off.sum()), 2)])
    lead = np.where(kind == 1, 1, 1 + (dist > 250).astype(int) + (dist > 600).astype(int))
    allowed = np.ones((len(origin), len(RESOURCES)), bool)
    allowed[(kind == 1) & (rng.random(len(origin)) < 0.03), RESOURCES.index("n95")] = False
    return Routes(
        origin=origin.astype(np.int64),
        destination=destination.astype(np.int64),
        lead_days=lead.astype(np.int64),
        unit_cost=0.01 * dist + np.where(kind == 1, 0.5, 0.0),
        allowed=allowed,
    )


def summary(plan: Plan) -> dict[str, float]:
    share = plan.unmet_share()
    weights = plan.problem.priority if plan.problem.priority is not None else np.ones(len(plan.problem.nodes))
    return {
        "total_shortfall": plan.total_shortfall,
        "weighted_shortfall": float((plan.shortfall.sum(axis=(1, 2)) * weights).sum()),
        "worst_unmet_share": float(share.max()),
        "mean_unmet_share": float(share[plan.problem.demand.sum(axis=2) > 0].mean()),
        "shipments": float(len(plan.shipments)),
        "build_seconds": plan.build_seconds,
        "solve_seconds": plan.solve_seconds,
    }


def main() -> None:
    from common import print_table, say, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=3000)
    parser.add_argument("--depots", type=int, default=50)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-minmax", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="processes for the per-resource networks")
    parser.add_argument(
        "--minmax-resources", default="ventilator,icu_bed,nurse", help="resources solved with the min-max option"
    )
    parser.add_argument("--dense", action="store_true", help="also the dense form of one resource as a general LP")
    parser.add_argument("--dense-cap", type=float, default=120.0, help="time cap (s) for the dense LP")
    args = parser.parse_args()

    t0 = time.perf_counter()
    problem = synthetic_instance(args.regions, args.depots, args.days, args.seed)
    say(f"instance built in {time.perf_counter() - t0:.1f} s: {len(problem.nodes)} nodes, {len(problem.routes)} routes")
    results: dict[str, object] = {
        "regions": args.regions,
        "depots": args.depots,
        "days": args.days,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }

    ours = solve(problem, Options(equity="total", threads=args.workers))
    results["network"] = {
        **summary(ours),
        **ours.model_size,
        **ours.extra,
        "status": ours.status,
        "solver": ours.solver,
        "workers": args.workers,
    }
    say(f"network form: build {ours.build_seconds:.2f} s, solve {ours.solve_seconds:.2f} s, {ours.model_size}")
    plans = {"optimiser (total)": ours}
    for name, rule in (
        ("proportional to need", proportional_to_need),
        ("first come first served", first_come_first_served),
    ):
        plan = rule(problem)
        plans[name] = plan
        results[rule.__name__] = summary(plan)
        say(f"{name}: {plan.solve_seconds:.2f} s")

    best = summary(ours)
    rows = []
    for name, plan in plans.items():
        s = summary(plan)
        rows.append(
            [
                name,
                s["total_shortfall"],
                s["weighted_shortfall"],
                s["worst_unmet_share"],
                s["mean_unmet_share"],
                s["total_shortfall"] / max(best["total_shortfall"], 1e-9),
                s["build_seconds"],
                s["solve_seconds"],
            ]
        )
    print_table(
        f"Allocation, {args.regions} regions x {args.depots} depots x {len(RESOURCES)} resources x {args.days} days",
        ["plan", "shortfall", "weighted", "worst share", "mean share", "ratio to ours", "build s", "solve s"],
        rows,
    )
    print_table("Model size (network form)", ["item", "value"], [[k, v] for k, v in ours.model_size.items()])
    if not args.skip_minmax:
        results["minmax"] = _minmax(problem, ours, args.minmax_resources.split(","))
    if args.dense:
        results["dense_lp"] = _dense(args)
    out = write_results("allocation_scale", results)
    say(f"results in {out}")


def one_resource(p: AllocationProblem, name: str) -> AllocationProblem:
    """The instance restricted to one resource (resources are independent unless a shared capacity couples them)."""
    keep = [p.resources.index(name)]
    return replace(
        p,
        resources=(name,),
        reusable=p.reusable[keep],
        use_days=p.use_days[keep],
        initial_stock=p.initial_stock[:, keep],
        supply=p.supply[:, keep],
        demand=p.demand[:, keep],
        routes=replace(p.routes, allowed=None if p.routes.allowed is None else p.routes.allowed[:, keep]),
    )


def _minmax(problem: AllocationProblem, ours: Plan, names: list[str]) -> list[dict[str, object]]:
    """The min-max option per resource: time, the worst share reached against the total-optimal plan's, the
    price of fairness (total shortfall ratio) and the certified optimality gap."""
    from common import print_table, say

    out: list[dict[str, object]] = []
    for name in names:
        r = problem.resources.index(name)
        t0, c0 = time.perf_counter(), time.process_time()
        fair = solve(one_resource(problem, name), Options(equity="minmax"))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        total_short = float(ours.shortfall[:, r].sum())
        row = {
            "resource": name,
            "status": fair.status,
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "build_seconds": fair.build_seconds,
            "solve_seconds": fair.solve_seconds,
            "worst_share_minmax": fair.extra.get("minmax_share"),
            "worst_share_total_optimum": float(ours.unmet_share()[:, r].max()),
            "share_p99_minmax": float(np.quantile(fair.unmet_share()[:, 0], 0.99)),
            "share_p99_total": float(np.quantile(ours.unmet_share()[:, r], 0.99)),
            "price_of_fairness": fair.total_shortfall / max(total_short, 1e-9),
            **fair.model_size,
            **fair.extra,
        }
        out.append(row)
        say(f"min-max {name}: {wall:.1f} s wall, {cpu:.1f} s CPU, gap {row.get('minmax_relative_gap')}")
    print_table(
        "Min-max equity option, per resource (HiGHS, column generation)",
        [
            "resource",
            "status",
            "wall s",
            "CPU s",
            "worst share",
            "p99 share total-opt",
            "p99 share min-max",
            "shortfall ratio",
            "gap",
            "columns used / full",
            "rounds",
        ],
        [
            [
                o["resource"],
                o["status"],
                o["wall_seconds"],
                o["cpu_seconds"],
                o["worst_share_minmax"],
                o["share_p99_total"],
                o["share_p99_minmax"],
                o["price_of_fairness"],
                f"{o['minmax_relative_gap']:.1e}",
                f"{o['lp_columns_used']:,} / {o['lp_columns_full']:,}",
                o["pricing_rounds"],
            ]
            for o in out
        ],
    )
    return out


def _dense(args: argparse.Namespace) -> dict[str, object]:
    """One resource (ventilators) with every depot linked to every region, solved as a general LP by HiGHS."""
    from common import print_table, say

    dense = synthetic_instance(args.regions, args.depots, args.days, args.seed, dense=True)
    keep = [0]
    one = AllocationProblem(
        nodes=dense.nodes,
        resources=tuple(dense.resources[i] for i in keep),
        reusable=dense.reusable[keep],
        use_days=dense.use_days[keep],
        days=dense.days,
        initial_stock=dense.initial_stock[:, keep],
        supply=dense.supply[:, keep],
        demand=dense.demand[:, keep],
        routes=Routes(
            origin=dense.routes.origin,
            destination=dense.routes.destination,
            lead_days=dense.routes.lead_days,
            unit_cost=dense.routes.unit_cost,
            allowed=None if dense.routes.allowed is None else dense.routes.allowed[:, keep],
        ),
        priority=dense.priority,
    )
    lp = solve(one, Options(solver="lp", time_limit_seconds=args.dense_cap))
    net = solve(one, Options(solver="network"))
    out = {
        "routes": len(one.routes),
        "lp": {
            "status": lp.status,
            "build_seconds": lp.build_seconds,
            "solve_seconds": lp.solve_seconds,
            **lp.model_size,
        },
        "network": {"build_seconds": net.build_seconds, "solve_seconds": net.solve_seconds, **net.model_size},
        "objective_lp": lp.objective,
        "objective_network": net.objective,
    }
    print_table(
        "Dense form, one resource (ventilators)",
        ["solver", "status", "build s", "solve s", "objective"],
        [
            ["HiGHS LP", lp.status, lp.build_seconds, lp.solve_seconds, lp.objective],
            ["OR-Tools min-cost flow", net.status, net.build_seconds, net.solve_seconds, net.objective],
        ],
    )
    say(f"dense form: {len(one.routes)} routes")
    return out


if __name__ == "__main__":
    main()
