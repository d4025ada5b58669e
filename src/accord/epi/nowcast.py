"""Nowcasting of the last days' counts for reporting delay, from a reporting triangle measured in the revision
history (chain ladder, over-dispersed Poisson predictive). Pure: arrays in, arrays out.

Notation: ``N[r, t, d]`` is the count of region ``r`` for reference day ``t`` *as it was known* at the end of day
``t + d`` (delay ``d = 0 .. D``), NaN where ``t + d`` lies after the as-of day (not observable yet). The latest
known value of day ``t`` is ``N[r, t, d_t]`` with ``d_t = min(today - t, D)``; ``N[r, t, D]`` is taken as final.

Chain-ladder development factors, pooled over regions (one reporting system) and over the reference days where
both delays are observable::

    f_d = sum_{r,t} N[r, t, d+1] / sum_{r,t} N[r, t, d]          d = 0 .. D-1

Completeness at delay ``d`` (share of the final count known ``d`` days after the day)::

    F_d = prod_{k=d}^{D-1} 1 / f_k        F_D = 1

Point nowcast (the chain-ladder estimate of the final count): ``N_hat = N[r, t, d_t] / F_{d_t}``.

Uncertainty: increments between delays are over-dispersed Poisson, ``Var = phi E`` (England & Verrall 2002),
with ``phi`` estimated from the Pearson residuals of the increments. Given a count ``N`` known at completeness
``F < 1``, the count still to come, with a Jeffreys-type prior on the day's expected total, is
``phi NegBin(r = (N + 1/2) / phi, p = F)`` (failures before ``r`` successes): mean ``(N + 1/2)(1 - F) / F``, variance
``phi (N + 1/2)(1 - F) / F^2``. Where corrections make ``F >= 1`` (counts revised down), a normal approximation
``N/F +- z sqrt(phi |N/F - N|)`` is used; where ``F`` is 0 (nothing is ever known at that delay) no nowcast is
made (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: how far back a figure still changes, by default (days)
MAX_DELAY = 14


@dataclass(frozen=True, eq=False)
class Nowcast:
    """Per region and reference day (``regions x days``): the latest known value, its delay, the nowcast of the
    final value and a credible interval; the development factors, completeness by delay and ``phi``."""

    observed: FloatArray
    delay: IntArray
    mean: FloatArray
    lower: FloatArray
    upper: FloatArray
    factors: FloatArray
    completeness: FloatArray
    dispersion: float
    level: float

    @property
    def corrected(self) -> FloatArray:
        """``mean - observed``: what the nowcast adds to the provisional counts."""
        return np.asarray(self.mean - self.observed, dtype=np.float64)


def latest_known(known: FloatArray) -> tuple[FloatArray, IntArray]:
    """The latest observable value of each (region, day) and its delay (``-1`` and NaN where nothing is)."""
    k = np.asarray(known, dtype=np.float64)
    have = ~np.isnan(k)
    n_delays = k.shape[-1]
    last = np.where(have.any(axis=-1), n_delays - 1 - np.argmax(have[..., ::-1], axis=-1), -1)
    value = np.take_along_axis(k, np.maximum(last, 0)[..., None], axis=-1)[..., 0]
    return np.where(last >= 0, value, np.nan), last.astype(np.int64)


def development_factors(known: FloatArray) -> FloatArray:
    """Chain-ladder factors ``f_d`` pooled over regions and days (1 where nothing was known at ``d``)."""
    k = np.asarray(known, dtype=np.float64)
    now, nxt = k[..., :-1], k[..., 1:]
    both = ~np.isnan(now) & ~np.isnan(nxt)
    axes = tuple(range(k.ndim - 1))
    num = np.where(both, nxt, 0.0).sum(axis=axes)
    den = np.where(both, now, 0.0).sum(axis=axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(den > 0, num / den, np.where(num > 0, np.inf, 1.0))
    return np.asarray(f, dtype=np.float64)


def completeness(factors: FloatArray) -> FloatArray:
    """``F_d = prod_{k >= d} 1 / f_k`` (0 where some later factor is infinite), ``F_D = 1``."""
    inv = np.where(np.isinf(factors), 0.0, 1.0 / np.where(factors == 0, np.inf, factors))
    tail = np.cumprod(inv[::-1])[::-1]
    return np.asarray(np.append(tail, 1.0), dtype=np.float64)


def dispersion(known: FloatArray, factors: FloatArray) -> float:
    """Over-dispersion ``phi`` of the increments (Pearson statistic over degrees of freedom, at least 1)."""
    k = np.asarray(known, dtype=np.float64)
    now, nxt = k[..., :-1], k[..., 1:]
    f = np.where(np.isfinite(factors), factors, 1.0)
    expected = now * (f - 1.0)
    ok = ~np.isnan(now) & ~np.isnan(nxt) & (np.abs(expected) > 0)
    n = int(ok.sum())
    dof = n - int(np.count_nonzero(np.isfinite(factors) & (factors != 1.0)))
    if dof <= 0:
        return 1.0
    resid = (nxt - now - expected)[ok] ** 2 / np.abs(expected[ok])
    return float(max(1.0, resid.sum() / dof))


def nowcast(known: FloatArray, *, level: float = 0.95) -> Nowcast:
    """Nowcast the final counts of every region and reference day from the reporting triangle ``known``
    (``regions x days x delays`` or ``days x delays``; see the module doc)."""
    k = np.asarray(known, dtype=np.float64)
    squeeze = k.ndim == 2
    if squeeze:
        k = k[None]
    if k.ndim != 3 or k.shape[-1] < 1:
        raise ValueError("the reporting triangle must be regions x days x delays")
    if np.any(k[~np.isnan(k)] < 0):
        raise ValueError("counts in the reporting triangle must be non-negative")
    if not 0 < level < 1:
        raise ValueError("the credible level must lie between 0 and 1")
    f = development_factors(k)
    comp = completeness(f)
    phi = dispersion(k, f)
    obs, delay = latest_known(k)
    big_f = np.where(delay >= 0, comp[np.maximum(delay, 0)], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(big_f > 0, obs / big_f, np.nan)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    lower, upper = mean.copy(), mean.copy()
    partial = (big_f > 0) & (big_f < 1) & ~np.isnan(obs)
    r = (obs[partial] + 0.5) / phi
    p = big_f[partial]
    lower[partial] = obs[partial] + phi * stats.nbinom.ppf(lo_q, r, p)
    upper[partial] = obs[partial] + phi * stats.nbinom.ppf(hi_q, r, p)
    over = (big_f > 1) & ~np.isnan(obs)
    z = float(stats.norm.ppf(hi_q))
    half = z * np.sqrt(phi * np.abs(mean[over] - obs[over]))
    lower[over] = np.maximum(mean[over] - half, 0.0)
    upper[over] = mean[over] + half
    out = Nowcast(obs, delay, mean, lower, upper, f, comp, phi, level)
    if squeeze:
        return Nowcast(obs[0], delay[0], mean[0], lower[0], upper[0], f, comp, phi, level)
    return out


def triangle_from_revisions(
    region: IntArray,
    day: IntArray,
    delay: IntArray,
    value: FloatArray,
    shape: tuple[int, int],
    today: int,
    max_delay: int = MAX_DELAY,
) -> FloatArray:
    """Build ``N[r, t, d]`` from revisions: region index, reference-day index, delay in days of each revision (its
    recording day minus its reference day) and its value, in recording order (later rows win). A day's value at
    delay ``d`` is its latest revision recorded at a delay ``<= d``; NaN before its first revision and where
    ``t + d > today``. Revisions later than ``max_delay`` are ignored (the figure is taken as final by then)."""
    regions, days = shape
    out = np.full((regions, days, max_delay + 1), np.nan)
    keep = (delay <= max_delay) & (day >= 0) & (day < days)
    r, t, d, v = region[keep], day[keep], np.maximum(delay[keep], 0), value[keep]
    out[r, t, d] = v  # later rows (revisions) overwrite earlier ones at the same delay
    # carry each value forward to later delays until the next revision
    filled = out.copy()
    for j in range(1, max_delay + 1):
        filled[..., j] = np.where(np.isnan(filled[..., j]), filled[..., j - 1], filled[..., j])
    horizon = today - np.arange(days)[:, None] >= np.arange(max_delay + 1)[None, :]
    return np.where(horizon[None], filled, np.nan)
