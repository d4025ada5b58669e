"""Twin-objective scenarios: measure schedules run through the metapopulation model, with health outcomes and
economic cost side by side; grids of scenarios run through any ``concurrent.futures.Executor``.

A **scenario** is a measure schedule: a bundle of OxCGRT levels (what), the regions it covers (where), a start day
(from when), a duration (for how long) and an optional relaxation trigger ("lift when Rt < 1 for 14 days", checked
per region). On top of the measures already in force (the setting's background levels) the scenario's levels apply
where they are stricter (the strictest level per indicator, as directives combine). Levels become contact and
mobility scaling through :mod:`accord.policy.effects`, and cost through :mod:`accord.policy.economics`.

**Outcomes** (all regions together): infections, hospital admissions, deaths, peak ICU census against ICU capacity,
region-days and days (any region) over ICU capacity; output lost and support spending; and daily national curves
(infections, ICU census, deaths, share of people under the scenario's measures) for the linked epidemic-curve plots.

**Rt of the model** (for the trigger): the instantaneous reproduction number of each region's modelled infections,
``R_t = I_t / sum_{s>=1} w_s I_{t-s}`` with the serial interval ``w`` (gamma 7.5 +- 3.4 days, Li et al. 2020,
discretised as EpiEstim), i.e. Cori's estimator on noise-free incidence. Triggers are checked every
``check_every`` days (default 7: a weekly review); the model is then run chunk by chunk.

**Grids**: :func:`grid` builds timing x intensity x duration; :func:`run_grid` maps :func:`run_scenario` over them
through an executor (``None``: in this process; a ``ProcessPoolExecutor``; or a Dask ``Client.get_executor()``),
reporting progress as results come in. Every run is deterministic, so a grid is reproducible on any executor.

**Calibration and counterfactuals** (:func:`fit`, :func:`counterfactual_runs`): a small maximum-likelihood fit of
R0, the strength of the measures' effects (``theta`` of :mod:`accord.policy.effects`), the seed size and the
reporting fraction to cumulative confirmed cases per region, then re-runs without measures or with them moved
earlier. Used on China's 2020 provinces (benchmarks/counterfactual_china.py, tests/policy/test_counterfactual*.py).

Pure: numpy / scipy and :mod:`accord.epi`; no database or web code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from accord.epi import metapop as mp
from accord.epi import rt as rt_mod
from accord.epi import serial_interval
from accord.policy import economics, effects
from accord.policy.pareto import non_dominated

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

SI_MEAN = 7.5
SI_SD = 3.4


# ------------------------------------------------------------------------------------------------ scenarios
@dataclass(frozen=True)
class Scenario:
    """A measure schedule. ``levels``: OxCGRT bundle, e.g. ``{"C1": 3, "C2": 2, "C6": 1}``; ``regions``: indices
    covered (None: all); ``start`` day index; ``duration`` days (None: to the horizon); ``relax_rt`` / ``relax_days``:
    lift in a region once its Rt has stayed below ``relax_rt`` for ``relax_days`` days (None: no trigger);
    ``coords``: the scenario's place in a grid (timing, intensity, duration), for pages."""

    name: str
    levels: Mapping[str, int]
    start: int = 0
    duration: int | None = None
    regions: tuple[int, ...] | None = None
    relax_rt: float | None = None
    relax_days: int = 14
    general: bool = True
    coords: Mapping[str, Any] = field(default_factory=dict)

    def check(self, days: int, regions: int) -> None:
        """Raise ValueError (one sentence naming the field) when the scenario does not fit the engine."""
        effects.bundle(self.levels)
        if not 0 <= self.start < days:
            raise ValueError(f"scenario {self.name!r}: start day {self.start} is outside the horizon 0..{days - 1}")
        if self.duration is not None and self.duration < 1:
            raise ValueError(f"scenario {self.name!r}: duration must be at least one day")
        if self.regions is not None and any(not 0 <= r < regions for r in self.regions):
            raise ValueError(f"scenario {self.name!r}: region index outside 0..{regions - 1}")
        if self.relax_rt is not None and (self.relax_rt <= 0 or self.relax_days < 1):
            raise ValueError(f"scenario {self.name!r}: the trigger needs Rt > 0 and at least one day")


