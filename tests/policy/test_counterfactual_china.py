"""Validation on real data (issue 6): calibrated on China's 2020 provinces and Wuhan with their recorded measures
(OxCGRT stringency per province, national indicators) and Wuhan's Spring Festival exodus (Baidu), the counterfactual
without measures gives tens of times more cases by 29 February 2020, within the interquartile range Lai et al.
(Nature 2020) report (67-fold, IQR 44-94), and acting 1, 2, 3 weeks earlier cuts cases in the direction and order of
magnitude they report (-66%, -86%, -95%).

The fit: R0 fixed at Li et al.'s 2.2, reporting fraction 0.3 of symptomatic cases fixed; the measures' strength
(theta) and the seed fitted by maximum likelihood to cumulative confirmed cases per region, 1-29 February.
benchmarks/counterfactual_china.py prints the figures beside Lai et al.'s, a free-R0 variant and a profile over R0.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from accord.policy.scenarios import calibration, china2020

pytestmark = pytest.mark.shared_data


def test_counterfactual_china_matches_lai_in_direction_and_magnitude(data_dir: Path) -> None:
    china = china2020.load_china_2020(data_dir)
    data = china.fit_data(steps_per_day=1)  # same figures to 3 digits as 2 steps a day, half the time
    fitted = calibration.fit(data, r0=china2020.R0_FIXED, reporting=china2020.REPORTING, max_evaluations=120)
    runs = {r.name: r for r in china.counterfactuals(data, fitted)}
    fold = runs["no measures"].ratio_to_actual
    cuts = [1 - runs[name].ratio_to_actual for name in ("1 week earlier", "2 weeks earlier", "3 weeks earlier")]
    print(f"\ntheta {fitted.theta:.2f}, seed {fitted.seed:.0f}; cases by 29 Feb {runs['actual measures'].cases:,.0f} "
          f"(Lai 114,325); no measures x{fold:.1f} (Lai 67, IQR 44-94); earlier: "
          + ", ".join(f"{c:.0%}" for c in cuts) + " (Lai 66%, 86%, 95%)")  # fmt: skip
    lo, hi = china2020.LAI["fold_iqr"]
    assert lo <= fold <= hi  # Lai et al.'s interquartile range
    assert 0.45 <= cuts[0] <= 0.8
    assert cuts[0] < cuts[1] < cuts[2]
    assert cuts[2] >= 0.85
    # the fit reproduces the confirmed total by 29 Feb within a factor of 1.5, and outside Hubei within 20%
    traj = calibration.run_fitted(data, fitted.r0, fitted.theta, fitted.seed)
    expected = calibration.expected_confirmed(data, traj, fitted.reporting, fitted.theta)[-1]
    observed = np.nan_to_num(china.observed[-1])
    assert observed.sum() / 1.5 <= expected.sum() <= observed.sum() * 1.5
    outside = np.ones(len(china.names), dtype=bool)
    outside[[china.names.index("Hubei"), china.wuhan]] = False
    assert expected[outside].sum() == pytest.approx(observed[outside].sum(), rel=0.2)
    # left free (no prior), R0 stays inside Li et al.'s 95% CI (1.4-3.9): the data do not fight the fixed value
    free = calibration.fit(data, r0_prior=None, reporting=china2020.REPORTING, max_evaluations=200)
    print(f"R0 fitted without a prior: {free.r0:.2f} (log-likelihood {free.loglik - fitted.loglik:+.1f} vs R0 2.2)")
    assert 1.4 <= free.r0 <= 3.9


def test_china_set_up_splits_wuhan_and_keeps_its_travellers_away(data_dir: Path) -> None:
    china = china2020.load_china_2020(data_dir)
    hubei, wuhan = china.names.index("Hubei"), china.wuhan
    end = china.end_day
    # Wuhan + the rest of Hubei is Hubei: 66,907 confirmed by 29 February 2020, 59.02 million residents in 2017
    assert china.observed[end, hubei] + china.observed[end, wuhan] == 66_907
    assert china.population[wuhan].sum() == pytest.approx(china2020.WUHAN_POPULATION, rel=1e-5)
    assert china.population[[hubei, wuhan]].sum() == pytest.approx(59.02e6, rel=1e-3)
    # 5 million left before the cordon and stay away: the share away on 23 January, never falling afterwards
    schedule = china.mobility_schedule
    away = schedule(china.outflow)[:, wuhan] * china.most_away
    day = china.dates.get_loc(china2020.FIRST_CLOSED_DAY) - 1
    assert away[day] == pytest.approx(china2020.LEFT_WUHAN / china2020.WUHAN_POPULATION, rel=1e-6)  # ages rounded
    m = china.mobility()
    assert np.allclose(m.sum(axis=1), 1.0) and m[wuhan, hubei] > 0.5 * china.most_away  # most go elsewhere in Hubei
    # a cordon 0 days earlier is the record; on every day no cordon has at least as many away as the record, and
    # earlier cordons no more than later ones
    assert np.array_equal(china.earlier_outflow(0), china.outflow)
    assert np.all(schedule(china.baseline_outflow) >= schedule(china.outflow))
    stocks = [schedule(china.earlier_outflow(7 * k))[:, wuhan] for k in (0, 1, 2, 3)]
    assert all(np.all(later >= earlier) for later, earlier in itertools.pairwise(stocks))
    assert stocks[3][day] < 0.5 * stocks[0][day]
    with pytest.raises(ValueError, match="days earlier"):
        china.earlier_outflow(day + 2)
