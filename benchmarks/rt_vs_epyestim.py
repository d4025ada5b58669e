"""Rt for 3,000 regions x 365 days: Accord's one vectorised call vs epyestim's Cori estimator called per region.

epyestim is timed on a random sample of regions (default 30) and extrapolated linearly to all regions (each call
is independent, so the cost is linear in regions); the numbers of both are compared on the sampled regions.
epyestim's deterministic core is used (``estimate_r.estimate_r`` + ``gamma_quantiles``): its ``bagging_r`` adds
bootstrapping, smoothing and deconvolution, which would only make it slower.

    uv run python benchmarks/rt_vs_epyestim.py [--regions 3000] [--days 365] [--sample 30]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from epyestim.estimate_r import estimate_r, gamma_quantiles

from accord.epi import rt
from accord.epi import serial_interval as si
from common import print_table, say, synthetic_values, write_results


def epyestim_region(cases: np.ndarray, w: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a0, b0 = rt.prior_shape_scale()
    series = pd.Series(cases, index=pd.date_range("2020-01-01", periods=cases.size))
    post = estimate_r(series, w, a0, b0, window_size=window).reindex(series.index)
    a, b = post.a_posterior, post.b_posterior
    return (a * b).to_numpy(), gamma_quantiles(0.025, a, b).to_numpy(), gamma_quantiles(0.975, a, b).to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=3000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--window", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(5)
    populations = rng.integers(2_000, 300_000, size=args.regions).astype(float)
    values = synthetic_values(populations, args.days, seed=6)
    local = values[:, :, 2].astype(np.float64)  # local cases
    imported = np.zeros_like(local)  # epyestim has no imported cases: compare like with like
    w = si.discretise_gamma(7.5, 3.4)
    say(f"{args.regions:,} regions x {args.days} days, window {args.window}, serial interval 7.5 +- 3.4 days")

    ours_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        est = rt.estimate_rt(local, w, imported=imported, window=args.window)
        ours_times.append(time.perf_counter() - t0)
    ours = min(ours_times)

    sample = np.sort(rng.choice(args.regions, size=min(args.sample, args.regions), replace=False))
    sample_times = []
    for _ in range(args.repeat):  # best of the same number of repeats as ours: the machine may be shared
        t0 = time.perf_counter()
        theirs = [epyestim_region(local[i], w, args.window) for i in sample]
        sample_times.append(time.perf_counter() - t0)
    sample_seconds = min(sample_times)
    theirs_all = sample_seconds / len(sample) * args.regions

    k = args.window  # both estimate every window from day index `window` on (see tests/epi)
    diffs = {
        name: max(
            float(np.nanmax(np.abs(getattr(est, name)[i, k:] - theirs[j][col][k:]))) for j, i in enumerate(sample)
        )
        for col, name in enumerate(("mean", "lower", "upper"))
    }
    ratio = theirs_all / ours
    print_table(
        f"Rt (Cori), {args.regions:,} regions x {args.days} days",
        ["tool", "seconds", "regions/s"],
        [
            [f"accord (one vectorised call, best of {args.repeat})", ours, args.regions / ours],
            [
                f"epyestim per region (extrapolated from {len(sample)}, best of {args.repeat})",
                theirs_all,
                args.regions / theirs_all,
            ],
        ],
    )
    print(f"speed-up: {ratio:,.0f}x (target >= 100x)")
    print("max |accord - epyestim| on the sampled regions: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    path = write_results(
        "rt_vs_epyestim",
        {
            "regions": args.regions,
            "days": args.days,
            "window": args.window,
            "accord_seconds": ours,
            "accord_seconds_all_repeats": ours_times,
            "epyestim_sampled_regions": len(sample),
            "epyestim_sample_seconds": sample_seconds,
            "epyestim_sample_seconds_all_repeats": sample_times,
            "epyestim_extrapolated_seconds": theirs_all,
            "ratio": ratio,
            "max_abs_diff": diffs,
        },
    )
    say(f"results in {path}")


if __name__ == "__main__":
    main()
