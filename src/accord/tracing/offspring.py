"""The offspring distribution and its dispersion (pure).

Secondary case counts ``x_i`` are modelled as negative binomial with mean ``R`` and dispersion ``k``
(variance ``R + R^2/k``; small ``k`` = superspreading, ``k -> inf`` = Poisson)::

    log L(R, k) = sum_i [ lgamma(x_i + k) - lgamma(k) - lgamma(x_i + 1)
                          + k log(k / (k + R)) + x_i log(R / (k + R)) ]

The maximum-likelihood ``R`` is the sample mean for every ``k``, so ``k`` is found by maximising the profile
likelihood in ``log k`` (bounded scalar search), and its 95% interval is where the profile deviance
``2 (log L_max - log L(k))`` stays below the chi-square(1) quantile 3.841 (Lloyd-Smith et al., Nature 2005, use
the same likelihood). When the counts are not over-dispersed the likelihood rises towards the Poisson limit
and ``k`` is reported as infinite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special, stats

LOG_K_RANGE = (-6.0, 8.0)  # k from 0.0025 to ~3000: beyond that the fit is Poisson for any practical purpose
CHI2_95 = float(stats.chi2.ppf(0.95, 1))


@dataclass(frozen=True)
class Dispersion:
    n: int
    mean: float  # R, the mean offspring
    variance: float
    k: float
    k_low: float
    k_high: float
    #: share of cases causing 80% of the transmission (from the counts themselves)
    top_share_80: float


def nb_loglik(x: npt.NDArray[np.float64], mean: float, k: float) -> float:
    if mean <= 0:
        return 0.0 if not np.any(x) else -np.inf
    return float(
        np.sum(
            special.gammaln(x + k)
            - special.gammaln(k)
            - special.gammaln(x + 1)
            + k * np.log(k / (k + mean))
            + x * np.log(mean / (k + mean))
        )
    )


def fit_dispersion(counts: npt.ArrayLike) -> Dispersion:
    """Maximum-likelihood negative-binomial ``k`` of offspring counts, with its profile-likelihood interval."""
    x = np.asarray(counts, dtype=np.float64)
    if x.size == 0 or np.any(x < 0):
        raise ValueError("offspring counts must be a non-empty array of non-negative integers")
    mean, var = float(x.mean()), float(x.var(ddof=1)) if x.size > 1 else 0.0
    share = top_share(x)
    if mean == 0:
        return Dispersion(x.size, 0.0, var, np.nan, np.nan, np.nan, share)

    def deviance(log_k: float) -> float:
        return -nb_loglik(x, mean, float(np.exp(log_k)))

    lo, hi = LOG_K_RANGE
    best = optimize.minimize_scalar(deviance, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
    log_k, ll_max = float(best.x), -float(best.fun)
    poisson = nb_loglik(x, mean, float(np.exp(hi)))
    if poisson >= ll_max - 1e-9 or log_k > hi - 1e-3:
        log_k, ll_max = np.inf, poisson

    def excess(log_k_: float) -> float:
        return 2.0 * (ll_max + deviance(log_k_)) - CHI2_95

    k_low = _root(excess, lo, min(log_k, hi)) if excess(lo) > 0 else -np.inf
    k_high = _root(excess, log_k, hi) if np.isfinite(log_k) and excess(hi) > 0 else np.inf
    return Dispersion(x.size, mean, var, float(np.exp(log_k)), float(np.exp(k_low)), float(np.exp(k_high)), share)


def _root(f: Callable[[float], float], a: float, b: float) -> float:
    return float(optimize.brentq(f, a, b, xtol=1e-6))


def top_share(x: npt.NDArray[np.float64], of: float = 0.8) -> float:
    """Smallest share of cases that together caused ``of`` of all secondary cases."""
    total = x.sum()
    if total == 0:
        return float("nan")
    cum = np.cumsum(np.sort(x)[::-1]) / total
    return float((np.searchsorted(cum, of - 1e-12) + 1) / x.size)
