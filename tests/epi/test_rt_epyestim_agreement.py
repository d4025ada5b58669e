"""Agreement with epyestim's Cori implementation (``epyestim.estimate_r.estimate_r``) to 1e-6.

epyestim's public entry point ``bagging_r`` bootstraps, smooths and deconvolves (stochastic); its deterministic
core ``estimate_r.estimate_r`` is the Cori posterior (shape ``a_prior + sum I``, scale ``1/(1/b_prior + sum
Lambda)``) on rolling windows, and ``gamma_quantiles`` its quantiles: that is what we compare against.
epyestim's first window starts on day 0 and its infectivity includes the day-0 term ``w_0 I_t``; EpiEstim's first
window starts on day 1 and ``w_0 = 0``. With a serial interval that has ``w_0 = 0`` both agree on every window
that starts on day 1 or later, which is every estimate we make.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from epyestim.distributions import discretise_gamma
from epyestim.estimate_r import estimate_r, gamma_quantiles

from accord.epi import rt
from accord.epi import serial_interval as si


def _epyestim(cases: np.ndarray, w: np.ndarray, window: int, prior_mean: float, prior_sd: float) -> pd.DataFrame:
    a0, b0 = rt.prior_shape_scale(prior_mean, prior_sd)
    series = pd.Series(cases, index=pd.date_range("2020-01-01", periods=cases.size))
    post = estimate_r(series, w, a0, b0, window_size=window)
    return pd.DataFrame(
        {
            "mean": post.a_posterior * post.b_posterior,
            "lower": gamma_quantiles(0.025, post.a_posterior, post.b_posterior),
            "upper": gamma_quantiles(0.975, post.a_posterior, post.b_posterior),
        }
    ).reindex(series.index)


def _series(seed: int, days: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    wave = 5 + 400 * np.exp(-(((t - days * rng.uniform(0.3, 0.7)) / (days / 6)) ** 2))
    return rng.poisson(wave).astype(float)


SERIAL_INTERVALS = {
    "epiestim 7.5+-3.4": si.discretise_gamma(7.5, 3.4),
    "epiestim 4.7+-2.9": si.discretise_gamma(4.7, 2.9),
    "epyestim standard, day 0 removed": si.without_day_zero(discretise_gamma(6.5, scale=0.62)),
}


@pytest.mark.parametrize("si_name", list(SERIAL_INTERVALS))
@pytest.mark.parametrize(("window", "prior_mean", "prior_sd"), [(7, 5.0, 5.0), (3, 5.0, 5.0), (14, 2.0, 1.0)])
def test_posterior_mean_and_bounds_agree_with_epyestim(si_name: str, window: int, prior_mean: float, prior_sd: float):
    w = SERIAL_INTERVALS[si_name]
    cases = _series(seed=window, days=150)
    ours = rt.estimate_rt(cases, w, window=window, prior_mean=prior_mean, prior_sd=prior_sd)
    theirs = _epyestim(cases, w, window, prior_mean, prior_sd)
    for column in ("mean", "lower", "upper"):
        np.testing.assert_allclose(
            getattr(ours, column)[window:], theirs[column].to_numpy()[window:], rtol=0, atol=1e-6
        )


def test_many_regions_in_one_call_agree_with_epyestim_per_region() -> None:
    w = si.discretise_gamma(7.5, 3.4)
    cases = np.stack([_series(seed, 120) for seed in range(8)])
    cases[3, :40] = 0  # a late start, with empty windows
    ours = rt.estimate_rt(cases, w, window=7)
    for i in range(cases.shape[0]):
        theirs = _epyestim(cases[i], w, 7, 5.0, 5.0)
        np.testing.assert_allclose(ours.mean[i, 7:], theirs["mean"].to_numpy()[7:], rtol=0, atol=1e-6)
        np.testing.assert_allclose(ours.upper[i, 7:], theirs["upper"].to_numpy()[7:], rtol=0, atol=1e-6)
