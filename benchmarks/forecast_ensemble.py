"""Forecast ensemble throughput: N members x R regions x D days of the seeded chain binomial (16 age groups),
inline, on a local process pool and on a Dask LocalCluster (worker processes), with identical numbers checked.

    uv run python benchmarks/forecast_ensemble.py [--members 100] [--regions 300] [--days 28] [--workers 2]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from accord.epi import calibrate as cal
from accord.epi import forecast as fc
from accord.epi import metapop as mp
from accord.epi import params
from common import dask_worker_environ, print_table, say, write_results


def spec(regions: int, days: int) -> fc.EnsembleSpec:
    """Regions of 20k-2M people mid-epidemic (state after 40 days of an R0 2.5 epidemic), no mobility."""
    rng = np.random.default_rng(1)
    p = params.covid19()
    contacts = rng.uniform(0.1, 1.5, (4, 16, 16))
    pop = np.round(np.outer(rng.uniform(2e4, 2e6, regions), np.full(16, 1 / 16)))
    setup = cal.FitSetup(p, pop, contacts, days=40)
    values = np.column_stack(
        [np.full(regions, 2.5), np.ones(regions), rng.uniform(5, 50, regions), np.full(regions, 0.5)]
    )
    sim = cal.simulate(setup, values)
    fit = cal.Fit(setup, values, values, values, np.full(regions, 30.0), sim.expected, sim.expected,
                  np.zeros(regions), sim.final, sim.onsets, True, 1, "synthetic")  # fmt: skip
    return fc.spec_from_fit(fit, days, seed=7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--regions", type=int, default=300)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=5)
    args = parser.parse_args()
    s = spec(args.regions, args.days)
    cells = args.members * args.regions * args.days
    say(f"{args.members} members x {args.regions} regions x 16 ages x {args.days} days; {os.getloadavg()} load")
    rows, times = [], {}

    t0 = time.perf_counter()
    inline = fc.run_ensemble(s, args.members, chunk_size=args.chunk)
    times["inline"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        pooled = fc.run_ensemble(s, args.members, pool=pool, chunk_size=args.chunk)
    times[f"process pool ({args.workers}, incl. start)"] = time.perf_counter() - t0
    assert np.array_equal(inline.members, pooled.members)

    from dask.distributed import Client, LocalCluster

    dask_worker_environ()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        on_dask = fc.run_ensemble(s, args.members, pool=client.get_executor(), chunk_size=args.chunk)
        times[f"Dask LocalCluster ({args.workers} processes, started)"] = time.perf_counter() - t0
    assert np.array_equal(inline.members, on_dask.members)

    for name, sec in times.items():
        rows.append([name, sec, cells / sec, times["inline"] / sec])
    print_table(
        "ensemble: identical numbers on every executor", ["executor", "seconds", "region-days/s", "speed-up"], rows
    )
    q = inline.quantiles()
    band = f"{q[0, -1, 0]:.0f}-{q[4, -1, 0]:.0f}"
    say(f"median reported cases on the last day, first region: {q[2, -1, 0]:.0f} (95% {band})")
    path = write_results(
        "forecast_ensemble",
        {"members": args.members, "regions": args.regions, "days": args.days, "workers": args.workers,
         "seconds": times, "region_days_per_second": {k: cells / v for k, v in times.items()}, "mp": mp.__name__},
    )  # fmt: skip
    say(f"results in {path}")


if __name__ == "__main__":
    main()
