"""Probabilistic forecasts scored as the COVID-19 Forecast Hub scored them (pure: arrays in, arrays out).

**Quantile forecasts.** A forecast of a weekly count is given by the 23 quantiles :data:`HUB_QUANTILES` (the Hub's
levels: 0.01, 0.025, 0.05, 0.10, 0.15, ..., 0.90, 0.95, 0.975, 0.99). Arrays of quantiles keep them on their last
axis, in that order.

**Weighted interval score** (Bracher, Ray, Gneiting & Reich, PLoS Comput Biol 2021). The 23 quantiles form the
median ``m`` and K = 11 central intervals ``[l_k, u_k]`` of levels ``1 - alpha_k`` (alpha = 0.02, 0.05, 0.1, 0.2,
..., 0.9); for an outcome ``y``::

    IS_alpha = (u - l) + (2 / alpha) (l - y) 1(y < l) + (2 / alpha) (y - u) 1(y > u)
    WIS = (|y - m| / 2 + sum_k (alpha_k / 2) IS_alpha_k) / (K + 1/2)

It is a proper score (lower is better), in the units of the forecast target; WIS = |y - m| for a point forecast.
``relative WIS`` = mean WIS of a model over a set of forecasts / mean WIS of the baseline over the same forecasts
(< 1: better than the baseline).

**Coverage**: the share of outcomes inside the central 50% (``[q0.25, q0.75]``) and 95% (``[q0.025, q0.975]``)
intervals, bounds included.

**The Hub's baseline** ("COVIDhub-baseline", Cramer et al., PNAS 2022): the median of every horizon is the last
observed weekly count, and the spread comes from the changes in weekly counts seen in the past, made symmetric
(each change and its negative), so the median stays at the last value; quantiles below 0 are set to 0. Here the
changes over ``h`` weeks are read from the trailing 7-day sums on every day of the training data (``W_t -
W_{t-7h}``), and the quantiles of horizon ``h`` are the last week's count plus the quantiles of those symmetric
changes: deterministic (the Hub's version samples daily changes).
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

HUB_QUANTILES: tuple[float, ...] = (
    0.01,
    0.025,
    *(round(0.05 * i, 2) for i in range(1, 20)),
    0.975,
    0.99,
)
#: alpha of each central interval, from the outermost (q0.01, q0.99) inwards
ALPHAS: tuple[float, ...] = tuple(round(2 * q, 4) for q in HUB_QUANTILES[:11])
MEDIAN = HUB_QUANTILES.index(0.5)


def interval_score(lower: FloatArray, upper: FloatArray, y: FloatArray, alpha: float) -> FloatArray:
    """The interval score of the central ``1 - alpha`` interval ``[lower, upper]`` for outcomes ``y``."""
    below = np.clip(lower - y, 0.0, None)
    above = np.clip(y - upper, 0.0, None)
    return np.asarray((upper - lower) + (2.0 / alpha) * (below + above), dtype=np.float64)


def wis(quantiles: FloatArray, y: FloatArray) -> FloatArray:
    """Weighted interval score of forecasts given by :data:`HUB_QUANTILES` (last axis) for outcomes ``y``
    (the other axes). NaN where the outcome is unknown."""
    q = np.asarray(quantiles, dtype=np.float64)
    obs = np.asarray(y, dtype=np.float64)
    if q.shape[-1] != len(HUB_QUANTILES):
        raise ValueError(f"a forecast has {len(HUB_QUANTILES)} quantiles on its last axis, not {q.shape[-1]}")
    steps = np.diff(q, axis=-1)
    if np.any(steps < -1e-9 * (1.0 + np.abs(q[..., 1:]))):
        raise ValueError("quantiles must not decrease with the level")
    total = 0.5 * np.abs(obs - q[..., MEDIAN])
    for k, alpha in enumerate(ALPHAS):
        total = total + (alpha / 2.0) * interval_score(q[..., k], q[..., -1 - k], obs, alpha)
    return np.asarray(total / (len(ALPHAS) + 0.5), dtype=np.float64)


def covered(quantiles: FloatArray, y: FloatArray, level: float) -> NDArray[np.bool_]:
    """Whether each outcome lies inside the central ``level`` interval (0.5 or 0.95 and the other Hub levels)."""
    lo = HUB_QUANTILES.index(round((1 - level) / 2, 4))
    hi = HUB_QUANTILES.index(round(1 - (1 - level) / 2, 4))
    q = np.asarray(quantiles, dtype=np.float64)
    obs = np.asarray(y, dtype=np.float64)
    return np.asarray((obs >= q[..., lo]) & (obs <= q[..., hi]), dtype=np.bool_)


def quantiles_of(samples: FloatArray, axis: int = 0) -> FloatArray:
    """The Hub quantiles of samples along ``axis``, moved to the last axis."""
    q = np.quantile(np.asarray(samples, dtype=np.float64), HUB_QUANTILES, axis=axis)
    return np.asarray(np.moveaxis(q, 0, -1), dtype=np.float64)


def weekly_sums(daily: FloatArray) -> FloatArray:
    """Trailing 7-day sums along the first axis (days); NaN for the first six days."""
    values = np.asarray(daily, dtype=np.float64)
    csum = np.cumsum(np.nan_to_num(values), axis=0)
    out = np.full(values.shape, np.nan)
    out[6] = csum[6]
    out[7:] = csum[7:] - csum[:-7]
    return out


def hub_baseline(daily: FloatArray, horizons: int = 4) -> FloatArray:
    """The Hub baseline's quantiles (``horizons x regions x 23``) of the weekly counts ``1 .. horizons`` weeks
    after the last day of ``daily`` (days x regions); see the module doc. Regions without a single change to
    learn from get a point forecast at the last weekly count."""
    weeks = weekly_sums(daily)
    last = weeks[-1]
    out = np.empty((horizons, weeks.shape[1], len(HUB_QUANTILES)))
    for h in range(1, horizons + 1):
        lag = 7 * h
        changes = weeks[lag:] - weeks[:-lag] if weeks.shape[0] > lag else np.full((0, weeks.shape[1]), np.nan)
        both = np.concatenate([changes, -changes], axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a region with no change yet: NaN, set to 0 below
            spread = np.nanquantile(both, HUB_QUANTILES, axis=0) if both.size else np.zeros((23, weeks.shape[1]))
        spread = np.where(np.isfinite(spread), spread, 0.0)
        out[h - 1] = np.clip(last[None, :] + spread, 0.0, None).T
    return out


def hub_targets(horizons: int = 4) -> list[str]:
    """The Hub's target names: ``"1 wk ahead inc case"`` .. ``"4 wk ahead inc case"``."""
    return [f"{h} wk ahead inc case" for h in range(1, horizons + 1)]
