"""Time-varying reproduction number by the method of Cori et al. (2013), for all regions and days at once.

Notation (one region; every array here is ``regions x days`` and every operation runs over all of them at once):

- ``L_t`` local cases on day ``t``, ``M_t`` imported cases, ``w_s`` the discretised serial interval (``w_0 = 0``).
- Infection pressure (total infectiousness) of day ``t``, to which local *and* imported cases contribute::

      Lambda_t = sum_{s=1}^{t} w_s (L_{t-s} + M_{t-s})

- Only local cases are infected locally, so only they appear as the outcome: ``L_t ~ Poisson(R Lambda_t)`` with
  ``R`` constant over the window ``(t - tau, t]`` of ``tau`` days ending on day ``t``.
- With a gamma prior of shape ``a0`` and scale ``b0`` (from the prior mean ``m`` and sd ``s``: ``a0 = (m/s)^2``,
  ``b0 = s^2/m``; EpiEstim's default ``m = s = 5``), the posterior of ``R`` on the window ending on ``t`` is gamma::

      shape a_t = a0 + sum_{k=t-tau+1}^{t} L_k
      scale b_t = 1 / (1/b0 + sum_{k=t-tau+1}^{t} Lambda_k)

  with mean ``a_t b_t``, sd ``sqrt(a_t) b_t``, coefficient of variation ``1/sqrt(a_t)`` and quantiles
  ``b_t P^{-1}(a_t, q)`` (``P^{-1}`` the inverse regularised lower incomplete gamma function).

Dating: the estimate of a window is dated by the window's **last** day ``t`` (EpiEstim's ``t_end``). As in EpiEstim
the first window starts on the second day (day index 1: day 0 has no infection pressure inside the series), so the
first estimate is on day index ``tau``; earlier days are NaN.

Warning: the posterior CV is ``1/sqrt(a0 + sum L)``; Cori et al. recommend windows holding enough cases that it is
small (EpiEstim and epyestim use 12 cases: CV <= 1/sqrt(13) ~ 0.28 with the default prior). An estimate is flagged
when its window holds fewer than ``min_cases`` local cases or no infection pressure (the posterior is then the prior),
and on the days without an estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage, special

from accord.epi import serial_interval

FloatArray = NDArray[np.float64]

#: EpiEstim's default prior on R: gamma with mean 5 and sd 5
PRIOR_MEAN = 5.0
PRIOR_SD = 5.0
#: cases a window should hold for a posterior CV under ~0.3 (Cori et al. 2013; EpiEstim, epyestim)
MIN_CASES = 12


@dataclass(frozen=True)
class RtEstimate:
    """Posterior of R per region and window end day; NaN where no window fits. Shapes follow the input."""

    mean: FloatArray
    sd: FloatArray
    lower: FloatArray
    upper: FloatArray
    shape: FloatArray
    scale: FloatArray
    cases_in_window: FloatArray
    pressure_in_window: FloatArray
    warning: NDArray[np.bool_]
    window: int
    level: float

    @property
    def cv(self) -> FloatArray:
        """Posterior coefficient of variation ``1/sqrt(a_t)``."""
        return np.asarray(1.0 / np.sqrt(self.shape), dtype=np.float64)


def infection_pressure(incidence: ArrayLike, si: ArrayLike) -> FloatArray:
    """``Lambda_t = sum_{s>=1} w_s I_{t-s}`` along the last axis (days before the series count as 0)."""
    w = np.asarray(si, dtype=np.float64).copy()
    w[0] = 0.0
    return lagged_sum(np.asarray(incidence, dtype=np.float64), w)


def causal_filter(values: FloatArray, kernel: FloatArray) -> FloatArray:
    """``out_t = sum_k kernel_k values_{t-k}`` along the last axis, values before day 0 being 0.

    A direct (not FFT) sum in C over all rows at once: exact zeros stay zeros, so "no infection pressure" is
    detected exactly, and the cost is ``rows x days x len(kernel)``.
    """
    k = kernel.size
    # correlate1d centres a kernel of length k at k // 2 + origin: an origin of (k - 1) // 2 puts the reversed
    # kernel's last tap on day t, i.e. it reads days t - k + 1 .. t
    out = ndimage.correlate1d(values, kernel[::-1], axis=-1, mode="constant", cval=0.0, origin=(k - 1) // 2)
    return np.asarray(out, dtype=np.float64)


#: output days per block of :func:`lagged_sum`: small blocks waste few products on the band's zero corner
_BLOCK = 32
#: regions per product: products this small run on one thread in BLAS, which on a busy machine is several
#: times faster than its threads fighting for cores (and no slower on an idle one)
_ROWS = 64


def lagged_sum(values: FloatArray, kernel: FloatArray) -> FloatArray:
    """The same sum as :func:`causal_filter` for finite values, as matrix products with a banded Toeplitz
    matrix, block by block of output days and regions, which BLAS runs several times faster than a filter loop
    once the kernel is long (a whole serial interval: about 100 days).

    Every lag up to the series' length is kept (a longer kernel cannot reach outside the series), so the sum is
    the full one. It remains a direct sum: exact zeros stay zeros, and with non-negative terms (cases and
    probabilities) the relative rounding error is a few ulps however small the result.
    """
    days = values.shape[-1]
    taps = kernel[: max(1, min(kernel.size, days))]
    k = taps.size
    block = _BLOCK
    if not np.all(np.isfinite(values)):
        return causal_filter(values, taps)  # a NaN times a zero of the band would spread to the whole block
    # band[i, j]: weight of input day (t0 - k + 1 + i) in output day (t0 + j), i.e. the lag j - i + k - 1
    lag = np.arange(block)[None, :] - np.arange(k - 1 + block)[:, None] + k - 1
    band = np.where((lag >= 0) & (lag < k), taps[np.clip(lag, 0, k - 1)], 0.0)
    rows = values.reshape(-1, days)
    # every product has the same shape (_ROWS regions x a full block): BLAS then takes the same path for every
    # region wherever it sits (a one-row product would even go to its matrix-vector routine, which sums in another
    # order), so a region's figures never depend on the regions computed with it; the padding is zeros
    height = -(-rows.shape[0] // _ROWS) * _ROWS
    span = -(-days // block) * block
    padded = np.zeros((height, k - 1 + span))
    padded[: rows.shape[0], k - 1 : k - 1 + days] = rows
    out = np.empty((height, span), dtype=np.float64)
    for first in range(0, height, _ROWS):
        chunk = slice(first, first + _ROWS)
        for start in range(0, span, block):
            out[chunk, start : start + block] = padded[chunk, start : start + k - 1 + block] @ band
    return out[: rows.shape[0], :days].reshape(values.shape)


def window_sums(values: FloatArray, window: int) -> FloatArray:
    """Trailing sums over ``window`` days ending on each day along the last axis (NaN before a full window)."""
    csum = np.cumsum(values, axis=-1)
    out = np.full_like(values, np.nan)
    out[..., window - 1] = csum[..., window - 1]
    out[..., window:] = csum[..., window:] - csum[..., :-window]
    return out


def prior_shape_scale(prior_mean: float = PRIOR_MEAN, prior_sd: float = PRIOR_SD) -> tuple[float, float]:
    """Gamma prior (shape, scale) from its mean and sd."""
    return serial_interval.gamma_shape_scale(prior_mean, prior_sd)


def posterior(
    cases_in_window: FloatArray, pressure_in_window: FloatArray, prior_mean: float, prior_sd: float
) -> tuple[FloatArray, FloatArray]:
    """Posterior gamma (shape, scale): ``a = a0 + sum L``, ``b = 1 / (1/b0 + sum Lambda)``."""
    a0, b0 = prior_shape_scale(prior_mean, prior_sd)
    return a0 + cases_in_window, 1.0 / (1.0 / b0 + pressure_in_window)


def gamma_quantile(q: float | FloatArray, shape: FloatArray, scale: FloatArray) -> FloatArray:
    """Quantile ``q`` of gamma(shape, scale), elementwise."""
    return np.asarray(special.gammaincinv(shape, q) * scale, dtype=np.float64)


def estimate_rt(
    local: ArrayLike,
    si: ArrayLike,
    *,
    imported: ArrayLike | None = None,
    window: int = 7,
    prior_mean: float = PRIOR_MEAN,
    prior_sd: float = PRIOR_SD,
    level: float = 0.95,
    min_cases: float = MIN_CASES,
) -> RtEstimate:
    """Cori et al. posterior of R on every ``window``-day window ending on each day, for every region at once.

    ``local`` (and ``imported``, default none) are daily case counts, ``days`` or ``regions x days``; ``si`` is a
    discretised serial interval with ``si[0] == 0`` (see :mod:`accord.epi.serial_interval`). The estimate on day
    ``t`` covers days ``t - window + 1 .. t``; the credible interval is central at ``level``.
    """
    loc, imp, w = _checked(local, imported, si, window, level)
    cases = window_sums(loc, window)
    # sum of Lambda over the window in one pass: the serial interval convolved with the window's box
    w = w.copy()
    w[0] = 0.0
    pressure = lagged_sum(loc + imp, np.convolve(w, np.ones(window)))
    # EpiEstim's first window starts on day 1: day 0's cases have no infection pressure within the series
    cases[..., :window] = np.nan
    pressure[..., :window] = np.nan
    a0, _ = prior_shape_scale(prior_mean, prior_sd)
    shape, scale = posterior(cases, pressure, prior_mean, prior_sd)
    tail = (1.0 - level) / 2
    lower, upper = posterior_quantiles((tail, 1.0 - tail), cases, a0, scale)
    return RtEstimate(
        mean=shape * scale,
        sd=np.sqrt(shape) * scale,
        lower=lower,
        upper=upper,
        shape=shape,
        scale=scale,
        cases_in_window=cases,
        pressure_in_window=pressure,
        warning=_warn(cases, pressure, min_cases),
        window=window,
        level=level,
    )


def posterior_quantiles(
    qs: tuple[float, ...], cases: FloatArray, a0: float, scale: FloatArray
) -> tuple[FloatArray, ...]:
    """Quantiles of the posteriors gamma(a0 + cases, scale), computing the inverse incomplete gamma function once
    per distinct case count: counts are whole numbers, and far fewer distinct than regions x days, while the
    inverse is the costliest step by far (about 1 us a value). The values are identical to elementwise ones."""
    missing = np.isnan(cases)
    counts = np.where(missing, 0.0, cases)
    whole = counts.size == 0 or (np.all(counts == np.floor(counts)) and counts.max() <= 50_000_000)
    if not whole:
        return tuple(gamma_quantile(q, a0 + cases, scale) for q in qs)
    idx = counts.astype(np.intp)
    used = np.zeros(int(idx.max(initial=0)) + 1, dtype=bool)
    used[idx] = True
    distinct = np.flatnonzero(used)
    table = np.empty(used.size)
    out = []
    for q in qs:
        table[distinct] = special.gammaincinv(a0 + distinct.astype(np.float64), q)
        value = table[idx] * scale
        value[missing] = np.nan
        out.append(value)
    return tuple(out)


def _warn(cases: FloatArray, pressure: FloatArray, min_cases: float) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        # NaN compares False: add the days without an estimate explicitly
        return np.asarray((cases < min_cases) | (pressure <= 0) | np.isnan(cases), dtype=np.bool_)


def _checked(
    local: ArrayLike, imported: ArrayLike | None, si: ArrayLike, window: int, level: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    loc = np.asarray(local, dtype=np.float64)
    imp = np.zeros_like(loc) if imported is None else np.asarray(imported, dtype=np.float64)
    if loc.ndim not in (1, 2) or imp.shape != loc.shape:
        raise ValueError("local and imported cases must be arrays of the same shape: days, or regions x days")
    for name, arr in (("local", loc), ("imported", imp)):
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"{name} cases must be finite and non-negative")
    if not (isinstance(window, int | np.integer) and window >= 1):
        raise ValueError(f"the window must be a whole number of days >= 1, not {window}")
    if loc.shape[-1] <= window:
        raise ValueError(f"a {window}-day window needs more than {window} days of cases, not {loc.shape[-1]}")
    if not 0 < level < 1:
        raise ValueError(f"the credible level must lie between 0 and 1, not {level}")
    return loc, imp, serial_interval.validate(si)


# ------------------------------------------------------------------------------- uncertain serial interval
def estimate_rt_uncertain_si(
    local: ArrayLike,
    si_samples: ArrayLike,
    *,
    imported: ArrayLike | None = None,
    window: int = 7,
    prior_mean: float = PRIOR_MEAN,
    prior_sd: float = PRIOR_SD,
    level: float = 0.95,
    min_cases: float = MIN_CASES,
    progress: Callable[[int, int], None] | None = None,
) -> RtEstimate:
    """R integrated over an uncertain serial interval: the equal-weight mixture of the gamma posteriors obtained
    with each of the ``n`` serial intervals in ``si_samples`` (``n x lags``, e.g. from
    :func:`serial_interval.sample_gamma_distributions`).

    EpiEstim samples R from each posterior and pools the samples; we compute the mixture exactly instead:
    mean ``E = (1/n) sum_j a_j b_j``, variance ``(1/n) sum_j (a_j b_j^2 + (a_j b_j)^2) - E^2``, and quantiles
    by bisection on the mixture CDF ``(1/n) sum_j P(a_j, x / b_j)``, which lies between the smallest and largest
    component quantiles. Loops run over serial interval samples only. ``shape`` and ``scale`` of the result are
    the moment-matched gamma. ``progress(done, total)`` is called after each sample.
    """
    samples = np.atleast_2d(np.asarray(si_samples, dtype=np.float64))
    parts = []
    for j, w in enumerate(samples):
        e = estimate_rt(
            local, w, imported=imported, window=window, prior_mean=prior_mean, prior_sd=prior_sd, level=level
        )
        parts.append((e.shape, e.scale))
        if progress is not None:
            progress(j + 1, len(samples))
    cases, pressure = e.cases_in_window, e.pressure_in_window
    shapes = np.stack([p[0] for p in parts])
    scales = np.stack([p[1] for p in parts])
    mean = np.mean(shapes * scales, axis=0)
    var = np.mean(shapes * scales**2 + (shapes * scales) ** 2, axis=0) - mean**2
    var = np.clip(var, 0.0, None)
    tail = (1.0 - level) / 2
    return RtEstimate(
        mean=mean,
        sd=np.sqrt(var),
        lower=mixture_quantile(tail, shapes, scales),
        upper=mixture_quantile(1.0 - tail, shapes, scales),
        shape=mean**2 / var,
        scale=var / mean,
        cases_in_window=cases,
        pressure_in_window=pressure,
        warning=_warn(cases, pressure, min_cases),
        window=window,
        level=level,
    )


def mixture_quantile(q: float, shapes: FloatArray, scales: FloatArray, *, rtol: float = 1e-10) -> FloatArray:
    """Quantile ``q`` of the equal-weight mixture of gammas ``(shapes[j], scales[j])`` (mixture along axis 0)."""
    comp = gamma_quantile(q, shapes, scales)
    lo, hi = np.min(comp, axis=0), np.max(comp, axis=0)
    nan = np.isnan(lo)
    lo, hi = np.where(nan, 0.0, lo), np.where(nan, 1.0, hi)
    # bisection halves the bracket each step: 60 steps reach double precision from any bracket
    for _ in range(60):
        if np.all(hi - lo <= rtol * hi):
            break
        mid = 0.5 * (lo + hi)
        below = np.mean(special.gammainc(shapes, mid / scales), axis=0) < q
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return np.where(nan, np.nan, 0.5 * (lo + hi))
