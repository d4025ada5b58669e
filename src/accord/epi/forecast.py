"""Forecast ensembles and scenarios: many seeded runs of the stochastic chain binomial
(:func:`accord.epi.metapop.simulate_stochastic`) from a calibrated state, summarised as fan charts; scenarios
compared with their baseline under common random numbers. Pure: arrays in, arrays out.

**Ensemble.** Member ``m`` of an ensemble with seed ``s`` uses ``SeedSequence(s, spawn_key=(m,))`` (the ``m``-th
child of ``SeedSequence(s).spawn(n)``): its epidemic draws come from the metapop streams of that sequence (one per
purpose and day) and its reporting noise from one more stream of it. A member's numbers therefore depend only on
``(s, m)`` and the inputs, never on how the members are spread over processes or machines
(:func:`accord.epi.executor.map_chunks`).

Each member starts from the calibrated state at the cut-off (rounded to whole people, susceptibles taking up the
rounding so residents are unchanged) and runs ``horizon`` days with the reproduction number in force at the end of
the fit. Reported cases are the onsets delayed by the onset-to-report distribution (the fitted onsets before the
cut-off fill the delay's reach) times the reporting share ``rho``, with negative binomial noise of the fitted size
``k`` (a gamma-Poisson draw)::

    reported_{m,t,i} ~ Poisson(G),  G ~ Gamma(shape k_i, scale mu_{m,t,i} / k_i),
    mu_{m,t,i} = rho_i sum_s w_s onsets_{m, t - s, i}

Fan charts: the 2.5, 25, 50, 75 and 97.5% quantiles over members, per day and region (50% and 95% bands).
Parameter uncertainty is not propagated (members share the point estimates).

**Scenarios.** A scenario scales the contact rates of some settings and regions (and optionally their mobility)
from a given forecast day. Baseline and scenario member ``m`` use the same seed sequence, so every draw for the same
purpose and day is the same number (common random numbers): a scenario that changes nothing is *identical* to the
baseline, and a scenario's difference to its baseline is measured member by member, with far less noise than two
independent ensembles would give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from accord.epi import calibrate, executor, metapop
from accord.epi.params import DiseaseParams

FloatArray = NDArray[np.float64]

QUANTILES = (0.025, 0.25, 0.5, 0.75, 0.975)
OUTPUTS = ("reported", "infections", "admissions", "ward", "icu", "deaths")
#: spawn-key purpose of the reporting noise (the epidemic's purposes are 0..11, see metapop.PURPOSES)
REPORTING_STREAM = 1000


@dataclass(frozen=True, eq=False)
class EnsembleSpec:
    """Everything a member needs (picklable). ``state``: compartments x regions x ages, whole numbers;
    ``contact_scale``: horizon x regions x settings; ``onset_history``: the last ``len(report_delay) - 1`` days of
    onsets before the first forecast day (days x regions)."""

    params: DiseaseParams
    population: FloatArray
    contacts: FloatArray
    state: FloatArray
    horizon: int
    contact_scale: FloatArray
    rho: FloatArray
    size: FloatArray
    report_delay: FloatArray
    onset_history: FloatArray
    seed: int
    mobility: Any = None
    mobility_scale: FloatArray | None = None
    steps_per_day: int = 1

    @property
    def regions(self) -> int:
        return int(self.state.shape[1])


def whole_state(state: FloatArray) -> FloatArray:
    """Round a state to whole people; susceptibles take up the rounding, so residents per region and age stay the
    rounded population."""
    x = np.round(np.clip(state, 0.0, None))
    residents = np.round(state.sum(axis=0))
    x[metapop.S] = np.clip(residents - (x.sum(axis=0) - x[metapop.S]), 0.0, None)
    return np.asarray(x, dtype=np.float64)


def spec_from_fit(fit: calibrate.Fit, horizon: int, seed: int) -> EnsembleSpec:
    """An ensemble that continues ``fit`` for ``horizon`` days with the reproduction number in force at its end."""
    s = fit.setup
    if horizon < 1:
        raise ValueError("the forecast horizon must be at least one day")
    beta1 = s.beta1()
    r = fit.r_after * beta1
    scale = np.repeat(np.broadcast_to(r, (horizon, s.regions))[:, :, None], s.contacts.shape[0], axis=2)
    reach = max(len(s.report_delay) - 1, 0)
    history = fit.onsets[fit.onsets.shape[0] - reach :] if reach else np.zeros((0, s.regions))
    return EnsembleSpec(
        params=s.params,
        population=np.atleast_2d(s.population),
        contacts=s.contacts,
        state=whole_state(fit.final),
        horizon=horizon,
        contact_scale=np.asarray(scale, dtype=np.float64),
        rho=fit.parameter("rho"),
        size=fit.size,
        report_delay=s.report_delay,
        onset_history=np.asarray(history, dtype=np.float64),
        seed=seed,
        mobility=s.mobility,
    )


def member_seed(seed: int, member: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(member,))


def run_member(spec: EnsembleSpec, member: int) -> FloatArray:
    """One member: :data:`OUTPUTS` x horizon x regions (float32 values, whole numbers)."""
    seq = member_seed(spec.seed, member)
    model = metapop.Metapop(spec.params, spec.population, spec.contacts, 1.0, mobility=spec.mobility)
    traj = metapop.simulate_stochastic(
        model,
        spec.state,
        spec.horizon,
        seed=seq,
        contact_scale=spec.contact_scale,
        mobility_scale=spec.mobility_scale,
        steps_per_day=spec.steps_per_day,
    )
    onsets = np.concatenate([spec.onset_history, traj.onsets], axis=0)
    mu = spec.rho[None, :] * calibrate.delayed(onsets, spec.report_delay)[spec.onset_history.shape[0] :]
    noise = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, REPORTING_STREAM, 0)))
    )
    k = np.broadcast_to(spec.size[None, :], mu.shape)
    finite = np.isfinite(k)
    lam = np.where(
        finite, noise.gamma(np.where(finite, k, 1.0), np.where(finite, mu / np.where(finite, k, 1.0), 0.0)), mu
    )
    reported = noise.poisson(np.maximum(lam, 0.0))
    return np.stack([reported, traj.infections, traj.admissions, traj.ward, traj.icu, traj.deaths]).astype(np.float32)


def run_members(spec: EnsembleSpec, start: int, stop: int) -> list[FloatArray]:
    """Members ``start .. stop - 1`` (the unit of work sent to an executor)."""
    return [run_member(spec, m) for m in range(start, stop)]


@dataclass(frozen=True, eq=False)
class Ensemble:
    """``members``: members x outputs x horizon x regions."""

    spec: EnsembleSpec
    members: FloatArray

    def output(self, name: str) -> FloatArray:
        return np.asarray(self.members[:, OUTPUTS.index(name)], dtype=np.float64)

    def quantiles(self, name: str = "reported", q: Sequence[float] = QUANTILES) -> FloatArray:
        """len(q) x horizon x regions."""
        return np.asarray(np.quantile(self.output(name), q, axis=0), dtype=np.float64)

    def median(self, name: str = "reported") -> FloatArray:
        return np.asarray(np.median(self.output(name), axis=0), dtype=np.float64)


def run_ensemble(
    spec: EnsembleSpec,
    members: int,
    *,
    pool: Executor | None = None,
    chunk_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Ensemble:
    """``members`` runs of ``spec`` on ``pool`` (inline when None); identical numbers on any executor."""
    if members < 1:
        raise ValueError("an ensemble needs at least one member")
    runs = executor.map_chunks(run_members, members, spec, executor=pool, chunk_size=chunk_size, progress=progress)
    return Ensemble(spec, np.stack(runs))


# ------------------------------------------------------------------------------------------ scenarios
@dataclass(frozen=True)
class Scenario:
    """From forecast day ``from_day`` (0 = the first forecast day), multiply contacts in ``settings`` (indices;
    None = all) of ``regions`` (indices; None = all) by ``contact_factor``, and their travel by
    ``mobility_factor`` (at most 1)."""

    name: str
    contact_factor: float = 1.0
    from_day: int = 0
    settings: tuple[int, ...] | None = None
    regions: tuple[int, ...] | None = None
    mobility_factor: float = 1.0

    def apply(self, spec: EnsembleSpec) -> EnsembleSpec:
        if not (np.isfinite(self.contact_factor) and self.contact_factor >= 0):
            raise ValueError("the contact factor must be finite and non-negative")
        if not 0 <= self.mobility_factor <= 1:
            raise ValueError("the mobility factor must lie between 0 and 1")
        if not self.from_day >= 0:
            raise ValueError("a scenario starts on forecast day 0 or later")
        regions = list(range(spec.regions)) if self.regions is None else list(self.regions)
        settings = list(range(spec.contact_scale.shape[2])) if self.settings is None else list(self.settings)
        if any(not 0 <= r < spec.regions for r in regions):
            raise ValueError("a scenario names a region outside the forecast")
        if any(not 0 <= s < spec.contact_scale.shape[2] for s in settings):
            raise ValueError("a scenario names a contact setting the model does not have")
        scale = spec.contact_scale.copy()
        scale[np.ix_(range(self.from_day, spec.horizon), regions, settings)] *= self.contact_factor
        mob = None if spec.mobility_scale is None else spec.mobility_scale.copy()
        if self.mobility_factor != 1.0:
            mob = np.ones((spec.horizon, spec.regions)) if mob is None else mob
            mob[np.ix_(range(self.from_day, spec.horizon), regions)] *= self.mobility_factor
        return replace(spec, contact_scale=scale, mobility_scale=mob)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Scenario minus baseline, member by member (common random numbers), of the totals over the horizon per
    region: quantiles (len(QUANTILES) x regions) of baseline, scenario and difference."""

    baseline: Ensemble
    scenario: Ensemble
    output: str

    def totals(self, which: Ensemble) -> FloatArray:
        return np.asarray(which.output(self.output).sum(axis=1), dtype=np.float64)  # members x regions

    @property
    def difference(self) -> FloatArray:
        return np.asarray(self.totals(self.scenario) - self.totals(self.baseline), dtype=np.float64)

    def quantiles(self) -> dict[str, FloatArray]:
        q = np.asarray(QUANTILES)
        return {
            "baseline": np.quantile(self.totals(self.baseline), q, axis=0),
            "scenario": np.quantile(self.totals(self.scenario), q, axis=0),
            "difference": np.quantile(self.difference, q, axis=0),
        }


