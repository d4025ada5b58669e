"""Short-term forecasts of reported cases by the renewal equation, with the uncertainty of their parameters, every
region at once (pure: arrays in, arrays out).

**Fit** (per region ``i``, at the forecast origin ``T``, the last observed day). Cases are infected locally or
imported: ``y_{i,t} ~ Poisson(R_i Lambda_{i,t} + c_{i,t})`` over the last ``window`` days, with ``Lambda`` the
infection pressure of the region's own cases (:mod:`accord.epi.rt`) and ``c`` the cases expected from
importations (``c = kappa m_{i,t}``, ``m`` a known importation covariate such as travel out of an epicentre times
its prevalence, ``kappa`` one scale **shared by all regions**: the regions are fitted together, coupled through
the source of their importations). For a given ``kappa`` the maximum-likelihood ``R_i`` solves a one-dimensional
concave problem per region (Newton steps, all regions at once); ``kappa`` maximises the summed profile
log-likelihood on a log grid. Without a covariate, ``c = 0`` and the fit is the Cori et al. estimate.

**Parameter uncertainty.** ``R_i`` has the gamma posterior of Cori et al. with the imported share of each day's
cases taken out at the estimate (``shape = a0 + sum_t y_t R Lambda_t / (R Lambda_t + c_t)``,
``scale = 1 / (1/b0 + sum_t Lambda_t)``; exact when ``c = 0``). Transmission keeps changing after the origin, as
it changed before it: from week to week ``log R_{w+1} = phi log R_w + e``, ``e ~ N(0, sigma^2)``, with ``phi`` and
``sigma`` measured on the history of every region together (:func:`weekly_drift`: R estimated on 7-day windows
holding at least :data:`MIN_WINDOW_CASES` cases, a week apart). ``phi < 1`` says how fast transmission has been
returning towards R = 1 (measures, behaviour, depletion), ``sigma`` how much it has wandered. Reporting noise is
negative binomial with a size ``k_i`` estimated by moments from the one-step-ahead errors of the last 28 days.

**Simulation.** Member ``m`` draws ``R_i`` from its posterior and the weekly steps, then runs the renewal equation
day by day: ``y_t ~ NegBin(mean R_{i,week(t)} Lambda_{i,t} + c_{i,t}, size k_i)``, ``Lambda`` taking the simulated
days as they come. Members are seeded (``numpy.random.default_rng(seed)``): the same inputs give the same numbers.

**When the data cannot support a forecast**: a region with fewer than :data:`MIN_CASES` cases in the last
``window`` days has no forecast (its ``R`` would be the prior's); :attr:`RenewalFit.why` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accord.epi import rt, scoring

FloatArray = NDArray[np.float64]

#: cases a region needs over the fit window for a forecast (a posterior CV of R of about 0.2)
MIN_CASES = 20
#: cases a 7-day window needs for its R to enter the measurement of how fast R changes
MIN_WINDOW_CASES = 30
#: bounds on the weekly sd of log R (a floor: even a steady history does not promise a steady future)
DRIFT_BOUNDS = (0.05, 1.0)
#: a ceiling on simulated daily cases (far above any region's; it keeps a runaway member finite)
MAX_DAILY = 1e8
KAPPA_GRID = np.concatenate([[0.0], np.exp(np.linspace(np.log(1e-6), np.log(1e3), 91))])


@dataclass(frozen=True)
class RenewalFit:
    """The fit at the origin (the last day of ``cases``), per region."""

    shape: FloatArray  # posterior gamma shape of R
    scale: FloatArray  # posterior gamma scale of R
    r_hat: FloatArray  # maximum-likelihood R (with importations taken out)
    size: FloatArray  # negative binomial size k of daily reporting
    drift_sd: float  # weekly sd of the change of log R
    reversion: float  # phi: log R of one week is phi times the last week's, plus the change
    kappa: float  # importation scale (0 without a covariate)
    cases_in_window: FloatArray
    window: int
    supported: NDArray[np.bool_]
    why: list[str]

    @property
    def r_mean(self) -> FloatArray:
        return np.asarray(self.shape * self.scale, dtype=np.float64)


def fit(
    cases: ArrayLike,
    si: ArrayLike,
    *,
    window: int = 7,
    importation: ArrayLike | None = None,
    prior_mean: float = rt.PRIOR_MEAN,
    prior_sd: float = rt.PRIOR_SD,
    min_cases: float = MIN_CASES,
) -> RenewalFit:
    """Fit every region (columns of ``cases``, days x regions, the last row the origin). ``importation``: the
    importation covariate ``m`` (days x regions, same days), or None."""
    y = _checked(cases)
    days = y.shape[0]
    if days <= window:
        raise ValueError(f"a renewal fit needs more than {window} days of cases, not {days}")
    w = np.asarray(si, dtype=np.float64)
    lam = rt.infection_pressure(y.T, w).T  # days x regions
    m = np.zeros_like(y) if importation is None else np.clip(np.asarray(importation, dtype=np.float64), 0, None)
    if m.shape != y.shape:
        raise ValueError(f"the importation covariate must be {y.shape} (days x regions), not {m.shape}")
    recent = slice(days - window, days)
    kappa, r_hat = _fit_kappa(y[recent], lam[recent], m[recent])
    reversion, drift_sd = weekly_drift(y, w)
    a0, b0 = rt.prior_shape_scale(prior_mean, prior_sd)
    local_share = _local_share(r_hat, lam[recent], kappa * m[recent])
    shape = a0 + np.sum(y[recent] * local_share, axis=0)
    scale = 1.0 / (1.0 / b0 + np.sum(lam[recent], axis=0))
    in_window = np.sum(y[recent], axis=0)
    supported = (in_window >= min_cases) & (np.sum(lam[recent], axis=0) > 0)
    why = [
        "" if ok else f"{n:,.0f} cases in the last {window} days, fewer than the {min_cases:,.0f} a forecast needs"
        for ok, n in zip(supported, in_window, strict=True)
    ]
    return RenewalFit(
        shape=np.asarray(shape, dtype=np.float64),
        scale=np.asarray(scale, dtype=np.float64),
        r_hat=r_hat,
        size=_dispersion(y, lam, kappa * m, w),
        reversion=reversion,
        drift_sd=drift_sd,
        kappa=kappa,
        cases_in_window=np.asarray(in_window, dtype=np.float64),
        window=window,
        supported=np.asarray(supported, dtype=np.bool_),
        why=why,
    )


def _checked(cases: ArrayLike) -> FloatArray:
    y = np.asarray(cases, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError("cases must be days x regions")
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise ValueError("cases must be finite and non-negative (set missing days to 0 or fill them first)")
    return y


def _mle_r(y: FloatArray, lam: FloatArray, c: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per region, the R maximising sum_t [y log(R lam + c) - (R lam + c)] and that maximum (Newton, R >= 0)."""
    total_lam = lam.sum(axis=0)
    safe = np.where(total_lam > 0, total_lam, 1.0)
    r = np.where(total_lam > 0, np.clip(y.sum(axis=0) - c.sum(axis=0), 0.0, None) / safe, 0.0)
    r = np.maximum(r, 1e-3)
    for _ in range(50):
        mu = r * lam + c
        with np.errstate(divide="ignore", invalid="ignore"):
            grad = np.sum(np.where(mu > 0, y * lam / mu, 0.0), axis=0) - total_lam
            hess = -np.sum(np.where(mu > 0, y * lam**2 / mu**2, 0.0), axis=0)
        step = np.where(hess < 0, -grad / np.where(hess < 0, hess, -1.0), 0.0)
        new = np.clip(r + step, r / 10, None)  # never jump below a tenth: stays positive, converges
        if np.all(np.abs(new - r) <= 1e-10 * np.maximum(r, 1e-6)):
            r = new
            break
        r = new
    r = np.where(total_lam > 0, r, 0.0)
    mu = r * lam + c
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = np.sum(np.where(mu > 0, y * np.log(np.where(mu > 0, mu, 1.0)), np.where(y > 0, -np.inf, 0.0)) - mu, axis=0)
    return np.asarray(r, dtype=np.float64), np.asarray(ll, dtype=np.float64)


