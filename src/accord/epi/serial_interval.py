"""Discretised serial interval distributions for the Cori et al. (2013) renewal equation.

A distribution is a 1-D array ``w`` where ``w[k]`` is the probability that the serial interval is ``k`` days,
``k = 0, 1, 2, ...``; it sums to 1. The renewal equation needs ``w[0] == 0`` (a case cannot infect someone whose
symptoms start the same day and be counted in that day's infection pressure), which the EpiEstim discretisation
guarantees by construction.

Two discretisations of a gamma distribution with mean ``mu`` and standard deviation ``sigma``:

``"epiestim"`` (default; Cori et al. 2013, Web Appendix 11, as R's ``EpiEstim::discr_si``)
    The serial interval minus one day is gamma with shape ``a = ((mu - 1) / sigma)^2`` and scale
    ``b = sigma^2 / (mu - 1)``; day ``k`` receives the gamma mass weighted by the triangular kernel
    ``max(0, 1 - |x + 1 - k|)``, which in closed form is::

        w_k = k F_a(k) + (k - 2) F_a(k - 2) - 2 (k - 1) F_a(k - 1)
              + a b [2 F_{a+1}(k - 1) - F_{a+1}(k - 2) - F_{a+1}(k)]

    with ``F_a`` the gamma CDF (shape ``a``, scale ``b``; zero below 0). The kernel preserves the mean, so the
    discrete mean is ``mu``, and ``w_0 = 0``. Requires ``mu > 1``.

    The whole distribution is kept, as EpiEstim computes it: the list ends where every
    CDF in the formula is exactly 1.0 in double precision, from where on the formula gives exactly
    ``k + (k - 2) - 2 (k - 1) + a b (2 - 1 - 1) = 0`` (EpiEstim's values there are zeros too). An earlier cut
    loses the infection pressure of an epidemic's peak in the late, low-incidence windows (a relative error of
    2e-3 on China's provinces in April 2020 with a cut at 1e-6 of tail mass).

``"midpoint"`` (as the Python package ``epyestim``'s ``discretise_gamma``)
    ``w_k = F(k + 1/2) - F(k - 1/2)`` for ``k = 0 .. ceil(F^{-1}(1 - 1e-6))`` with ``F(-1/2) := 0`` (so day 0
    holds ``F(1/2)``), then normalised. Day 0 usually holds some mass: use :func:`without_day_zero` before
    estimating Rt with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

Method = Literal["epiestim", "midpoint"]

#: the tail mass beyond the last day kept by the midpoint discretisation (epyestim's cut-off)
TAIL = 1e-6


def gamma_shape_scale(mean: float, sd: float) -> tuple[float, float]:
    """Shape and scale of the gamma distribution with this mean and sd: ``a = (m/s)^2``, ``b = s^2/m``."""
    if not (mean > 0 and sd > 0 and np.isfinite(mean) and np.isfinite(sd)):
        raise ValueError(f"a gamma distribution needs a positive mean and sd, not mean={mean}, sd={sd}")
    return (mean / sd) ** 2, sd**2 / mean


def discretise_gamma(mean: float, sd: float, *, method: Method = "epiestim") -> NDArray[np.float64]:
    """The discretised gamma serial interval of this mean and sd (days), by ``method`` (see the module doc)."""
    if method == "epiestim":
        return _epiestim(mean, sd)
    if method == "midpoint":
        shape, scale = gamma_shape_scale(mean, sd)
        return discretise_midpoint(shape, scale)
    raise ValueError(f"unknown discretisation '{method}' (use 'epiestim' or 'midpoint')")


def _epiestim(mean: float, sd: float) -> NDArray[np.float64]:
    if not mean > 1:
        raise ValueError(f"the EpiEstim discretisation needs a mean serial interval above 1 day, not {mean}")
    a, b = gamma_shape_scale(mean - 1, sd)
    k = np.arange(_support_end(a, b), dtype=np.float64)

    def cdf(shape: float, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(special.gammainc(shape, np.clip(x, 0, None) / b), dtype=np.float64)

    # the same terms in the same order as EpiEstim's discr_si, so that the values are its values
    w = k * cdf(a, k) + (k - 2) * cdf(a, k - 2) - 2 * (k - 1) * cdf(a, k - 1)
    w += a * b * (2 * cdf(a + 1, k - 1) - cdf(a + 1, k - 2) - cdf(a + 1, k))
    # the closed form cancels large terms: tiny negative round-off is clipped as EpiEstim does
    w = np.clip(w, 0.0, None)
    w[0] = 0.0
    # the whole distribution sums to 1 but for that round-off (1.5e-13 for 6.48 +- 3.83 days): renormalising
    # moves EpiEstim's values by as little, and lets every user of the list treat it as a distribution
    return np.asarray(w / w.sum(), dtype=np.float64)


def _support_end(a: float, b: float) -> int:
    """The first day ``k`` whose EpiEstim weight, and every later one, is exactly 0: the smallest ``k`` with
    ``F_{a+1}(k - 2) == 1.0`` (then ``F_a`` is 1.0 there too, since gamma(a + 1) lies above gamma(a))."""

    def flat(k: int) -> bool:
        return bool(special.gammainc(a + 1, max(k - 2, 0) / b) == 1.0)

    hi = max(4, int(np.ceil(special.gammainccinv(a + 1, 1e-17) * b)) + 3)
    while not flat(hi):
        hi *= 2
    lo = 2  # F(0) = 0 < 1
    while hi - lo > 1:  # the CDF is monotone: bisect for the first day where it is exactly 1.0
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if flat(mid) else (mid, hi)
    return hi


def discretise_midpoint(shape: float, scale: float) -> NDArray[np.float64]:
    """Gamma(shape, scale) discretised on bins ``[k - 1/2, k + 1/2)`` (day 0: ``[0, 1/2)``), epyestim's way."""
    from scipy import stats  # local: scipy.stats costs a second at import, on every CLI start

    dist = stats.gamma(shape, scale=scale)
    last = float(np.ceil(dist.ppf(1 - TAIL)))
    edges = np.linspace(0.5, last + 0.5, int(last + 1))
    pmf = np.diff(dist.cdf(edges), prepend=0.0)
    return np.asarray(pmf / pmf.sum(), dtype=np.float64)