@dataclass(frozen=True, eq=False)
class Setting:
    """What every scenario of a grid shares: the model, its initial state and horizon, measures already in force
    (``background``: days x regions x indicators levels, None = none), ICU capacity per region (None = unknown),
    effects, calibration strength ``theta`` and economics. Unknown capacities are NaN (never exceeded)."""

    model: mp.Metapop
    initial: FloatArray
    days: int
    background: IntArray | None = None
    background_general: NDArray[np.bool_] | None = None
    icu_capacity: FloatArray | None = None
    table: effects.EffectTable = field(default_factory=effects.EffectTable)
    theta: float = 1.0
    economics: economics.EconomicParams = field(default_factory=economics.EconomicParams)
    steps_per_day: int = 2
    check_every: int = 7

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("the horizon must be at least one day")
        shape = (self.days, self.model.regions, len(effects.INDICATORS))
        if self.background is not None and np.shape(self.background) != shape:
            raise ValueError(f"background levels must be days x regions x indicators {shape}")
        if self.icu_capacity is not None and np.shape(self.icu_capacity) != (self.model.regions,):
            raise ValueError("icu_capacity must hold one value per region")

    def base_levels(self) -> IntArray:
        if self.background is None:
            return np.zeros((self.days, self.model.regions, len(effects.INDICATORS)), dtype=np.int64)
        return np.asarray(self.background, dtype=np.int64).copy()


@dataclass(frozen=True, eq=False)
class Outcome:
    """Totals over regions and the horizon, and daily national curves."""

    name: str
    coords: Mapping[str, Any]
    infections: float
    admissions: float
    deaths: float
    peak_icu: float
    icu_capacity: float | None
    region_days_over_capacity: int
    days_over_capacity: int
    output_lost: float
    support: float
    measure_days: float
    curves: dict[str, list[float]]

    @property
    def economic_cost(self) -> float:
        return self.output_lost + self.support

    def record(self) -> dict[str, Any]:
        """Flat record (no curves) for tables, CSV and JSON."""
        return {
            "name": self.name,
            **{k: v for k, v in self.coords.items()},
            "infections": self.infections,
            "admissions": self.admissions,
            "deaths": self.deaths,
            "peak_icu": self.peak_icu,
            "icu_capacity": self.icu_capacity,
            "region_days_over_capacity": self.region_days_over_capacity,
            "days_over_capacity": self.days_over_capacity,
            "output_lost": self.output_lost,
            "support": self.support,
            "economic_cost": self.economic_cost,
            "measure_days": self.measure_days,
        }


