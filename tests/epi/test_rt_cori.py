"""Cori et al. Rt: hand-computed posteriors, imported cases, dating, warnings and invariants (Hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from accord.epi import rt
from accord.epi import serial_interval as si

W = np.array([0.0, 0.5, 0.3, 0.2])


def test_small_case_by_hand() -> None:
    local = np.array([10.0, 4, 6, 8, 2])
    est = rt.estimate_rt(local, W, window=2)
    # Lambda = [0, 5, 5, 6.2, 6.6]; the window ending on day 3 covers days 2-3: sum L = 14, sum Lambda = 11.2
    a, b = 1 + 14, 1 / (1 / 5 + 11.2)
    assert np.isnan(est.mean[:2]).all()  # the first window starts on day 1, so the first estimate is day 2
    assert est.mean[3] == pytest.approx(a * b)
    assert est.sd[3] == pytest.approx(np.sqrt(a) * b)
    assert est.lower[3] == pytest.approx(stats.gamma.ppf(0.025, a, scale=b))
    assert est.upper[3] == pytest.approx(stats.gamma.ppf(0.975, a, scale=b))
    assert est.cases_in_window[3] == 14 and est.pressure_in_window[3] == pytest.approx(11.2)


def test_imported_cases_add_pressure_but_are_not_counted() -> None:
    local = np.array([0.0, 4, 6, 8, 2])
    imported = np.array([10.0, 0, 0, 0, 0])
    with_imports = rt.estimate_rt(local, W, imported=imported, window=2)
    all_local = rt.estimate_rt(local + imported, W, window=2)
    # the same infection pressure ...
    np.testing.assert_allclose(with_imports.pressure_in_window, all_local.pressure_in_window)
    # ... and numerator of local cases only (day 0 is outside every window here, so the counts agree)
    np.testing.assert_allclose(with_imports.mean[2:], all_local.mean[2:])
    moved = rt.estimate_rt(np.array([0.0, 4, 6, 8, 2]), W, imported=np.array([10.0, 0, 3, 0, 0]), window=2)
    assert moved.cases_in_window[3] == 14  # the 3 imported cases on day 2 are not in the numerator
    assert moved.pressure_in_window[3] > with_imports.pressure_in_window[3]


def test_regions_are_independent_and_match_one_at_a_time() -> None:
    rng = np.random.default_rng(4)
    cases = rng.poisson(30, size=(5, 60)).astype(float)
    w = si.discretise_gamma(5.0, 2.0)
    together = rt.estimate_rt(cases, w, window=7)
    for i in range(5):
        alone = rt.estimate_rt(cases[i], w, window=7)
        np.testing.assert_array_equal(together.mean[i], alone.mean)
        np.testing.assert_array_equal(together.upper[i], alone.upper)


def test_warning_where_the_window_holds_few_cases_or_no_pressure() -> None:
    cases = np.array([0.0, 0, 0, 2, 1, 1, 30, 40, 50, 60])
    est = rt.estimate_rt(cases, W, window=3)
    np.testing.assert_array_equal(est.warning[3:], est.cases_in_window[3:] < 12)
    assert est.warning[3] and not est.warning[-1]
    silent = rt.estimate_rt(np.array([0.0, 0, 0, 0, 0, 0, 20, 20]), W, window=3)
    assert silent.warning[6]  # 20 cases but no infection pressure: the posterior is the prior
    assert silent.mean[5] == pytest.approx(5.0)  # prior mean


def test_exponential_growth_recovers_the_euler_lotka_value_of_li_et_al() -> None:
    # Li et al. (NEJM 2020): growth 0.10/day with serial interval 7.5 +- 3.4 days gives R0 ~ 2.2 (1.4-3.9);
    # on a long exponential series the Cori estimate tends to 1 / sum_s w_s exp(-r s)
    w = si.discretise_gamma(7.5, 3.4)
    cases = 1e6 * np.exp(0.10 * np.arange(200))
    est = rt.estimate_rt(cases, w, window=7, prior_sd=1e6)
    expected = 1 / np.sum(w * np.exp(-0.10 * np.arange(w.size)))
    assert est.mean[-1] == pytest.approx(expected, rel=1e-6)
    assert 1.4 <= expected <= 3.9


def test_input_errors_are_sentences() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        rt.estimate_rt([1, -1, 3, 4], W, window=2)
    with pytest.raises(ValueError, match="needs more than"):
        rt.estimate_rt([1, 2], W, window=2)
    with pytest.raises(ValueError, match="day 0"):
        rt.estimate_rt([1, 2, 3, 4], [0.5, 0.5], window=2)
    with pytest.raises(ValueError, match="same shape"):
        rt.estimate_rt([1, 2, 3, 4], W, imported=[1, 2], window=2)


counts = hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(9, 40)), elements=st.integers(0, 500))


@settings(max_examples=80, deadline=None)
@given(cases=counts, window=st.integers(1, 8))
def test_posterior_invariants(cases: np.ndarray, window: int) -> None:
    w = si.discretise_gamma(4.0, 2.0)
    est = rt.estimate_rt(cases, w, window=window)
    ok = ~np.isnan(est.mean)
    assert ok[:, window:].all() and not ok[:, :window].any()
    assert np.all(est.mean[ok] > 0)
    assert np.all((est.lower[ok] < est.mean[ok]) & (est.mean[ok] < est.upper[ok]))
    # the posterior mean is a weighted average of the prior mean (5) and the maximum likelihood sum L / sum Lambda
    pressure = est.pressure_in_window[ok]
    cases_ok = est.cases_in_window[ok]
    no_pressure = np.where(cases_ok > 0, np.inf, 5.0)  # no pressure: likelihood flat (0 cases) or maximal at infinity
    mle = np.divide(cases_ok, pressure, out=no_pressure, where=pressure > 0)
    lo, hi = np.minimum(mle, 5.0), np.maximum(mle, 5.0)
    assert np.all((est.mean[ok] >= lo * (1 - 1e-9)) & (est.mean[ok] <= hi * (1 + 1e-9)))


@settings(max_examples=60, deadline=None)
@given(cases=counts, k=st.floats(2.0, 1000.0))
def test_scaling_all_cases_by_k_leaves_rt_unchanged_under_a_flat_prior(cases: np.ndarray, k: float) -> None:
    w = si.discretise_gamma(4.0, 2.0)
    cases = cases + 1  # every window then has infection pressure
    # a vague prior (sd 1e7): the posterior mean is sum L / sum Lambda up to ~1e-13, which does not depend on scale
    one = rt.estimate_rt(cases, w, window=5, prior_sd=1e7)
    many = rt.estimate_rt(k * cases, w, window=5, prior_sd=1e7)
    np.testing.assert_allclose(many.mean, one.mean, rtol=1e-9)
    # more cases, narrower interval
    assert np.all((many.upper - many.lower)[:, 5:] < (one.upper - one.lower)[:, 5:])


def test_uncertain_si_mixture_matches_sampling() -> None:
    rng = np.random.default_rng(8)
    cases = rng.poisson(np.linspace(5, 60, 50)).astype(float)
    dists, _ = si.sample_gamma_distributions(6.0, 2.5, mean_sd=1.0, sd_sd=0.5, n=20, seed=1)
    mix = rt.estimate_rt_uncertain_si(cases, dists, window=7)
    singles = [rt.estimate_rt(cases, d, window=7) for d in dists]
    np.testing.assert_allclose(mix.mean, np.mean([s.mean for s in singles], axis=0))
    # mixture quantiles against a large sample of the mixture on one day
    t = 30
    draws = np.concatenate([rng.gamma(s.shape[t], s.scale[t], 20_000) for s in singles])
    assert mix.lower[t] == pytest.approx(np.quantile(draws, 0.025), rel=0.02)
    assert mix.upper[t] == pytest.approx(np.quantile(draws, 0.975), rel=0.02)
    assert mix.sd[t] == pytest.approx(draws.std(), rel=0.02)
    # one sample: the mixture is that single posterior
    one = rt.estimate_rt_uncertain_si(cases, dists[:1], window=7)
    np.testing.assert_allclose(one.upper, singles[0].upper, rtol=1e-8)
