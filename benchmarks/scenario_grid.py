"""Scenario grid at scale (issue 6): a 5 x 5 x 4 grid (start day x intensity x duration = 100 scenarios) for a
300-region country over 180 days, run through the local process pool and through a Dask ``LocalCluster`` with the
same ``concurrent.futures`` API; wall time, time per scenario, and the Pareto frontier's size.

    uv run python benchmarks/scenario_grid.py [--regions 300] [--days 180] [--workers 2] [--skip-dask]

Country: synthetic (populations log-uniform 20k-2M, sparse commuting network as benchmarks/metapop_scale.py), 16 age
groups with Prem et al. 2021 China contacts when ../shared/data is present; 200 people infected in each of 10
regions on day 0; ICU capacity 10 per 100,000 residents. Deterministic model, 2 steps a day. BLAS pinned to one
thread per process (small matrix products).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import time
from concurrent.futures import as_completed
from typing import Any

import numpy as np

from accord.epi import metapop as mp
from accord.epi import params
from accord.epi.executor import open_executor
from accord.policy.scenarios import runs as sc
from common import dask_worker_environ, print_table, say, write_results
from metapop_scale import contacts, synthetic_country

TIMINGS = (0, 14, 28, 42, 56)
INTENSITIES = tuple(sc.INTENSITIES)
DURATIONS = (30, 60, 90, None)


def setting(regions: int, days: int) -> sc.Setting:
    mats, share, source = contacts()
    say(f"contacts: {source}")
    pop, mobility = synthetic_country(regions, share)
    p = params.covid19()
    beta = mp.beta_for_r0(p, mats, pop.sum(axis=0), params.R0)
    model = mp.Metapop(p, pop, mats, beta, mobility=mobility)
    seeds = np.zeros_like(pop)
    seeds[:10] = np.round(200 * share)
    return sc.Setting(model=model, initial=mp.initial_state(pop, seeds), days=days,
                      icu_capacity=pop.sum(axis=1) * 10 / 1e5, steps_per_day=2)  # fmt: skip


def cpu_timed(args: tuple[sc.Setting, sc.Scenario]) -> tuple[sc.Outcome, float]:
    """One scenario and the CPU seconds its worker spent on it (separates executor overhead from the machine's
    load: wall time on a shared machine includes other people's jobs)."""
    c0 = time.process_time()
    out = sc.run_scenario(*args)
    return out, time.process_time() - c0


def timed_grid(
    name: str, s: sc.Setting, grid: list[sc.Scenario], executor: Any
) -> tuple[float, float, list[sc.Outcome]]:
    """Wall seconds, summed worker CPU seconds, outcomes (in order), through ``executor`` (the same submit /
    as_completed path as :func:`accord.policy.scenarios.run_grid`)."""
    t0 = time.perf_counter()
    last = time.perf_counter()
    futures = {executor.submit(cpu_timed, (s, scenario)): k for k, scenario in enumerate(grid)}
    results: list[Any] = [None] * len(grid)
    for done, fut in enumerate(as_completed(futures), start=1):
        results[futures[fut]] = fut.result()
        if done == len(grid) or time.perf_counter() - last > 30:
            last = time.perf_counter()
            say(f"  {name}: {done}/{len(grid)} scenarios, {time.perf_counter() - t0:.0f} s")
    return time.perf_counter() - t0, sum(r[1] for r in results), [r[0] for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=300)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument(
        "--no-dask-profile", action="store_true", help="turn off Dask's worker profiler (10 ms sampling)"
    )
    parser.add_argument(
        "--dask-malloc-top-pad", type=int, default=64, metavar="MIB",
        help="MALLOC_TOP_PAD_ for the Dask workers, MiB (default 64; 0: glibc's default). Dask runs tasks in "
        "worker threads and trims the heap eagerly; without the pad this numpy code runs about twice as slowly",
    )  # fmt: skip
    args = parser.parse_args()
    s = setting(args.regions, args.days)
    grid = sc.grid(TIMINGS, INTENSITIES, DURATIONS)
    say(f"{len(grid)} scenarios, {args.regions} regions x 16 ages x {args.days} days, {args.workers} workers")

    t0, c0 = time.perf_counter(), time.process_time()
    one = sc.run_scenario(s, grid[0])
    single = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    say(f"one scenario in this process: {single['seconds']:.1f} s ({single['cpu_seconds']:.1f} s CPU); "
        f"{one.infections / s.model.population.sum():.0%} infected")  # fmt: skip
    result: dict = {"regions": args.regions, "days": args.days, "scenarios": len(grid), "workers": args.workers,
                    "single_scenario": single}  # fmt: skip
    rows = [["one scenario, in process", 1, f"{single['seconds']:.1f}", f"{single['seconds']:.2f}",
             f"{single['cpu_seconds']:.2f}"]]  # fmt: skip

    local_out: list[sc.Outcome] = []
    n = len(grid)
    if not args.skip_local:
        with open_executor(None, args.workers) as pool:
            local_s, local_cpu, local_out = timed_grid("local pool", s, grid, pool)
        result["local_seconds"], result["local_worker_cpu_seconds"] = local_s, local_cpu
        rows.append([f"local process pool ({args.workers} workers)", n, f"{local_s:.1f}", f"{local_s / n:.2f}",
                     f"{local_cpu / n:.2f}"])  # fmt: skip
        records = sc.frontier_records(local_out)
        result["frontier_size"] = sum(r["on_frontier"] for r in records)

    if not args.skip_dask:
        import dask
        from dask.distributed import Client, LocalCluster

        if args.no_dask_profile:
            dask.config.set({"distributed.worker.profile.enabled": False})
            result["dask_profile"] = False
        result["dask_malloc_top_pad_mib"] = dask_worker_environ(args.dask_malloc_top_pad)
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        with cluster, Client(cluster) as client:
            dask_s, dask_cpu, dask_out = timed_grid("Dask LocalCluster", s, grid, client.get_executor())
        result["dask_seconds"], result["dask_worker_cpu_seconds"] = dask_s, dask_cpu
        same = bool(local_out) and all(
            a.deaths == b.deaths and a.economic_cost == b.economic_cost
            for a, b in zip(local_out, dask_out, strict=True)
        )
        if local_out:
            result["dask_identical_to_local"] = same
        rows.append([f"Dask LocalCluster ({args.workers} workers)", n, f"{dask_s:.1f}", f"{dask_s / n:.2f}",
                     f"{dask_cpu / n:.2f}"])  # fmt: skip
        say(
            f"Dask results identical to the local pool's: {same}"
            if local_out
            else "(local pool not run: no comparison)"
        )
    columns = ["run", "scenarios", "wall s", "wall s / scenario", "worker CPU s / scenario"]
    print_table("Scenario grid: 5 x 5 x 4", columns, rows)
    if "frontier_size" in result:
        say(f"Pareto frontier: {result['frontier_size']} of {len(grid)} scenarios (health = deaths)")
    write_results("scenario_grid" + ("_dask" if args.skip_local else ""), result)


if __name__ == "__main__":
    main()
