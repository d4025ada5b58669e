"""Counterfactual China 2020 (issue 6 validation): calibrate the metapopulation model on China's 31 provinces and
Wuhan with their recorded measures (OxCGRT) and Wuhan's Spring Festival exodus (Baidu), then run it without measures
and with the measures 1, 2, 3 weeks earlier; print our figures beside Lai et al. (Nature 2020;585:410).

    uv run python benchmarks/counterfactual_china.py [--evaluations 200] [--free-r0] [--profile]

Default fit: R0 fixed at 2.2 (Li et al. 2020), reporting 0.3 of symptomatic cases; theta (strength of the measures)
and the seed fitted. ``--free-r0`` also fits R0 (penalised by Li et al.'s 95% CI as a lognormal prior).
``--profile`` refits theta and the seed for R0 from 1.7 to 3.0 and prints the profile log-likelihood and the
counterfactuals at each R0, with the R0 values the data do not reject (likelihood-ratio test, 95%).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time
from typing import Any

import numpy as np
from scipy import stats

from accord.policy.scenarios import calibration, china2020
from common import print_table, say, shared_data, write_results

PROFILE_R0 = tuple(round(1.7 + 0.1 * k, 1) for k in range(14))
EARLIER = ("1 week earlier", "2 weeks earlier", "3 weeks earlier")


def run(china: china2020.China2020, data: calibration.FitData, evaluations: int, r0: float | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    fitted = calibration.fit(data, r0=r0, reporting=china2020.REPORTING, max_evaluations=evaluations)
    seconds = time.perf_counter() - t0
    runs = china.counterfactuals(data, fitted)
    traj = calibration.run_fitted(data, fitted.r0, fitted.theta, fitted.seed)
    expected = calibration.expected_confirmed(data, traj, fitted.reporting, fitted.theta)
    return {
        "fit": {**fitted.__dict__, "seconds": seconds},
        "expected_confirmed_29feb": float(expected[-1].sum()),
        "observed_confirmed_29feb": float(np.nan_to_num(china.observed[-1]).sum()),
        "runs": [r.__dict__ for r in runs],
    }


def profile(china: china2020.China2020, data: calibration.FitData, evaluations: int) -> dict[str, Any]:
    """Profile likelihood over R0 (theta and seed refitted at each value) and the counterfactuals along it."""
    rows = [run(china, data, evaluations, r0) for r0 in PROFILE_R0]
    loglik = np.array([r["fit"]["loglik"] for r in rows])
    accepted = 2 * (loglik.max() - loglik) <= stats.chi2.ppf(0.95, df=1)
    folds = np.array([next(x for x in r["runs"] if x["name"] == "no measures")["ratio_to_actual"] for r in rows])
    return {
        "r0": list(PROFILE_R0),
        "rows": rows,
        "r0_mle_on_grid": PROFILE_R0[int(np.argmax(loglik))],
        "r0_accepted": [r for r, ok in zip(PROFILE_R0, accepted, strict=True) if ok],
        "fold_range_accepted": [float(folds[accepted].min()), float(folds[accepted].max())],
    }


def comparison_rows(result: dict[str, Any]) -> list[list[str]]:
    runs = {r["name"]: r for r in result["runs"]}
    lai = china2020.LAI
    rows = [
        ["cases by 29 Feb, actual measures", f"{runs['actual measures']['cases']:,.0f}", f"{lai['actual_cases']:,}"],
        ["no measures: x-fold", f"{runs['no measures']['ratio_to_actual']:.1f}",
         f"{lai['fold_without']:.0f} (IQR {lai['fold_iqr'][0]:.0f}-{lai['fold_iqr'][1]:.0f})"],
    ]  # fmt: skip
    for k, name in enumerate(EARLIER, start=1):
        rows.append([f"{name}: reduction", f"{1 - runs[name]['ratio_to_actual']:.0%}",
                     f"{lai['earlier_reduction'][k]:.0%}"])  # fmt: skip
    return rows


def print_profile(result: dict[str, Any]) -> None:
    rows = []
    best = max(r["fit"]["loglik"] for r in result["rows"])
    for r0, row in zip(result["r0"], result["rows"], strict=True):
        runs = {x["name"]: x for x in row["runs"]}
        cuts = " / ".join(f"{1 - runs[name]['ratio_to_actual']:.0%}" for name in EARLIER)
        rows.append([f"{r0:.1f}", f"{row['fit']['loglik'] - best:.1f}", f"{row['fit']['theta']:.2f}",
                     f"{row['fit']['seed']:,.0f}", f"{row['expected_confirmed_29feb']:,.0f}",
                     f"{runs['no measures']['ratio_to_actual']:.0f}", cuts])  # fmt: skip
    print_table("Profile over R0 (theta, seed refitted)",
                ["R0", "loglik - max", "theta", "seed", "confirmed 29 Feb", "no measures x", "1/2/3 weeks earlier"],
                rows)  # fmt: skip
    lo, hi = result["fold_range_accepted"]
    accepted = f"{min(result['r0_accepted'])}-{max(result['r0_accepted'])}"
    say(f"R0 maximising the likelihood (grid): {result['r0_mle_on_grid']}; not rejected at 95%: {accepted}; "
        f"no measures over that range: x{lo:.0f}-x{hi:.0f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=200)
    parser.add_argument("--free-r0", action="store_true", help="also fit R0 (with Li et al.'s prior)")
    parser.add_argument("--profile", action="store_true", help="profile likelihood and counterfactuals over R0")
    args = parser.parse_args()
    folder = shared_data()
    if folder is None:
        say("../shared/data is not present: nothing to run")
        return
    china = china2020.load_china_2020(folder)
    data = china.fit_data()
    result = run(china, data, args.evaluations, None if args.free_r0 else china2020.R0_FIXED)
    fit = result["fit"]
    say(
        f"fit ({fit['evaluations']} evaluations, {fit['seconds']:.0f} s): R0 {fit['r0']:.2f}, "
        f"theta {fit['theta']:.2f}, "
        f"seed {fit['seed']:.0f}, reporting {fit['reporting']:.2f}, sigma(log cum) {fit['sigma']:.2f}; confirmed by "
        f"29 Feb: model {result['expected_confirmed_29feb']:,.0f}, observed {result['observed_confirmed_29feb']:,.0f}"
    )
    print_table("China 2020 counterfactuals: Accord vs Lai et al. (Nature 2020)", ["figure", "Accord", "Lai et al."],
                comparison_rows(result))  # fmt: skip
    if args.profile:
        result["profile"] = profile(china, data, args.evaluations)
        print_profile(result["profile"])
    write_results("counterfactual_china" + ("_free_r0" if args.free_r0 else ""), result)


if __name__ == "__main__":
    main()
