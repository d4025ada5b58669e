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

Calibration and counterfactuals are in :mod:`accord.policy.scenarios.calibration`.

Pure: numpy / scipy and :mod:`accord.epi`; no database or web code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accord.epi import metapop as mp
from accord.epi import rt as rt_mod
from accord.epi import serial_interval
from accord.policy import economics, effects
from accord.policy.pareto import non_dominated

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


SI_MEAN = 7.5
SI_SD = 3.4


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