def compare(
    spec: EnsembleSpec,
    scenario: Scenario,
    members: int,
    *,
    output: str = "reported",
    pool: Executor | None = None,
    chunk_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Run the baseline and the scenario with the same member seeds and compare them."""
    half = (lambda done, total: progress(done, 2 * members)) if progress else None
    base = run_ensemble(spec, members, pool=pool, chunk_size=chunk_size, progress=half)
    rest = (lambda done, total: progress(members + done, 2 * members)) if progress else None
    alt = run_ensemble(scenario.apply(spec), members, pool=pool, chunk_size=chunk_size, progress=rest)
    return Comparison(base, alt, output)


# ---------------------------------------------------------------------------------------------- skill
def mase(actual: FloatArray, forecast: FloatArray, training: FloatArray) -> FloatArray:
    """Mean absolute scaled error per region (columns): the mean absolute error over the forecast days divided by
    the mean absolute one-step naive error on the training data, ``mean_t |y_t - y_{t-1}|`` (Hyndman & Koehler
    2006). NaN where the training series never changes."""
    scale = np.nanmean(np.abs(np.diff(training, axis=0)), axis=0)
    err = np.nanmean(np.abs(actual - forecast), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(scale > 0, err / scale, np.nan), dtype=np.float64)


def persistence(training: FloatArray, horizon: int) -> FloatArray:
    """The naive forecast: the last observed value carried forward (horizon x regions)."""
    return np.asarray(np.repeat(training[-1:], horizon, axis=0), dtype=np.float64)
