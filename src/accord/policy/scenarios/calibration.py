"""Calibration and counterfactuals (:func:`fit`, :func:`counterfactual_runs`): a small maximum-likelihood fit of
R0, the strength of the measures' effects (``theta`` of :mod:`accord.policy.effects`), the seed size and the
reporting fraction to cumulative confirmed cases per region, then re-runs without measures or with them moved
earlier. Used on China's 2020 provinces (benchmarks/counterfactual_china.py, tests/policy/test_counterfactual*.py).

Pure: numpy / scipy and :mod:`accord.epi`; no database or web code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from accord.epi import metapop as mp
from accord.epi import rt as rt_mod
from accord.epi import serial_interval

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class FitData:
    """What a fit needs: the model's fixed parts, measures as contact/mobility scaling *for theta = 1* in log form
    (``log_kappa`` days x regions x settings, ``log_mobility`` days x regions: scaling = exp(theta * log)), recorded
    mobility on top (``mobility_scale``, days x regions, not scaled by theta), where the seed goes, the observed
    cumulative confirmed cases (days x regions, NaN = not used) and the onset-to-confirmation delay (pmf by day)."""

    template: mp.Metapop
    days: int
    log_kappa: FloatArray
    log_mobility: FloatArray
    mobility_scale: FloatArray
    seed_region: int
    seed_ages: tuple[int, ...]
    observed: FloatArray
    delay: FloatArray
    steps_per_day: int = 2


@dataclass(frozen=True)
class Fit:
    r0: float
    theta: float
    seed: float
    reporting: float
    loglik: float
    sigma: float
    evaluations: int


def _beta(data: FitData, r0: float) -> float:
    m = data.template
    return mp.beta_for_r0(m.params, m.contacts, m.population.sum(axis=0), r0)


def _mobility(
    data: FitData, theta: float, log_mobility: FloatArray | None = None, mobility_scale: FloatArray | None = None
) -> FloatArray:
    """Daily mobility scaling: the measures' effect (``exp(theta * log)``) times the recorded mobility."""
    lm = data.log_mobility if log_mobility is None else log_mobility
    ms = data.mobility_scale if mobility_scale is None else mobility_scale
    return np.asarray(np.clip(np.exp(theta * lm) * ms, 0.0, 1.0), dtype=np.float64)


def run_fitted(
    data: FitData,
    r0: float,
    theta: float,
    seed: float,
    *,
    log_kappa: FloatArray | None = None,
    log_mobility: FloatArray | None = None,
    mobility_scale: FloatArray | None = None,
) -> mp.Trajectory:
    """The model with fitted values, under the recorded measures or the ones given (log form, as FitData)."""
    m = data.template
    model = mp.Metapop(m.params, m.population, m.contacts, _beta(data, r0), mobility=m.mobility,
                       local_settings=m.local_settings, settings=m.settings)  # fmt: skip
    seeds = np.zeros_like(m.population)
    ages = list(data.seed_ages)
    share = m.population[data.seed_region, ages] / m.population[data.seed_region, ages].sum()
    seeds[data.seed_region, ages] = seed * share
    lk = data.log_kappa if log_kappa is None else log_kappa
    return mp.simulate_deterministic(model, mp.initial_state(m.population, seeds), data.days,
                                     contact_scale=np.exp(theta * lk),
                                     mobility_scale=_mobility(data, theta, log_mobility, mobility_scale),
                                     steps_per_day=data.steps_per_day)  # fmt: skip


def expected_confirmed(data: FitData, traj: mp.Trajectory, reporting: float, theta: float) -> FloatArray:
    """Cumulative confirmed cases expected per day and region: symptomatic onsets counted where the person is on
    the day (residents' onsets apportioned by their share of time in each region: travellers were reported where
    they fell ill), delayed, times reporting. ``theta`` is the fitted strength, which scales modelled mobility."""
    mobility = _mobility(data, theta)
    where = np.stack([data.template.present(traj.onsets[t], mobility[t]) for t in range(traj.onsets.shape[0])])
    delayed = rt_mod.causal_filter(np.ascontiguousarray(where.T), data.delay).T
    return np.asarray(reporting * np.cumsum(delayed, axis=0), dtype=np.float64)


def _loglik(data: FitData, expected: FloatArray) -> tuple[float, float]:
    """Gaussian log-likelihood of log(1 + cumulative cases), sigma at its maximum-likelihood value."""
    use = np.isfinite(data.observed)
    resid = np.log1p(expected[use]) - np.log1p(data.observed[use])
    sigma2 = float(np.mean(resid**2))
    n = resid.size
    return -0.5 * n * (np.log(2 * np.pi * sigma2) + 1), float(np.sqrt(sigma2))


#: R0 prior for fits: Li et al. NEJM 2020, 2.2 (95% CI 1.4-3.9) as a lognormal (median, sd of log)
R0_PRIOR = (2.2, (np.log(3.9) - np.log(1.4)) / (2 * 1.96))