def model_rt(infections: ArrayLike, si: FloatArray | None = None) -> FloatArray:
    """Instantaneous reproduction number of modelled infections (``days x regions``); NaN where no pressure."""
    inc = np.asarray(infections, dtype=np.float64).T
    w = serial_interval.discretise_gamma(SI_MEAN, SI_SD) if si is None else si
    pressure = rt_mod.infection_pressure(inc, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(pressure > 1e-9, inc / pressure, np.nan)
    return np.asarray(out.T, dtype=np.float64)


def _apply(levels: IntArray, active: NDArray[np.bool_], bundle: IntArray) -> IntArray:
    """Strictest of background and scenario levels where the scenario is active (days x regions)."""
    return np.where(active[..., None], np.maximum(levels, bundle), levels)


def run_scenario(setting: Setting, scenario: Scenario) -> Outcome:
    """Run one scenario (deterministic) and summarise it."""
    model, days = setting.model, setting.days
    scenario.check(days, model.regions)
    bundle = effects.bundle(scenario.levels)
    covered = np.zeros(model.regions, dtype=bool)
    covered[list(range(model.regions)) if scenario.regions is None else list(scenario.regions)] = True
    end = days if scenario.duration is None else min(days, scenario.start + scenario.duration)
    in_window = np.zeros(days, dtype=bool)
    in_window[scenario.start : end] = True
    active = in_window[:, None] & covered[None, :] & bool(bundle.any())
    base = setting.base_levels()
    general = np.ones(base.shape, dtype=bool) if setting.background_general is None else setting.background_general
    # where the scenario's level is the strictest, its own scope counts
    general = np.where(active[..., None] & (bundle > base), scenario.general, general)

    if scenario.relax_rt is None:
        traj = _simulate(setting, _apply(base, active, bundle), general, 0, days, setting.initial)
        infections, admissions, deaths, icu = traj.infections, traj.admissions, traj.deaths, traj.icu
    else:
        infections, admissions, deaths, icu, active = _run_with_trigger(
            setting, scenario, base, bundle, active, general
        )
    levels = _apply(base, active, bundle)
    cost = economics.daily_cost(levels, model.population.sum(axis=1), general, setting.economics)
    return _summarise(setting, scenario, infections, admissions, deaths, icu, active, cost)


def _simulate(
    setting: Setting, levels: IntArray, general: NDArray[np.bool_], t0: int, t1: int, state: FloatArray
) -> mp.Trajectory:
    kappa, mob = effects.multipliers(levels[t0:t1], general[t0:t1], setting.table, setting.theta)
    return mp.simulate_deterministic(
        setting.model, state, t1 - t0, contact_scale=kappa, mobility_scale=mob,
        steps_per_day=setting.steps_per_day, record_states=False,
    )  # fmt: skip


def _run_with_trigger(
    setting: Setting,
    scenario: Scenario,
    base: IntArray,
    bundle: IntArray,
    active: NDArray[np.bool_],
    general: NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    """Chunk by chunk: after each chunk, regions whose Rt stayed below the threshold for ``relax_days`` lift."""
    days, regions = setting.days, setting.model.regions
    active = active.copy()
    out = {k: np.zeros((days, regions)) for k in ("infections", "admissions", "deaths", "icu")}
    state = np.asarray(setting.initial, dtype=np.float64)
    si = serial_interval.discretise_gamma(SI_MEAN, SI_SD)
    assert scenario.relax_rt is not None
    t = 0
    while t < days:
        t1 = min(days, t + setting.check_every)
        traj = _simulate(setting, _apply(base, active, bundle), general, t, t1, state)
        state = traj.final
        for k in out:
            out[k][t:t1] = getattr(traj, k)
        # days count only while the measures are in force there
        below = (model_rt(out["infections"][:t1], si) < scenario.relax_rt) & active[:t1]
        run = _trailing_run(below)
        lift = (run >= scenario.relax_days) & active[t1 - 1] if t1 < days else np.zeros(regions, bool)
        if lift.any():
            active[t1:, lift] = False
        t = t1
    return out["infections"], out["admissions"], out["deaths"], out["icu"], active


def _trailing_run(flags: NDArray[np.bool_]) -> IntArray:
    """Per column, how many consecutive True end at the last row."""
    if flags.shape[0] == 0:
        return np.zeros(flags.shape[1:], dtype=np.int64)
    last_false = np.where(~flags, np.arange(flags.shape[0])[:, None], -1).max(axis=0)
    return np.asarray(flags.shape[0] - 1 - last_false, dtype=np.int64)


def _summarise(
    setting: Setting,
    scenario: Scenario,
    infections: FloatArray,
    admissions: FloatArray,
    deaths: FloatArray,
    icu: FloatArray,
    active: NDArray[np.bool_],
    cost: economics.Cost,
) -> Outcome:
    pop = setting.model.population.sum(axis=1)
    cap = setting.icu_capacity
    known = np.zeros(icu.shape[1], dtype=bool) if cap is None else np.isfinite(cap)
    over = (icu > np.where(known, cap, np.inf)[None, :]) if cap is not None else np.zeros(icu.shape, dtype=bool)
    national_icu = icu.sum(axis=1)
    return Outcome(
        name=scenario.name,
        coords=dict(scenario.coords),
        infections=float(infections.sum()),
        admissions=float(admissions.sum()),
        deaths=float(deaths.sum()),
        peak_icu=float(national_icu.max()),
        icu_capacity=None if cap is None or not known.any() else float(np.sum(cap[known])),
        region_days_over_capacity=int(over.sum()),
        days_over_capacity=int(over.any(axis=1).sum()),
        output_lost=float(cost.output_lost.sum()),
        support=float(cost.support.sum()),
        measure_days=float((active * pop[None, :]).sum() / pop.sum()),
        curves={
            "infections": infections.sum(axis=1).tolist(),
            "icu": national_icu.tolist(),
            "deaths": deaths.sum(axis=1).tolist(),
            "under_measures": ((active * pop[None, :]).sum(axis=1) / pop.sum()).tolist(),
            "cost": cost.total.sum(axis=1).tolist(),
        },
    )


# ---------------------------------------------------------------------------------------------------- grids
#: intensity presets: OxCGRT bundles from light to full lockdown (China's February 2020 bundle is the last)
INTENSITIES: dict[str, dict[str, int]] = {
    "advice": {"C3": 1, "C4": 1, "H1": 2, "H6": 1},
    "distancing": {"C3": 2, "C4": 3, "H1": 2, "H6": 2, "C2": 1},
    "schools+events": {"C1": 3, "C3": 2, "C4": 3, "H1": 2, "H6": 2, "C2": 1},
    "partial lockdown": {"C1": 3, "C2": 2, "C3": 2, "C4": 4, "C6": 1, "H1": 2, "H6": 2, "H3": 1},
    "full lockdown": {"C1": 3, "C2": 3, "C3": 2, "C4": 4, "C5": 2, "C6": 3, "C7": 2, "H1": 2, "H3": 2, "H6": 3},
}


def grid(
    timings: Sequence[int],
    intensities: Sequence[str] | Mapping[str, Mapping[str, int]],
    durations: Sequence[int | None],
    *,
    regions: tuple[int, ...] | None = None,
    relax_rt: float | None = None,
    relax_days: int = 14,
) -> list[Scenario]:
    """Every combination of start day x intensity x duration (``intensities``: names of :data:`INTENSITIES` or a
    mapping name -> bundle)."""
    bundles = (
        {name: INTENSITIES[name] for name in intensities if _known_intensity(name)}
        if not isinstance(intensities, Mapping)
        else dict(intensities)
    )
    out = []
    for start, (iname, levels), duration in product(timings, bundles.items(), durations):
        label = "open-ended" if duration is None else f"{duration}d"
        out.append(
            Scenario(
                name=f"day {start} / {iname} / {label}",
                levels=dict(levels),
                start=int(start),
                duration=duration,
                regions=regions,
                relax_rt=relax_rt,
                relax_days=relax_days,
                coords={"start": int(start), "intensity": iname, "duration": duration},
            )
        )
    return out


def _known_intensity(name: str) -> bool:
    if name not in INTENSITIES:
        raise ValueError(f"unknown intensity {name!r} (known: {', '.join(INTENSITIES)})")
    return True


def baseline(name: str = "no new measures") -> Scenario:
    """The scenario that adds nothing (the background only), for comparison."""
    return Scenario(name=name, levels={}, start=0, duration=None, coords={"intensity": "none"})


def _run_one(args: tuple[Setting, Scenario]) -> Outcome:
    return run_scenario(*args)


def run_grid(
    setting: Setting,
    scenarios: Sequence[Scenario],
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Run every scenario (through ``executor`` when given), results in the scenarios' order; ``progress(done,
    total)`` after each one finishes."""
    for sc in scenarios:
        sc.check(setting.days, setting.model.regions)
    total = len(scenarios)
    results: list[Outcome | None] = [None] * total
    if executor is None:
        for k, sc in enumerate(scenarios):
            results[k] = run_scenario(setting, sc)
            if progress:
                progress(k + 1, total)
    else:
        futures = {executor.submit(_run_one, (setting, sc)): k for k, sc in enumerate(scenarios)}
        for done, fut in enumerate(as_completed(futures), start=1):
            results[futures[fut]] = fut.result()
            if progress:
                progress(done, total)
    return [r for r in results if r is not None]


# ------------------------------------------------------------------------------- calibration, counterfactuals
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


HEALTH_METRICS = ("deaths", "infections", "admissions", "peak_icu", "region_days_over_capacity")


def frontier_records(outcomes: Sequence[Outcome], health: str = "deaths") -> list[dict[str, Any]]:
    """One record per outcome with ``health_cost`` (the chosen metric), ``economic_cost`` and ``on_frontier``."""
    if health not in HEALTH_METRICS:
        raise ValueError(f"unknown health metric {health!r} (known: {', '.join(HEALTH_METRICS)})")
    records = [o.record() for o in outcomes]
    if not records:
        return []
    h = np.array([float(r[health]) for r in records])
    e = np.array([float(r["economic_cost"]) for r in records])
    mask = non_dominated(h, e)
    return [{**r, "health_metric": health, "health_cost": float(hv), "on_frontier": bool(m)}
            for r, hv, m in zip(records, h, mask, strict=True)]  # fmt: skip
