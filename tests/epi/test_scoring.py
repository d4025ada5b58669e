"""Forecast Hub scoring: the weighted interval score, interval coverage and the Hub baseline."""

from __future__ import annotations

import numpy as np
import pytest

from accord.epi import scoring


def pinball_mean(q: np.ndarray, y: float) -> float:
    """WIS written as the mean quantile (pinball) loss 2 (1{y < q} - tau)(q - y) over the 23 levels: the identity
    of Bracher et al. (2021), computed independently of the interval form."""
    tau = np.asarray(scoring.HUB_QUANTILES)
    return float(np.mean(2 * ((y < q).astype(float) - tau) * (q - y)))


def test_the_hub_levels() -> None:
    levels = np.asarray(scoring.HUB_QUANTILES)
    assert len(levels) == 23 and scoring.MEDIAN == 11 and levels[scoring.MEDIAN] == 0.5
    np.testing.assert_allclose(levels + levels[::-1], 1.0)
    assert scoring.ALPHAS == (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def test_wis_equals_the_mean_pinball_loss() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        q = np.sort(rng.gamma(2.0, 50.0, size=23))
        y = float(rng.choice([rng.uniform(0, 400), q[rng.integers(23)], 0.0]))
        assert scoring.wis(q, np.float64(y)) == pytest.approx(pinball_mean(q, y), rel=1e-12, abs=1e-12)


def test_wis_of_a_point_forecast_is_the_absolute_error_and_sharper_is_better_when_right() -> None:
    point = np.full(23, 100.0)
    assert scoring.wis(point, np.float64(130.0)) == pytest.approx(30.0)
    assert scoring.wis(point, np.float64(100.0)) == 0.0
    wide = np.linspace(0, 200, 23)
    narrow = np.linspace(90, 110, 23)
    assert scoring.wis(narrow, np.float64(100.0)) < scoring.wis(wide, np.float64(100.0))
    assert scoring.wis(narrow, np.float64(300.0)) > scoring.wis(wide, np.float64(300.0))


def test_coverage_includes_the_bounds() -> None:
    q = np.linspace(0, 220, 23)  # q0.025 = 10, q0.975 = 210, q0.25 = 60, q0.75 = 160
    y = np.array([10.0, 9.99, 210.0, 60.0, 160.01])
    assert scoring.covered(np.broadcast_to(q, (5, 23)), y, 0.95).tolist() == [True, False, True, True, True]
    assert scoring.covered(np.broadcast_to(q, (5, 23)), y, 0.5).tolist() == [False, False, False, True, False]


def test_decreasing_quantiles_are_refused() -> None:
    with pytest.raises(ValueError, match="must not decrease"):
        scoring.wis(np.linspace(100, 0, 23), np.float64(5.0))


def test_hub_baseline_median_is_the_last_week_with_symmetric_spread_from_past_changes() -> None:
    rng = np.random.default_rng(8)
    daily = rng.poisson(np.linspace(50, 120, 70))[:, None].astype(float)
    q = scoring.hub_baseline(daily, 4)
    last = daily[-7:].sum()
    assert q.shape == (4, 1, 23)
    np.testing.assert_allclose(q[:, 0, scoring.MEDIAN], last)
    weeks = scoring.weekly_sums(daily)[:, 0]
    for h in range(1, 5):
        changes = weeks[7 * h :] - weeks[: -7 * h]
        changes = changes[np.isfinite(changes)]
        expected = last + np.quantile(np.concatenate([changes, -changes]), scoring.HUB_QUANTILES)
        np.testing.assert_allclose(q[h - 1, 0], np.clip(expected, 0, None))
    # symmetric about the last week where nothing is clipped at 0
    np.testing.assert_allclose(q[0, 0] - last, -(q[0, 0][::-1] - last), atol=1e-9)


def test_hub_baseline_never_goes_below_zero_and_a_flat_history_gives_a_point() -> None:
    falling = np.repeat(np.array([700.0, 350, 70, 7, 0, 0]), 7)[:, None]
    assert (scoring.hub_baseline(falling, 4) >= 0).all()
    flat = np.full((30, 2), 3.0)
    np.testing.assert_allclose(scoring.hub_baseline(flat, 2), 21.0)
