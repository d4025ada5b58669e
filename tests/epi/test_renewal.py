"""The renewal forecaster: Cori's posterior when nothing is imported, the importation scale shared by coupled
regions recovered, simulations that follow the renewal equation, no forecast without data, recalibration."""

from __future__ import annotations

import numpy as np
import pytest

from accord.epi import renewal, rt, scoring
from accord.epi import serial_interval as si

W = si.discretise_gamma(6.48, 3.83)


def pressure(history: np.ndarray) -> np.ndarray:
    """sum_{s >= 1} w_s y_{t - s} for the day after ``history`` (days x regions)."""
    lags = min(W.size - 1, history.shape[0])
    return np.asarray(W[1 : lags + 1] @ history[::-1][:lags])


def renewal_series(r: float, days: int, regions: int, seed: int, imports: np.ndarray | None = None) -> np.ndarray:
    """Poisson cases from the renewal equation with reproduction number ``r`` (and imported cases)."""
    rng = np.random.default_rng(seed)
    y = np.zeros((days, regions))
    y[0] = 50
    c = np.zeros((days, regions)) if imports is None else imports
    for t in range(1, days):
        y[t] = rng.poisson(r * pressure(y[:t]) + c[t])
    return y


def test_without_importations_the_fit_is_coris_posterior() -> None:
    y = renewal_series(1.3, 60, 3, seed=1)
    fitted = renewal.fit(y, W, window=7)
    est = rt.estimate_rt(y.T, W, window=7)
    np.testing.assert_allclose(fitted.shape, est.shape[:, -1], rtol=1e-12)
    np.testing.assert_allclose(fitted.scale, est.scale[:, -1], rtol=1e-12)
    assert fitted.kappa == 0.0 and fitted.supported.all()
    assert np.allclose(fitted.r_mean, 1.3, rtol=0.15)


def test_coupled_regions_share_one_importation_scale_that_the_fit_recovers() -> None:
    """Eight regions with local R 0.7 receive cases imported from one source (kappa x a known covariate): the
    joint fit finds kappa and each region's local R; ignoring importations overestimates R everywhere."""
    days, regions, kappa = 70, 8, 0.4
    rng = np.random.default_rng(5)
    source = 400 * np.exp(-(((np.arange(days) - 50) / 12) ** 2))
    travel = rng.uniform(0.5, 3.0, size=regions)
    m = source[:, None] * travel[None, :]
    y = renewal_series(0.7, days, regions, seed=6, imports=kappa * m)
    coupled = renewal.fit(y, W, window=14, importation=m)
    alone = renewal.fit(y, W, window=14)
    assert coupled.kappa == pytest.approx(kappa, rel=0.25)
    assert np.median(coupled.r_hat) == pytest.approx(0.7, rel=0.25)
    assert (alone.r_hat > coupled.r_hat).all()
    assert np.median(alone.r_hat) > 1.2 * 0.7  # biased upwards by more than a fifth


def test_simulations_follow_the_renewal_equation() -> None:
    y = renewal_series(1.2, 50, 2, seed=2) + 200
    fitted = renewal.fit(y, W, window=7)
    steady = renewal.RenewalFit(
        shape=np.full(2, 1e8), scale=np.full(2, 1.2 / 1e8), r_hat=np.full(2, 1.2), size=np.full(2, 1e4),
        drift_sd=1e-9, reversion=1.0, kappa=0.0, cases_in_window=fitted.cases_in_window, window=7,
        supported=fitted.supported, why=fitted.why,
    )  # fmt: skip
    paths = renewal.simulate(steady, y, W, 14, 400, seed=4)
    expected = y.copy()
    for _ in range(14):
        expected = np.vstack([expected, 1.2 * pressure(expected)])
    np.testing.assert_allclose(paths.mean(axis=0), expected[-14:], rtol=0.03)
    again = renewal.simulate(steady, y, W, 14, 400, seed=4)
    np.testing.assert_array_equal(paths, again)


def test_no_forecast_where_the_window_holds_too_few_cases() -> None:
    y = renewal_series(1.0, 40, 2, seed=3)
    y[-7:, 1] = [1, 0, 2, 0, 1, 0, 3]
    fitted = renewal.fit(y, W, window=7)
    assert fitted.supported.tolist() == [True, False]
    assert fitted.why[0] == "" and "7 cases in the last 7 days, fewer than the 20" in fitted.why[1]


def test_recalibration_widens_and_recentres_on_past_errors() -> None:
    rng = np.random.default_rng(9)
    raw_past = np.tile(np.linspace(80, 120, 23), (40, 1))  # the model said 80-120 ...
    truth = rng.uniform(60, 200, size=40)  # ... it was often outside, and above
    raw_now = np.linspace(80, 120, 23)
    fixed, bias, scale = renewal.recalibrate(raw_now, raw_past, truth)
    assert bias > 0 and scale > 1
    inside = scoring.covered(np.broadcast_to(fixed, (40, 23)), truth, 0.95).mean()
    assert inside >= 0.9  # what the past errors asked for
    assert np.all(np.diff(fixed) >= 0)
    unchanged, b0, s0 = renewal.recalibrate(raw_now, raw_past[:5], truth[:5])
    np.testing.assert_array_equal(unchanged, raw_now)
    assert (b0, s0) == (0.0, 1.0)


def test_rolling_forecasts_use_no_data_after_their_origin() -> None:
    y = renewal_series(1.1, 70, 3, seed=11)
    origins = [27, 34, 41, 48]
    full = renewal.rolling(y, origins, W, members=100, seed=3)
    cut = renewal.rolling(y[:49], origins, W, members=100, seed=3)
    np.testing.assert_array_equal(full.quantiles, cut.quantiles)  # the future never leaks in
    assert np.isfinite(full.truth[0]).all() and np.isnan(cut.truth[-1]).all()
