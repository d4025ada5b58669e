"""Counterfactual China 2020 (issue 6 validation): calibrate the metapopulation model on China's 31 provinces with
their recorded measures (OxCGRT) and Baidu mobility, then run it without measures and with the measures 1, 2, 3
weeks earlier; print our figures beside Lai et al. (Nature 2020;585:410).

    uv run python benchmarks/counterfactual_china.py [--evaluations 200] [--free-r0]

Default fit: R0 fixed at 2.2 (Li et al. 2020), reporting 0.3 of symptomatic cases; theta (strength of the measures)
and the seed fitted. ``--free-r0`` also fits R0 (penalised by Li et al.'s 95% CI as a lognormal prior).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time

import numpy as np

from accord.policy import scenario_service as ss
from accord.policy import scenarios as sc
from common import print_table, say, shared_data, write_results


def run(china: ss.China2020, evaluations: int, free_r0: bool) -> dict:
    data = china.fit_data()
    t0 = time.perf_counter()
    fitted = sc.fit(data, r0=None if free_r0 else ss.R0_FIXED, reporting=ss.REPORTING, max_evaluations=evaluations)
    seconds = time.perf_counter() - t0
    runs = sc.counterfactual_runs(data, fitted, china.end_day, china.mobility_schedule(china.baseline_outflow))
    expected = sc.expected_confirmed(data, sc.run_fitted(data, fitted.r0, fitted.theta, fitted.seed), fitted.reporting)
    return {
        "fit": {**fitted.__dict__, "seconds": seconds},
        "expected_confirmed_29feb": float(expected[-1].sum()),
        "observed_confirmed_29feb": float(np.nan_to_num(china.observed[-1]).sum()),
        "runs": [r.__dict__ for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--free-r0", action="store_true", help="also fit R0 (with Li et al.'s prior)")
    args = parser.parse_args()
    data = shared_data()
    if data is None:
        say("../shared/data is not present: nothing to run")
        return
    china = ss.load_china_2020(data)
    result = run(china, args.evaluations, args.free_r0)
    fit = result["fit"]
    say(
        f"fit ({fit['evaluations']} evaluations, {fit['seconds']:.0f} s): R0 {fit['r0']:.2f}, "
        f"theta {fit['theta']:.2f}, "
        f"seed {fit['seed']:.0f}, reporting {fit['reporting']:.2f}, sigma(log cum) {fit['sigma']:.2f}; confirmed by "
        f"29 Feb: model {result['expected_confirmed_29feb']:,.0f}, observed {result['observed_confirmed_29feb']:,.0f}"
    )
    runs = {r["name"]: r for r in result["runs"]}
    lai = ss.LAI
    rows = [
        ["cases by 29 Feb, actual measures", f"{runs['actual measures']['cases']:,.0f}", f"{lai['actual_cases']:,}"],
        ["no measures: x-fold", f"{runs['no measures']['ratio_to_actual']:.1f}",
         f"{lai['fold_without']:.0f} (IQR {lai['fold_iqr'][0]:.0f}-{lai['fold_iqr'][1]:.0f})"],
    ]  # fmt: skip
    for k in (1, 2, 3):
        name = f"{k} week{'s' if k > 1 else ''} earlier"
        rows.append([f"{name}: reduction", f"{1 - runs[name]['ratio_to_actual']:.0%}",
                     f"{lai['earlier_reduction'][k]:.0%}"])  # fmt: skip
    print_table("China 2020 counterfactuals: Accord vs Lai et al. (Nature 2020)", ["figure", "Accord", "Lai et al."],
                rows)  # fmt: skip
    write_results("counterfactual_china" + ("_free_r0" if args.free_r0 else ""), result)


if __name__ == "__main__":
    main()