def _fit_kappa(y: FloatArray, lam: FloatArray, m: FloatArray) -> tuple[float, FloatArray]:
    """The shared importation scale (profile likelihood on :data:`KAPPA_GRID`) and every region's R at it."""
    if not np.any(m > 0):
        return 0.0, _mle_r(y, lam, np.zeros_like(y))[0]
    best, best_ll, best_r = 0.0, -np.inf, np.zeros(y.shape[1])
    for kappa in KAPPA_GRID:
        r, ll = _mle_r(y, lam, kappa * m)
        total = float(np.sum(ll[np.isfinite(ll)])) if np.all(np.isfinite(ll) | (lam.sum(axis=0) == 0)) else -np.inf
        if total > best_ll:
            best, best_ll, best_r = float(kappa), total, r
    return best, best_r


def _local_share(r: FloatArray, lam: FloatArray, c: FloatArray) -> FloatArray:
    """The share of each day's cases infected locally, at the estimate."""
    local = r[None, :] * lam
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(local + c > 0, local / (local + c), 1.0), dtype=np.float64)


def weekly_drift(y: FloatArray, si: FloatArray) -> tuple[float, float]:
    """How ``log R`` moves from one week to the next on the history: ``log R_{t+7} = phi log R_t + e`` (an AR(1)
    towards R = 1, pooled over the regions, least squares through the origin, ``phi`` within 0..1) and the robust
    sd of ``e`` (1.4826 x its median absolute deviation: reporting dumps make the tails heavy), within
    :data:`DRIFT_BOUNDS`. Only 7-day windows holding at least :data:`MIN_WINDOW_CASES` cases enter. Returns
    ``(phi, sd)``; ``(1, half the upper bound)`` when the history holds fewer than 10 such pairs."""
    est = rt.estimate_rt(y.T, si, window=7)
    log_r = np.where(est.cases_in_window >= MIN_WINDOW_CASES, np.log(np.maximum(est.mean, 1e-9)), np.nan)
    x, z = log_r[:, :-7].ravel(), log_r[:, 7:].ravel()
    both = np.isfinite(x) & np.isfinite(z)
    x, z = x[both], z[both]
    if x.size < 10:
        return 1.0, DRIFT_BOUNDS[1] / 2
    phi = float(np.clip(np.sum(x * z) / np.sum(x * x), 0.0, 1.0)) if np.sum(x * x) > 0 else 1.0
    e = z - phi * x
    spread = 1.4826 * float(np.median(np.abs(e - np.median(e))))
    return phi, float(np.clip(spread, *DRIFT_BOUNDS))


