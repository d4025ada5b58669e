"""Serial interval discretisations: EpiEstim's mean-preserving kernel, epyestim's midpoint bins, user files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from epyestim.distributions import discretise_gamma as epyestim_discretise_gamma
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.epi import serial_interval as si


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(1.5, 20.0), cv=st.floats(0.1, 1.2))
def test_epiestim_discretisation_is_a_distribution_with_the_given_mean(mean: float, cv: float) -> None:
    w = si.discretise_gamma(mean, cv * (mean - 1))
    assert w[0] == 0.0
    assert np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    # the triangular kernel preserves the mean; only the truncated 1e-6 tail moves it
    assert si.mean_sd(w)[0] == pytest.approx(mean, abs=1e-3)


def test_epiestim_discretisation_matches_the_closed_form_by_numerical_integration() -> None:
    from scipy import integrate, stats

    mean, sd = 7.5, 3.4
    a, b = si.gamma_shape_scale(mean - 1, sd)
    w = si.discretise_gamma(mean, sd)
    for k in range(1, 15):
        # w_k = integral of the shifted gamma density times the triangle max(0, 1 - |x - k|)
        value, _ = integrate.quad(
            lambda x, k=k: stats.gamma.pdf(x - 1, a, scale=b) * max(0.0, 1 - abs(x - k)), k - 1, k + 1
        )
        assert w[k] == pytest.approx(value, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize(("mean", "sd"), [(7.5, 3.4), (4.7, 2.9), (6.5 * 0.62, 0.62 * 6.5**0.5), (2.0, 3.0)])
def test_midpoint_discretisation_equals_epyestims(mean: float, sd: float) -> None:
    shape, scale = si.gamma_shape_scale(mean, sd)
    ours = si.discretise_gamma(mean, sd, method="midpoint")
    theirs = epyestim_discretise_gamma(shape, scale=scale)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)


def test_day_zero_mass_is_rejected_unless_removed() -> None:
    w = si.discretise_gamma(4.0, 3.0, method="midpoint")
    assert w[0] > 0
    with pytest.raises(ValueError, match="day 0"):
        si.validate(w)
    fixed = si.without_day_zero(w)
    assert fixed[0] == 0 and fixed.sum() == pytest.approx(1.0)


def test_distribution_files_one_column_or_day_probability(tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_text("probability\n0\n0.25\n0.5\n0.25\n")
    np.testing.assert_allclose(si.read_distribution(one), [0, 0.25, 0.5, 0.25])
    two = tmp_path / "two.csv"
    two.write_text("day,probability\n3,0.25\n1,0.25\n2,0.5\n")
    np.testing.assert_allclose(si.read_distribution(two), [0, 0.25, 0.5, 0.25])
    with pytest.raises(ValueError, match="sum to 1"):
        si.parse_distribution("0\n0.5\n0.2\n")
    with pytest.raises(ValueError, match="one probability per line"):
        si.parse_distribution("0\nabc\n")


def test_uncertain_serial_interval_samples_respect_bounds_and_are_reproducible() -> None:
    dists, pairs = si.sample_gamma_distributions(7.5, 3.4, mean_sd=1.0, sd_sd=0.5, n=50, seed=3)
    again, _ = si.sample_gamma_distributions(7.5, 3.4, mean_sd=1.0, sd_sd=0.5, n=50, seed=3)
    np.testing.assert_array_equal(dists, again)
    assert dists.shape[0] == 50 and np.allclose(dists.sum(axis=1), 1.0)
    assert np.all((pairs[:, 0] >= 5.5) & (pairs[:, 0] <= 9.5) & (pairs[:, 1] < pairs[:, 0]))
    means = np.array([si.mean_sd(d)[0] for d in dists])
    np.testing.assert_allclose(means, pairs[:, 0], atol=1e-3)