def fit(
    data: FitData,
    start: tuple[float, float, float, float] = (2.5, 1.0, 50.0, 0.3),
    max_evaluations: int = 300,
    reporting: float | None = None,
    r0_prior: tuple[float, float] | None = R0_PRIOR,
    r0: float | None = None,
) -> Fit:
    """Maximum likelihood (Nelder-Mead on log R0, log theta, log seed and, unless ``reporting`` is given, logit
    reporting: the reporting fraction and the epidemic's size are barely identifiable from confirmed cases alone, so
    fixing it from a serology-like estimate is the robust choice). With ``r0_prior`` (median, sd of log R0) the
    likelihood is penalised by a lognormal prior on R0: confirmed counts rising with testing in late January
    otherwise pull R0 far above what early growth supports."""
    count = [0]
    full = np.array([np.log(start[0]), np.log(start[1]), np.log(start[2]), np.log(start[3] / (1 - start[3]))])
    free = np.array([r0 is None, True, True, reporting is None])

    def unpack(x: FloatArray) -> tuple[float, float, float, float]:
        v = full.copy()
        v[free] = x
        rho = float(1 / (1 + np.exp(-v[3]))) if reporting is None else reporting
        return float(np.exp(v[0])) if r0 is None else r0, float(np.exp(v[1])), float(np.exp(v[2])), rho

    def negll(x: FloatArray) -> float:
        count[0] += 1
        r0_, theta, seed, rho = unpack(x)
        if not (0.5 < r0_ < 8 and 0.05 < theta < 5 and 0.1 < seed < 1e5):
            return 1e12
        ll, _ = _loglik(data, expected_confirmed(data, run_fitted(data, r0_, theta, seed), rho, theta))
        if r0_prior is not None and r0 is None:  # lognormal prior: a penalised (maximum a posteriori) fit
            ll -= 0.5 * ((np.log(r0_) - np.log(r0_prior[0])) / r0_prior[1]) ** 2
        return -ll

    x0 = full[free]
    simplex = np.vstack([x0, x0 + 0.3 * np.eye(x0.size)])  # log-scale steps of ~35% in every direction
    res = optimize.minimize(negll, x0, method="Nelder-Mead",
                            options={"maxfev": max_evaluations, "xatol": 1e-3, "fatol": 1e-3,
                                     "initial_simplex": simplex})  # fmt: skip
    r0, theta, seed, rho = unpack(res.x)
    ll, sigma = _loglik(data, expected_confirmed(data, run_fitted(data, r0, theta, seed), rho, theta))
    return Fit(r0, theta, seed, rho, ll, sigma, count[0])


def shifted(values: FloatArray, days_earlier: int) -> FloatArray:
    """A schedule (days first) moved ``days_earlier`` days earlier; its last value holds over the final days."""
    if days_earlier <= 0:
        return values
    out = np.empty_like(values)
    out[:-days_earlier] = values[days_earlier:]
    out[-days_earlier:] = values[-1]
    return out


@dataclass(frozen=True)
class Counterfactual:
    name: str
    cases: float
    infections: float
    ratio_to_actual: float


def counterfactual_runs(
    data: FitData,
    fitted: Fit,
    end_day: int,
    baseline_mobility: FloatArray,
    weeks_earlier: Iterable[int] = (1, 2, 3),
    earlier_mobility: Callable[[int], FloatArray] | None = None,
) -> list[Counterfactual]:
    """Cases by ``end_day`` (inclusive; symptomatic onsets, all regions) under the actual measures, without any
    measure (no contact cuts, mobility at ``baseline_mobility``), and with every measure and the recorded mobility
    fall moved ``k`` weeks earlier. ``earlier_mobility(days)`` gives the mobility schedule of a cordon ``days``
    earlier where mobility is not a daily ratio to shift (e.g. travellers who stay away); by default the recorded
    mobility relative to the baseline moves earlier with the measures."""

    def totals(traj: mp.Trajectory) -> tuple[float, float]:
        return float(traj.onsets[: end_day + 1].sum()), float(traj.infections[: end_day + 1].sum())

    actual = totals(run_fitted(data, fitted.r0, fitted.theta, fitted.seed))
    runs = [Counterfactual("actual measures", actual[0], actual[1], 1.0)]
    none = run_fitted(data, fitted.r0, fitted.theta, fitted.seed, log_kappa=np.zeros_like(data.log_kappa),
                      log_mobility=np.zeros_like(data.log_mobility), mobility_scale=baseline_mobility)  # fmt: skip
    c, i = totals(none)
    runs.append(Counterfactual("no measures", c, i, c / actual[0]))
    for k in weeks_earlier:
        d = 7 * k
        mobility = _shifted_mobility(data, baseline_mobility, d) if earlier_mobility is None else earlier_mobility(d)
        early = run_fitted(data, fitted.r0, fitted.theta, fitted.seed, log_kappa=shifted(data.log_kappa, d),
                           log_mobility=shifted(data.log_mobility, d), mobility_scale=mobility)  # fmt: skip
        c, i = totals(early)
        runs.append(Counterfactual(f"{k} week{'s' if k > 1 else ''} earlier", c, i, c / actual[0]))
    return runs


def _shifted_mobility(data: FitData, baseline: FloatArray, days: int) -> FloatArray:
    """The recorded mobility relative to the no-measure baseline, moved ``days`` earlier with the measures."""
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(baseline > 0, data.mobility_scale / baseline, 1.0)
    return np.asarray(np.clip(baseline * shifted(relative, days), 0.0, 1.0), dtype=np.float64)


def delay_pmf(mean: float, sd: float) -> FloatArray:
    """Discretised gamma delay (days 0, 1, ...), midpoint rule, normalised."""
    return np.asarray(serial_interval.discretise_gamma(mean, sd, method="midpoint"), dtype=np.float64)


def log_schedule(kappa: ArrayLike, mobility: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Contact and mobility scaling in the log form :class:`FitData` takes."""
    with np.errstate(divide="ignore"):
        return (
            np.asarray(np.log(np.maximum(np.asarray(kappa, dtype=np.float64), 1e-12)), dtype=np.float64),
            np.asarray(np.log(np.maximum(np.asarray(mobility, dtype=np.float64), 1e-12)), dtype=np.float64),
        )
