"""Nowcasting for reporting delay: the reporting triangle from revisions, chain-ladder completeness recovered from
a simulated delay distribution, nowcasts closer to the final counts than the provisional ones, honest intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.epi import nowcast as nc

DELAY = np.array([0.0, 0.55, 0.25, 0.1, 0.06, 0.04])  # P(first reported d days after the day)


def simulate(regions: int, days: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Final counts (regions x days) and the triangle as known at the end of the last day."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(20, 200, regions)[:, None] * np.exp(0.03 * np.arange(days))[None, :]
    final = rng.poisson(level).astype(float)
    parts = np.stack([rng.multinomial(int(n), DELAY) for n in final.ravel()]).reshape(regions, days, DELAY.size)
    known = np.cumsum(parts, axis=-1).astype(float)
    horizon = (days - 1 - np.arange(days))[:, None] >= np.arange(DELAY.size)[None, :]
    return final, np.where(horizon[None], known, np.nan)


def test_completeness_and_nowcast_recover_the_final_counts() -> None:
    final, known = simulate(8, 60, seed=3)
    result = nc.nowcast(known)
    assert result.completeness[1:] == pytest.approx(np.cumsum(DELAY)[1:], abs=0.01)
    assert result.completeness[0] == 0.0  # nothing is known on the day itself: no nowcast there
    assert np.all(np.isnan(result.mean[:, -1]))
    recent = slice(-5, -1)  # delays 4..1: incomplete but not empty
    raw_error = np.abs(result.observed[:, recent] - final[:, recent]).mean()
    now_error = np.abs(result.mean[:, recent] - final[:, recent]).mean()
    assert now_error < 0.25 * raw_error
    inside = (result.lower[:, recent] <= final[:, recent]) & (final[:, recent] <= result.upper[:, recent])
    assert inside.mean() > 0.8
    # complete days are left as they are
    assert np.array_equal(result.mean[:, :-6], final[:, :-6])
    assert result.dispersion == pytest.approx(1.0, abs=0.3)  # multinomial reporting is not over-dispersed


def test_overdispersed_reporting_widens_the_intervals() -> None:
    """Whole batches arriving late (clustered delays) give phi > 1 and wider intervals."""
    rng = np.random.default_rng(9)
    days, regions = 60, 6
    known = np.full((regions, days, 4), np.nan)
    final = np.zeros((regions, days))
    for r in range(regions):
        for t in range(days):
            batches = rng.poisson(10, size=8)  # 8 reporting units, each late together
            delay = rng.choice([1, 2, 3], size=8, p=[0.6, 0.3, 0.1])
            final[r, t] = batches.sum()
            for d in range(4):
                if t + d <= days - 1:
                    known[r, t, d] = batches[delay <= d].sum()
    result = nc.nowcast(known)
    assert result.dispersion > 2
    inside = (result.lower[:, -3:-1] <= final[:, -3:-1]) & (final[:, -3:-1] <= result.upper[:, -3:-1])
    assert inside.mean() > 0.75


def test_triangle_from_revisions() -> None:
    # region 0, day 1: first reported at delay 1 (value 5), corrected at delay 3 (value 7); day 2 at delay 0
    region = np.array([0, 0, 0])
    day = np.array([1, 1, 2])
    delay = np.array([1, 3, 0])
    value = np.array([5.0, 7.0, 4.0])
    tri = nc.triangle_from_revisions(region, day, delay, value, (1, 4), today=3, max_delay=3)
    assert tri.shape == (1, 4, 4)
    assert np.isnan(tri[0, 1, 0])
    assert tri[0, 1, 1:3].tolist() == [5.0, 5.0]
    assert np.isnan(tri[0, 1, 3])  # day 1 + delay 3 = day 4 > today
    assert tri[0, 2, :2].tolist() == [4.0, 4.0] and np.isnan(tri[0, 2, 2])
    assert np.all(np.isnan(tri[0, 0]))  # never reported


def test_downward_corrections_are_handled() -> None:
    known = np.array([[[10.0, 12.0, 11.0], [10.0, 12.0, 11.0], [10.0, 12.0, np.nan], [10.0, np.nan, np.nan]]])
    result = nc.nowcast(known)
    assert result.factors == pytest.approx([1.2, 11 / 12])
    assert result.mean[0, 2] == pytest.approx(12 * 11 / 12)
    assert result.lower[0, 2] <= result.mean[0, 2] <= result.upper[0, 2]
    assert result.mean[0, 3] == pytest.approx(11.0)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        nc.nowcast(-np.ones((3, 2)))
    with pytest.raises(ValueError, match="level"):
        nc.nowcast(np.ones((3, 2)), level=1.5)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_nowcast_never_below_what_is_known_when_counts_only_grow(seed: int, regions: int) -> None:
    _, known = simulate(regions, 20, seed)
    result = nc.nowcast(known)
    ok = ~np.isnan(result.mean)
    assert np.all(result.mean[ok] >= result.observed[ok] - 1e-9)
    assert np.all(result.lower[ok] <= result.mean[ok] + 1e-9) and np.all(result.mean[ok] <= result.upper[ok] + 1e-9)
