"""Calibration by maximum likelihood: parameters used to generate a synthetic reported series are recovered
(inside their Fisher intervals), and the likelihood pieces are right."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from accord.epi import calibrate as cal
from accord.epi import params

P3 = params.covid19((0, 20, 60))
CONTACTS = np.array(
    [[[3.0, 1.0, 0.5], [1.0, 4.0, 1.0], [0.5, 1.0, 2.0]], [[1.0, 2.0, 0.1], [2.0, 6.0, 1.0], [0.1, 1.0, 1.0]]]
)


def test_recovers_parameters_of_a_full_epidemic() -> None:
    """No intervention, epidemics that run their course (depletion makes the reporting share identifiable)."""
    pop = np.array([[6_000.0, 10_000, 4_000], [15_000, 25_000, 10_000]])
    setup = cal.FitSetup(P3, pop, CONTACTS, days=120, observed_from=5, report_delay=cal.gamma_delay(4.0, 2.0))
    truth = np.array([[2.2, 1.0, 5.0, 0.6], [1.7, 1.0, 20.0, 0.3]])
    mu = cal.simulate(setup, truth).expected[5:]
    y = np.random.default_rng(11).poisson(mu).astype(float)
    y[40, 0] = np.nan  # a missing day is ignored
    fit = cal.fit(setup, y, negative_binomial=False)
    assert fit.converged
    for name in ("r0", "seed", "rho"):
        col = cal.PARAMETERS.index(name)
        est, lo, hi = fit.values[:, col], fit.lower[:, col], fit.upper[:, col]
        assert np.all((lo <= truth[:, col]) & (truth[:, col] <= hi)), (name, est, lo, hi)
    assert fit.parameter("r0") == pytest.approx(truth[:, 0], rel=0.05)
    assert fit.parameter("rho") == pytest.approx(truth[:, 3], rel=0.15)
    assert np.all(fit.parameter("change") == 1.0)
    # the fit report: fitted close to the expected series, residuals centred
    assert np.nanmean(np.abs(fit.fitted - mu)) < 0.1 * mu.mean()
    assert abs(np.nanmean(fit.residuals)) < 0.2


def test_recovers_a_change_in_transmission_with_overdispersion() -> None:
    pop = np.array([[200_000.0, 300_000, 100_000]])
    setup = cal.FitSetup(
        P3, pop, CONTACTS, days=80, observed_from=10, change_day=40, report_delay=cal.gamma_delay(5, 3)
    )
    truth = np.array([[2.6, 0.4, 30.0, 0.5]])
    mu = cal.simulate(setup, truth).expected[10:]
    y = np.random.default_rng(5).negative_binomial(20, 20 / (20 + mu)).astype(float)
    fit = cal.fit(setup, y, fixed={"rho": 0.5})
    assert fit.converged
    assert fit.parameter("r0")[0] == pytest.approx(2.6, rel=0.06)
    assert fit.parameter("change")[0] == pytest.approx(0.4, rel=0.15)
    assert fit.r_after[0] == pytest.approx(1.04, rel=0.15)
    # truth within 3 standard errors (1.5 x the 95% half-width, log scale) of the estimate
    for col, true in ((0, 2.6), (1, 0.4)):
        half = np.log(fit.upper[0, col]) - np.log(fit.values[0, col])
        assert 0 < half < 0.3
        assert abs(np.log(true) - np.log(fit.values[0, col])) <= 1.5 * half
    assert 5 < fit.size[0] < 200  # overdispersion detected (true size 20), far from Poisson
    assert fit.values[0, 3] == 0.5 == fit.lower[0, 3] == fit.upper[0, 3]


def test_likelihood_pieces() -> None:
    y = np.array([0.0, 3.0, 10.0])
    mu = np.array([1.5, 2.0, 12.0])
    assert cal.nb_loglik(y, mu, 4.0) == pytest.approx(stats.nbinom.logpmf(y, 4.0, 4.0 / (4.0 + mu)))
    assert cal.nb_loglik(y, mu, np.inf) == pytest.approx(stats.poisson.logpmf(y, mu))
    # squared deviance residuals = 2 (saturated - fitted) log-likelihood
    for k in (4.0, np.inf):
        dev = cal.deviance_residuals(y, mu, k) ** 2
        sat = cal.nb_loglik(y, np.maximum(y, 1e-12), k)
        assert dev == pytest.approx(2 * (sat - cal.nb_loglik(y, mu, k)), abs=1e-9)
    assert np.sign(cal.deviance_residuals(y, mu, 4.0)).tolist() == [-1, 1, -1]
    assert cal.nb_loglik(np.array([np.nan]), np.array([2.0]), 3.0)[0] == 0.0


def test_gamma_delay_and_bad_input() -> None:
    w = cal.gamma_delay(5.0, 3.0)
    assert w.sum() == pytest.approx(1.0)
    assert (np.arange(w.size) * w).sum() == pytest.approx(5.0, abs=0.15)
    setup = cal.FitSetup(P3, np.array([[1e4, 1e4, 1e4]]), CONTACTS, days=30)
    with pytest.raises(ValueError, match="30 days x 1 regions"):
        cal.fit(setup, np.zeros((20, 1)))
    with pytest.raises(ValueError, match="non-negative"):
        cal.fit(setup, -np.ones((30, 1)))
