"""Forecast skill on real data: the 31 mainland Chinese provinces fitted on canghailan's daily confirmed cases up to
a cut-off, 14-day forecasts (ensemble median) scored by the mean absolute scaled error (MASE, scale: the mean
absolute one-step naive error on the training days) beside two naive forecasts: persistence (the last value carried
forward) and the last 7 days' mean carried forward. Prints one table per cut-off and a summary of median MASE.

    uv run python benchmarks/forecast_skill.py [--cutoffs 2020-02-01,2020-02-08,2020-02-15] [--members 100]
        [--fit-rho]   (also fit the reporting share instead of fixing it at 0.5)
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small products: threads only thrash on a shared machine
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from accord.analytics import skill
from common import print_table, say, shared_data, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoffs", default="2020-02-01,2020-02-08,2020-02-15")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--horizon", type=int, default=14)
    parser.add_argument("--fit-rho", action="store_true")
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        raise SystemExit("the shared data (../shared/data) is not present")
    inputs = skill.china_inputs(data)
    fixed = None if args.fit_rho else {"rho": 0.5}
    say(f"{len(inputs.provinces)} provinces, horizon {args.horizon} days, {args.members} members, fixed {fixed}")
    summary = []
    per_cutoff = {}
    for cutoff in args.cutoffs.split(","):
        result = skill.forecast_skill(
            inputs, pd.Timestamp(cutoff), horizon=args.horizon, members=args.members, fixed=fixed
        )
        t = result.table
        print_table(
            f"cut-off {cutoff}: MASE over the next {args.horizon} days",
            ["province", "cases to cut-off", "cases ahead", "R0", "R after 23 Jan", "ours", "persistence", "7-day mean",
             "95% coverage"],
            [[r.province, r.cases_train, r.cases_horizon, r.r0, r.r_after, r.mase_model, r.mase_persistence,
              r.mase_mean7, r.coverage95] for r in t.itertuples()],
        )  # fmt: skip
        med = t[["mase_model", "mase_persistence", "mase_mean7", "coverage95"]].median()
        better = int((t.mase_model < t.mase_persistence).sum())
        summary.append([cutoff, med.mase_model, med.mase_persistence, med.mase_mean7, better, t.coverage95.mean(),
                        result.fit_seconds, result.fit.evaluations, result.ensemble_seconds])  # fmt: skip
        per_cutoff[cutoff] = {
            "table": t.replace({np.inf: None}).to_dict(orient="records"),
            "median": med.to_dict(),
            "provinces_better_than_persistence": better,
            "fit_seconds": result.fit_seconds,
            "fit_simulations": result.fit.evaluations,
            "fit_converged": result.fit.converged,
            "ensemble_seconds": result.ensemble_seconds,
        }
    print_table(
        "median MASE over 31 provinces (lower is better; < 1 beats the in-sample one-step naive error)",
        ["cut-off", "ours", "persistence", "7-day mean", "provinces ours < persistence", "mean 95% coverage",
         "fit s", "fit simulations", "ensemble s"],
        summary,
    )  # fmt: skip
    path = write_results(
        "forecast_skill",
        {"members": args.members, "horizon": args.horizon, "fixed": fixed, "cutoffs": per_cutoff},
    )
    say(f"results in {path}")


if __name__ == "__main__":
    main()