def _dispersion(y: FloatArray, lam: FloatArray, c: FloatArray, si: FloatArray) -> FloatArray:
    """Negative binomial size per region from the one-step-ahead errors of the last 28 days (moments):
    ``Var = mu + mu^2 / k``; large (near Poisson) where the errors are no larger than Poisson's."""
    est = rt.estimate_rt(y.T, si, window=7)
    r_prev = np.nan_to_num(est.mean.T[:-1], nan=0.0)  # R of the window ending the day before
    mu = r_prev * lam[1:] + c[1:]
    obs = y[1:]
    tail = slice(max(0, mu.shape[0] - 28), mu.shape[0])
    mu, obs = mu[tail], obs[tail]
    excess = np.sum((obs - mu) ** 2 - mu, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(excess > 0, np.sum(mu**2, axis=0) / excess, 1e4)
    return np.asarray(np.clip(np.nan_to_num(k, nan=1e4), 0.5, 1e4), dtype=np.float64)


def simulate(
    result: RenewalFit,
    cases: ArrayLike,
    si: ArrayLike,
    horizon: int,
    members: int,
    *,
    seed: int = 1,
    importation: ArrayLike | None = None,
) -> FloatArray:
    """``members x horizon x regions`` simulated daily reported cases after the origin (see the module doc).
    ``importation``: the covariate ``m`` on the forecast days (horizon x regions), or None."""
    y = _checked(cases)
    w = np.asarray(si, dtype=np.float64).copy()
    w[0] = 0.0
    regions = y.shape[1]
    rng = np.random.default_rng(seed)
    r0 = rng.gamma(result.shape[None, :], result.scale[None, :], size=(members, regions))
    weeks = (horizon + 6) // 7
    steps = rng.normal(0.0, result.drift_sd, size=(members, weeks, regions))
    log_r = np.empty((members, weeks, regions))
    # the first week continues the R of the fit window; from then on log R reverts and wanders week by week
    previous = np.log(np.maximum(r0, 1e-9)) + steps[:, 0, :]
    log_r[:, 0, :] = previous
    for week in range(1, weeks):
        previous = result.reversion * previous + steps[:, week, :]
        log_r[:, week, :] = previous
    r_week = np.exp(log_r)
    c = np.zeros((horizon, regions)) if importation is None else result.kappa * np.asarray(importation, dtype=float)
    k = result.size[None, :]
    lags = w.size  # the whole serial interval; days before the data count as 0
    history = np.zeros((lags - 1, regions))
    keep = min(lags - 1, y.shape[0])
    if keep:
        history[-keep:] = y[-keep:]
    path = np.zeros((members, history.shape[0] + horizon, regions))
    path[:, : history.shape[0]] = history
    start = history.shape[0]
    kernel = w[1:][::-1]  # weights of days t - (lags - 1) .. t - 1
    for t in range(horizon):
        now = start + t
        pressure = np.einsum("l,mlr->mr", kernel, path[:, now - (lags - 1) : now, :])
        # a runaway member (a large R drawn from little data) is held at a count no region reports in a day
        mean = np.clip(r_week[:, t // 7, :] * pressure + c[t][None, :], 0.0, MAX_DAILY)
        lam = rng.gamma(k, mean / k)
        path[:, now, :] = rng.poisson(lam)
    return np.asarray(path[:, start:, :], dtype=np.float64)


def weekly_quantiles(paths: FloatArray, weeks: int) -> FloatArray:
    """Hub quantiles (``weeks x regions x 23``) of the weekly sums of simulated daily paths (members x days x
    regions): week ``h`` is days ``7(h-1) .. 7h - 1`` after the origin."""
    sums = paths[:, : 7 * weeks, :].reshape(paths.shape[0], weeks, 7, paths.shape[2]).sum(axis=2)
    return scoring.quantiles_of(sums, axis=0)


#: past forecasts of a horizon needed before they recalibrate the next ones
MIN_PAST = 20


def recalibrate(
    raw: FloatArray, past_raw: FloatArray, past_truth: FloatArray, level: float = 0.95
) -> tuple[FloatArray, float, float]:
    """Quantiles (``... x 23``, one horizon) corrected by the errors of the same model's earlier forecasts of that
    horizon whose outcomes are known (``past_raw``: n x 23 as the model gave them, ``past_truth``: n): on the
    ``log(1 + count)`` scale, every quantile's distance from the median is multiplied by ``s`` and the whole
    forecast moved by ``b``, where ``b`` is the median of the past errors (outcome minus median) and ``s`` the
    factor that would have put the share ``level`` of the past outcomes inside the central ``level`` interval.
    No correction (``b = 0, s = 1``) with fewer than :data:`MIN_PAST` past forecasts. Returns the corrected
    quantiles, ``b`` and ``s``."""
    if past_truth.size < MIN_PAST:
        return raw, 0.0, 1.0
    lo = scoring.HUB_QUANTILES.index(round((1 - level) / 2, 4))
    hi = scoring.HUB_QUANTILES.index(round(1 - (1 - level) / 2, 4))
    med = np.log1p(past_raw[:, scoring.MEDIAN])
    error = np.log1p(past_truth) - med
    bias = float(np.median(error))
    centred = error - bias
    half = np.where(centred >= 0, np.log1p(past_raw[:, hi]) - med, med - np.log1p(past_raw[:, lo]))
    ratio = np.abs(centred) / np.maximum(half, 1e-3)
    scale = float(np.clip(np.quantile(ratio, level), 0.25, 20.0))
    centre = np.log1p(raw[..., scoring.MEDIAN])[..., None]
    logs = centre + bias + scale * (np.log1p(raw) - centre)
    return np.asarray(np.expm1(np.maximum(logs, 0.0)), dtype=np.float64), bias, scale


@dataclass(frozen=True)
class Rolling:
    """Weekly forecasts made at a series of origins (day indices, increasing), every region, horizons 1..H:
    arrays ``origins x H x regions`` (``x 23`` for quantiles). ``truth`` is NaN where the week lies beyond the
    data; ``supported`` (origins x regions) is False where the data could not support a forecast."""

    origins: list[int]
    raw: FloatArray  # the model's quantiles
    quantiles: FloatArray  # recalibrated on the errors known at each origin (:func:`recalibrate`)
    baseline: FloatArray  # the Hub baseline's
    truth: FloatArray
    last_week: FloatArray  # origins x regions: the week up to the origin
    supported: NDArray[np.bool_]
    fits: list[RenewalFit]


def rolling(
    daily: ArrayLike,
    origins: list[int],
    si: ArrayLike,
    *,
    horizons: int = 4,
    window: int = 7,
    members: int = 400,
    seed: int = 1,
    importation: Callable[[int], FloatArray] | None = None,
    calibrate: bool = True,
) -> Rolling:
    """Fit, simulate and forecast the weekly counts ``1..horizons`` weeks after every origin, with the data up to
    that origin only; each forecast recalibrated on the errors of the earlier ones whose outcome was known by
    then; the Hub baseline beside it. ``importation(origin)``, when given, returns the importation covariate
    (days x regions, through the horizon) computed from the data up to ``origin``."""
    y = _checked(daily)
    w = np.asarray(si, dtype=np.float64)
    n, regions, q = len(origins), y.shape[1], len(scoring.HUB_QUANTILES)
    raw = np.zeros((n, horizons, regions, q))
    calibrated = np.zeros_like(raw)
    baseline = np.zeros_like(raw)
    truth = np.full((n, horizons, regions), np.nan)
    supported = np.zeros((n, regions), dtype=bool)
    fits = []
    for j, origin in enumerate(origins):
        train = y[: origin + 1]
        covariate = None if importation is None else importation(origin)
        fitted = fit(train, w, window=window, importation=None if covariate is None else covariate[: origin + 1])
        future = None if covariate is None else _padded(covariate[origin + 1 : origin + 1 + 7 * horizons], 7 * horizons)
        paths = simulate(fitted, train, w, 7 * horizons, members, seed=seed + origin, importation=future)
        raw[j] = weekly_quantiles(paths, horizons)
        baseline[j] = scoring.hub_baseline(train, horizons)
        supported[j] = fitted.supported
        fits.append(fitted)
        for h in range(horizons):
            end = origin + 7 * (h + 1)
            if end < y.shape[0]:
                truth[j, h] = y[end - 6 : end + 1].sum(axis=0)
            known = [i for i in range(j) if origins[i] + 7 * (h + 1) <= origin]  # outcomes known at this origin
            done = supported[known] & np.isfinite(truth[known, h])
            calibrated[j, h] = (
                recalibrate(raw[j, h], raw[known, h][done], truth[known, h][done])[0] if calibrate else raw[j, h]
            )
    last_week = np.stack([y[max(0, o - 6) : o + 1].sum(axis=0) for o in origins]) if n else np.zeros((0, regions))
    return Rolling(list(origins), raw, calibrated, baseline, truth, last_week, supported, fits)


def _padded(values: FloatArray, days: int) -> FloatArray:
    """``values`` (days x regions) extended with zeros to ``days`` rows (a covariate that ends before the horizon)."""
    out = np.zeros((days, values.shape[1]))
    out[: values.shape[0]] = values
    return out
