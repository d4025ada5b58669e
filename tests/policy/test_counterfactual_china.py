"""Validation on real data (issue 6): calibrated on China's 2020 provinces with their recorded measures (OxCGRT
stringency per province, national indicators) and Baidu mobility, the counterfactual without measures gives tens of
times more cases by 29 February 2020, and acting 1, 2, 3 weeks earlier cuts cases in the direction and order of
magnitude Lai et al. (Nature 2020) report: 67-fold (IQR 44-94); -66%, -86%, -95%.

The fit: R0 fixed at Li et al.'s 2.2, reporting fraction 0.3 of symptomatic cases fixed; the measures' strength
(theta) and the seed fitted by maximum likelihood to cumulative confirmed cases per province, 1-29 February.
benchmarks/counterfactual_china.py prints the figures beside Lai et al.'s (and a free-R0 variant).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accord.policy import scenario_service as ss
from accord.policy import scenarios as sc

pytestmark = pytest.mark.shared_data


def test_counterfactual_china_matches_lai_in_direction_and_magnitude(data_dir: Path) -> None:
    china = ss.load_china_2020(data_dir)
    data = china.fit_data(steps_per_day=1)  # same figures to 3 digits as 2 steps a day, half the time
    fitted = sc.fit(data, r0=ss.R0_FIXED, reporting=ss.REPORTING, max_evaluations=120)
    runs = {r.name: r for r in sc.counterfactual_runs(data, fitted, china.end_day,
                                                       china.mobility_schedule(china.baseline_outflow))}  # fmt: skip
    fold = runs["no measures"].ratio_to_actual
    cuts = [1 - runs[name].ratio_to_actual for name in ("1 week earlier", "2 weeks earlier", "3 weeks earlier")]
    print(f"\ntheta {fitted.theta:.2f}, seed {fitted.seed:.0f}; cases by 29 Feb {runs['actual measures'].cases:,.0f} "
          f"(Lai 114,325); no measures x{fold:.1f} (Lai 67, IQR 44-94); earlier: "
          + ", ".join(f"{c:.0%}" for c in cuts) + " (Lai 66%, 86%, 95%)")  # fmt: skip
    assert 10 <= fold <= 300  # "tens of times more"
    assert 0.3 <= cuts[0] <= 0.9
    assert cuts[0] < cuts[1] < cuts[2]
    assert cuts[2] >= 0.8
    # the fit reproduces the confirmed total by 29 Feb within a factor of 2.5
    expected = sc.expected_confirmed(data, sc.run_fitted(data, fitted.r0, fitted.theta, fitted.seed), fitted.reporting)
    observed = np.nan_to_num(china.observed[-1]).sum()
    assert observed / 2.5 <= expected[-1].sum() <= observed * 2.5