def without_day_zero(w: ArrayLike) -> NDArray[np.float64]:
    """``w`` with the day-0 mass removed and the rest renormalised (the renewal equation ignores day 0)."""
    out = validate(w, allow_day_zero=True).copy()
    out[0] = 0.0
    if out.sum() <= 0:
        raise ValueError("the serial interval has no mass after day 0")
    return np.asarray(out / out.sum(), dtype=np.float64)


def validate(w: ArrayLike, *, allow_day_zero: bool = False, atol: float = 1e-6) -> NDArray[np.float64]:
    """``w`` as a float array after checking it is a distribution over days 0, 1, 2, ...; renormalised."""
    arr = np.asarray(w, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError("a serial interval distribution is a list of at least two probabilities (days 0, 1, ...)")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("serial interval probabilities must be finite and non-negative")
    total = arr.sum()
    if abs(total - 1.0) > max(atol, 1e-3):
        raise ValueError(f"serial interval probabilities must sum to 1, not {total:.6g}")
    if not allow_day_zero and arr[0] != 0:
        raise ValueError(
            f"the serial interval gives day 0 a probability of {arr[0]:.3g}; the renewal equation needs 0 "
            "(use without_day_zero, or start the list with a 0 for day 0)"
        )
    return np.asarray(arr / total, dtype=np.float64)


def mean_sd(w: ArrayLike) -> tuple[float, float]:
    """Mean and standard deviation (days) of a discrete distribution over days 0, 1, 2, ..."""
    arr = np.asarray(w, dtype=np.float64)
    days = np.arange(arr.size)
    m = float(days @ arr / arr.sum())
    v = float(((days - m) ** 2) @ arr / arr.sum())
    return m, float(np.sqrt(v))


def parse_distribution(text: str) -> NDArray[np.float64]:
    """A distribution from CSV text: either one probability per line for days 0, 1, 2, ... or two columns
    ``day,probability`` (any order of rows, missing days are 0). A header line is allowed."""
    rows = [line.split(",") for line in text.replace(";", ",").splitlines() if line.strip()]
    if rows and not _is_number(rows[0][-1]):
        rows = rows[1:]
    if not rows:
        raise ValueError("the serial interval file holds no probabilities")
    if any(len(r) != len(rows[0]) or len(r) > 2 for r in rows) or not all(_is_number(c) for r in rows for c in r):
        raise ValueError("the serial interval file must hold one probability per line, or 'day,probability' pairs")
    if len(rows[0]) == 1:
        return validate([float(r[0]) for r in rows])
    days = [float(r[0]) for r in rows]
    if any(d < 0 or d != int(d) for d in days) or len(set(days)) != len(days):
        raise ValueError("serial interval days must be distinct whole numbers from 0")
    w = np.zeros(int(max(days)) + 1)
    w[[int(d) for d in days]] = [float(r[1]) for r in rows]
    return validate(w)


def read_distribution(path: str | Path) -> NDArray[np.float64]:
    """A distribution from a CSV file (see :func:`parse_distribution`)."""
    return parse_distribution(Path(path).read_text(encoding="utf-8-sig"))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def sample_gamma_distributions(
    mean: float,
    sd: float,
    *,
    mean_sd: float,
    sd_sd: float,
    n: int,
    seed: int | np.random.Generator | None = None,
    mean_bounds: tuple[float, float] | None = None,
    sd_bounds: tuple[float, float] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` serial intervals with uncertain mean and sd (EpiEstim's ``uncertain_si``): the mean is drawn from a
    normal ``N(mean, mean_sd)`` truncated to ``mean_bounds`` (default ``mean +- 2 mean_sd``, floored at 1), the sd
    from ``N(sd, sd_sd)`` truncated to ``sd_bounds`` (default ``sd +- 2 sd_sd``, floored at 0), redrawing pairs
    whose sd exceeds the mean (as EpiEstim does). Returns the ``(n, days)`` distributions (EpiEstim discretisation,
    zero-padded to a common length) and the ``(n, 2)`` drawn (mean, sd) pairs."""
    rng = np.random.default_rng(seed)
    lo_m, hi_m = mean_bounds or (max(1.0 + 1e-9, mean - 2 * mean_sd), mean + 2 * mean_sd)
    lo_s, hi_s = sd_bounds or (max(1e-9, sd - 2 * sd_sd), sd + 2 * sd_sd)
    pairs = np.empty((0, 2))
    while len(pairs) < n:
        means = _truncnorm(mean, mean_sd, lo_m, hi_m, n, rng)
        sds = _truncnorm(sd, sd_sd, lo_s, hi_s, n, rng)
        keep = sds < means
        pairs = np.vstack([pairs, np.column_stack([means[keep], sds[keep]])])
    pairs = pairs[:n]
    dists = [_epiestim(float(m), float(s)) for m, s in pairs]
    out = np.zeros((n, max(d.size for d in dists)))
    for i, d in enumerate(dists):
        out[i, : d.size] = d
    return out, pairs


def _truncnorm(mu: float, sigma: float, lo: float, hi: float, n: int, rng: np.random.Generator) -> NDArray[np.float64]:
    if sigma == 0:
        return np.full(n, mu)
    from scipy import stats  # local: see above

    draws = stats.truncnorm.rvs((lo - mu) / sigma, (hi - mu) / sigma, loc=mu, scale=sigma, size=n, random_state=rng)
    return np.asarray(draws, dtype=np.float64)
