"""Calibration of the metapopulation model to daily reported cases, every region at once, by maximum likelihood.
Pure: arrays in, arrays out.

Model of the reported series of region ``i`` (the deterministic integrator of :mod:`accord.epi.metapop`, regions
uncoupled unless a mobility matrix is given): infections are seeded at simulation day 0 (``seed_i`` people in E,
spread over ages like the population); the reproduction number is ``R0_i`` until ``change_day`` and
``R0_i q_i`` from then on (a step change, e.g. a lockdown; no change when ``change_day`` is None), times a further
factor ``q2_i`` (``recent``) from ``recent_day`` (e.g. the last two weeks, so that the R a forecast continues with
is measured on recent data; none when ``recent_day`` is None); reported cases are
a share ``rho_i`` of symptomatic onsets, delayed by a fixed onset-to-report distribution ``w`` (default: none)::

    mu_{i,t} = rho_i sum_s w_s onsets_{i, t - s}

``R0`` enters through the contact scaling: ``kappa_i(t) = R_i(t) beta1_i`` with ``beta1_i`` the transmission rate
that gives ``R0 = 1`` in region ``i`` (:func:`accord.epi.metapop.beta_for_r0`), so ``R0`` is the basic reproduction
number of the next-generation matrix of that region's population. Seeding size and date trade off almost exactly
during exponential growth, so the date is fixed (simulation day 0) and the size is fitted.

Likelihood: negative binomial ``y_{i,t} ~ NB(mean mu_{i,t}, size k_i)`` (``Var = mu + mu^2 / k``), independent
days. For a fixed ``k`` the log-likelihood is, up to a constant, minus half the sum of squared *deviance residuals*
``sign(y - mu) sqrt(2 [y log(y/mu) - (y + k) log((y + k)/(mu + k))])``, so the maximum-likelihood estimate is a
non-linear least-squares problem, solved by :func:`scipy.optimize.least_squares` (MINPACK's Levenberg-Marquardt;
bounds by a smooth logistic map of the log-parameters onto their ranges, :data:`BOUNDS`) over
``theta_i = log(R0_i, q_i, seed_i, rho_i, q2_i)`` (the free ones) of every region together. Regions do not share
parameters, so the Jacobian is block diagonal: forward differences that move one parameter of every region in the
same simulation give it from one simulation per free parameter (plus the base), whatever the number of regions.
Rounds: Poisson first (``k = inf``), then ``k_i`` by maximum likelihood on a grid given ``mu``, then the negative
binomial fit with those ``k_i``.

Intervals (Fisher information): ``I_i = J_i^T diag(1 / Var_{i,t}) J_i`` with ``J_i = d mu_i / d theta_i`` by
forward differences at the estimate; 95% Wald intervals ``theta +- 1.96 sqrt(diag I^-1)`` on the log scale,
transformed back (so they are asymmetric and positive) and cut at the parameter's range (:data:`BOUNDS`): an
interval reaching a bound says the data do not pin that parameter down (typically seed and reporting share, which
trade off exactly while few people are immune).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from accord.epi import metapop as mp
from accord.epi.params import DiseaseParams

FloatArray = NDArray[np.float64]

PARAMETERS = ("r0", "change", "seed", "rho", "recent")
#: bounds of each parameter (natural scale)
BOUNDS = {"r0": (0.2, 12.0), "change": (0.02, 3.0), "seed": (0.1, 1e6), "rho": (1e-3, 1.0), "recent": (0.05, 5.0)}
N_PARAMETERS = len(PARAMETERS)
#: expected daily count standing in for a diverged integration
UNSTABLE = 1e12
#: grid of the negative binomial size k (larger: Poisson)
K_GRID = np.exp(np.linspace(np.log(0.2), np.log(1e4), 121))


@dataclass(frozen=True, eq=False)
class FitSetup:
    """What is fixed in a calibration. ``days``: simulated days (day 0 = seeding); ``observed_from``: the simulation
    day of the first observation (the observations cover ``observed_from .. days - 1``); ``report_delay``: the
    onset-to-report distribution ``w`` (``w[s]`` = P(delay = s days))."""

    params: DiseaseParams
    population: FloatArray
    contacts: FloatArray
    days: int
    observed_from: int = 0
    change_day: int | None = None
    recent_day: int | None = None
    report_delay: FloatArray = field(default_factory=lambda: np.ones(1))
    mobility: Any = None
    steps_per_day: int = 2

    @property
    def regions(self) -> int:
        return int(np.atleast_2d(self.population).shape[0])

    def beta1(self) -> FloatArray:
        """Per region, the transmission rate per contact that gives R0 = 1 there."""
        pop = np.atleast_2d(self.population)
        return np.array([mp.beta_for_r0(self.params, self.contacts, p, 1.0) for p in pop])

    def model(self) -> mp.Metapop:
        return mp.Metapop(self.params, np.atleast_2d(self.population), self.contacts, 1.0, mobility=self.mobility)


def _natural(theta: FloatArray) -> FloatArray:
    """``theta`` (regions x 5, log scale) to ``(R0, q, seed, rho, q2)``."""
    return np.asarray(np.exp(theta), dtype=np.float64)


def reproduction(setup: FitSetup, values: FloatArray, days: int) -> FloatArray:
    """``R_i(t)``, days x regions, from natural parameters (regions x 5)."""
    r = np.broadcast_to(values[:, 0], (days, setup.regions)).copy()
    if setup.change_day is not None:
        r[max(setup.change_day, 0) :] *= values[:, 1]
    if setup.recent_day is not None:
        r[max(setup.recent_day, 0) :] *= values[:, 4]
    return r


def contact_scale(setup: FitSetup, values: FloatArray, days: int, beta1: FloatArray) -> FloatArray:
    """The metapop contact scaling (days x regions x settings) that gives ``R_i(t)``."""
    r = reproduction(setup, values, days) * beta1[None, :]
    return np.asarray(np.repeat(r[:, :, None], setup.contacts.shape[0], axis=2), dtype=np.float64)


def seeded_state(setup: FitSetup, seed: FloatArray) -> FloatArray:
    pop = np.atleast_2d(setup.population)
    share = pop / pop.sum(axis=1, keepdims=True)
    infected = np.minimum(seed[:, None] * share, pop)
    return mp.initial_state(pop, infected)


def delayed(onsets: FloatArray, kernel: FloatArray) -> FloatArray:
    """``sum_s w_s onsets[t - s]`` along the first axis (days)."""
    out = np.zeros_like(onsets)
    for s, w in enumerate(kernel):
        if w:
            out[s:] += w * onsets[: onsets.shape[0] - s]
    return out


@dataclass(frozen=True, eq=False)
class Simulation:
    expected: FloatArray  # reported, days x regions (all simulated days)
    onsets: FloatArray  # days x regions
    final: FloatArray  # state at the end of the last day


def simulate(setup: FitSetup, values: FloatArray, beta1: FloatArray | None = None) -> Simulation:
    """Expected reported cases of every region for natural parameters ``values`` (regions x 5)."""
    b1 = setup.beta1() if beta1 is None else beta1
    with np.errstate(over="ignore", invalid="ignore"):
        traj = mp.simulate_deterministic(
            setup.model(),
            seeded_state(setup, values[:, 2]),
            setup.days,
            contact_scale=contact_scale(setup, values, setup.days, b1),
            steps_per_day=setup.steps_per_day,
        )
    # trial steps of the optimiser can reach transmission rates the fixed-step integrator cannot follow: such a
    # series is made hopeless (huge expected counts) rather than NaN, so the step is rejected
    onsets = np.where(np.isfinite(traj.onsets), np.clip(traj.onsets, 0.0, None), UNSTABLE)
    return Simulation(values[None, :, 3] * delayed(onsets, setup.report_delay), onsets, traj.final)


# ----------------------------------------------------------------------------------------- likelihood
def nb_loglik(y: FloatArray, mu: FloatArray, k: FloatArray | float) -> FloatArray:
    """Negative binomial log-likelihood per cell (Poisson where ``k`` is infinite); NaN ``y`` contribute 0."""
    kk = np.broadcast_to(np.asarray(k, dtype=np.float64), np.broadcast_shapes(np.shape(y), np.shape(k)))
    m = np.maximum(mu, 1e-12)
    yy = np.nan_to_num(y)
    pois = yy * np.log(m) - m - special.gammaln(yy + 1)
    kf = np.where(np.isfinite(kk), kk, 1.0)
    nb = (
        special.gammaln(yy + kf)
        - special.gammaln(kf)
        - special.gammaln(yy + 1)
        + kf * np.log(kf / (kf + m))
        + yy * np.log(m / (kf + m))
    )
    out = np.where(np.isfinite(kk), nb, pois)
    return np.asarray(np.where(np.isnan(y), 0.0, out), dtype=np.float64)


def deviance_residuals(y: FloatArray, mu: FloatArray, k: FloatArray | float) -> FloatArray:
    """Signed square roots of the unit deviances (0 where ``y`` is NaN)."""
    m = np.maximum(mu, 1e-12)
    yy = np.nan_to_num(y)
    kk = np.asarray(k, dtype=np.float64)
    ylog = special.xlogy(yy, yy / m)
    kf = np.where(np.isfinite(kk), kk, 1.0)
    nb = ylog - (yy + kf) * np.log((yy + kf) / (m + kf))
    pois = ylog - (yy - m)
    dev = 2.0 * np.where(np.isfinite(kk), nb, pois)
    r = np.sign(yy - m) * np.sqrt(np.maximum(dev, 0.0))
    return np.asarray(np.where(np.isnan(y), 0.0, r), dtype=np.float64)


def best_size(y: FloatArray, mu: FloatArray) -> FloatArray:
    """Per region (columns), the negative binomial size on :data:`K_GRID` maximising the likelihood."""
    ll = np.stack([nb_loglik(y, mu, k).sum(axis=0) for k in K_GRID])
    return np.asarray(K_GRID[np.argmax(ll, axis=0)], dtype=np.float64)


# -------------------------------------------------------------------------------------------- the fit
@dataclass(frozen=True, eq=False)
class Fit:
    """Estimates per region (arrays of ``regions``), 95% intervals, fitted and observed series (days x regions,
    the observed span), Pearson residuals, log-likelihood, and the model state at the end of the last day."""

    setup: FitSetup
    values: FloatArray  # regions x 5: R0, change, seed, rho, recent
    lower: FloatArray
    upper: FloatArray
    size: FloatArray  # negative binomial k per region
    observed: FloatArray
    fitted: FloatArray
    loglik: FloatArray  # per region
    final: FloatArray
    onsets: FloatArray  # days x regions (all simulated days)
    converged: bool
    evaluations: int
    message: str

    def parameter(self, name: str) -> FloatArray:
        return np.asarray(self.values[:, PARAMETERS.index(name)], dtype=np.float64)

    @property
    def residuals(self) -> FloatArray:
        """Pearson residuals ``(y - mu) / sqrt(mu + mu^2/k)``."""
        var = self.fitted + self.fitted**2 / self.size[None, :]
        return np.asarray((self.observed - self.fitted) / np.sqrt(np.maximum(var, 1e-12)), dtype=np.float64)

    @property
    def r_after(self) -> FloatArray:
        """The reproduction number in force at the end of the fit (``R0 q q2`` after both changes)."""
        return np.asarray(reproduction(self.setup, self.values, self.setup.days)[-1], dtype=np.float64)


def _bounds(free: list[int], regions: int) -> tuple[FloatArray, FloatArray]:
    lo = np.log([BOUNDS[PARAMETERS[j]][0] for j in free])
    hi = np.log([BOUNDS[PARAMETERS[j]][1] for j in free])
    return np.tile(lo, regions), np.tile(hi, regions)


def fit(
    setup: FitSetup,
    observed: ArrayLike,
    *,
    start: ArrayLike | None = None,
    fixed: dict[str, float] | None = None,
    negative_binomial: bool = True,
    max_nfev: int = 200,
) -> Fit:
    """Maximum-likelihood fit of ``(R0, change, seed, rho, recent)`` of every region to ``observed`` (days x
    regions, NaN = missing), the observed days being simulation days ``observed_from .. days - 1``. ``fixed`` holds
    parameters not fitted (e.g. ``{"rho": 1.0}``); ``change`` is fixed at 1 without a ``change_day``, ``recent``
    without a ``recent_day``."""
    y = np.asarray(observed, dtype=np.float64)
    n_obs = setup.days - setup.observed_from
    if y.ndim != 2 or y.shape != (n_obs, setup.regions):
        raise ValueError(f"observed must be {n_obs} days x {setup.regions} regions, not {y.shape}")
    if np.any(y[~np.isnan(y)] < 0):
        raise ValueError("observed counts must be non-negative")
    fixed = dict(fixed or {})
    if setup.change_day is None:
        fixed.setdefault("change", 1.0)
    if setup.recent_day is None:
        fixed.setdefault("recent", 1.0)
    free = [j for j, name in enumerate(PARAMETERS) if name not in fixed]
    base = _start(setup, y) if start is None else np.array(start, dtype=np.float64).reshape(setup.regions, N_PARAMETERS)
    for name, value in fixed.items():
        base[:, PARAMETERS.index(name)] = value
    lo, hi = _bounds(free, setup.regions)
    # bounds by a smooth map of unbounded z onto [lo, hi] (log scale): MINPACK's Levenberg-Marquardt ('lm') needs
    # no LAPACK, whose threads thrash on a loaded machine
    width = hi - lo

    def log_of(z: FloatArray) -> FloatArray:
        return np.asarray(lo + width * special.expit(z), dtype=np.float64)

    x0 = np.clip(np.log(base[:, free]).ravel(), lo + 1e-4 * width, hi - 1e-4 * width)
    z0 = special.logit((x0 - lo) / width)
    beta1 = setup.beta1()
    nf = len(free)
    # residuals are ordered region-major (region i's days together): the Jacobian is block diagonal
    evaluations = 0

    def values_of(x: FloatArray) -> FloatArray:
        v = base.copy()
        v[:, free] = np.exp(x.reshape(setup.regions, nf))
        return v

    def expected(x: FloatArray) -> FloatArray:
        nonlocal evaluations
        evaluations += 1
        return simulate(setup, values_of(x), beta1).expected[setup.observed_from :]

    k: FloatArray = np.full(setup.regions, np.inf)

    def residuals(z: FloatArray) -> FloatArray:
        return deviance_residuals(y, expected(log_of(z)), k[None, :]).T.ravel()

    def jacobian(z: FloatArray) -> FloatArray:
        # regions share no parameter: moving parameter j of every region in one simulation gives each region's
        # column j (a block-diagonal Jacobian from nf + 1 simulations, whatever the number of regions)
        base_r = residuals(z)
        jac = np.zeros((base_r.size, z.size))
        rows = np.arange(base_r.size)
        region_of_row = rows // n_obs
        for j in range(nf):
            h = np.zeros_like(z)
            h[j::nf] = 1e-4
            jac[rows, region_of_row * nf + j] = (residuals(z + h) - base_r) / 1e-4
        return jac

    def solve(z_start: FloatArray) -> Any:
        return optimize.least_squares(residuals, z_start, jac=jacobian, method="lm", max_nfev=max_nfev)

    result = solve(z0)
    if negative_binomial:
        k = best_size(y, expected(log_of(result.x)))
        result = solve(result.x)
        k = best_size(y, expected(log_of(result.x)))
    x_hat = log_of(result.x)
    values = values_of(x_hat)
    sim = simulate(setup, values, beta1)
    mu = sim.expected[setup.observed_from :]
    lower, upper = _intervals(setup, values, free, k, y, mu, beta1, x_hat, lo, hi, values_of)
    return Fit(
        setup=setup,
        values=values,
        lower=lower,
        upper=upper,
        size=k,
        observed=y,
        fitted=mu,
        loglik=nb_loglik(y, mu, k[None, :]).sum(axis=0),
        final=sim.final,
        onsets=sim.onsets,
        converged=bool(result.success),
        evaluations=evaluations,
        message=str(result.message),
    )


def _start(setup: FitSetup, y: FloatArray) -> FloatArray:
    """A starting point: R0 2.5, 0.4 times that after a change, rho 0.5, seed from the first week of cases."""
    first = np.nan_to_num(y[: min(7, y.shape[0])]).mean(axis=0)
    seed = np.clip(first + 1.0, BOUNDS["seed"][0] * 2, BOUNDS["seed"][1] / 2)
    out = np.empty((setup.regions, N_PARAMETERS))
    out[:, 0], out[:, 1], out[:, 2], out[:, 3], out[:, 4] = 2.5, 0.4, seed, 0.5, 1.0
    return out


def _intervals(
    setup: FitSetup,
    values: FloatArray,
    free: list[int],
    k: FloatArray,
    y: FloatArray,
    mu: FloatArray,
    beta1: FloatArray,
    x: FloatArray,
    lo: FloatArray,
    hi: FloatArray,
    values_of: Any,
) -> tuple[FloatArray, FloatArray]:
    """95% Wald intervals from the Fisher information (log scale), NaN where it is singular."""
    regions, nf = setup.regions, len(free)
    xr = x.reshape(regions, nf)
    jac = np.zeros((regions, mu.shape[0], nf))
    h = 1e-4
    for j in range(nf):
        step = np.zeros_like(xr)
        # step inwards where a parameter sits on its upper bound
        at_top = xr[:, j] + h > hi.reshape(regions, nf)[:, j]
        step[:, j] = np.where(at_top, -h, h)
        moved = simulate(setup, values_of((xr + step).ravel()), beta1).expected[setup.observed_from :]
        jac[:, :, j] = ((moved - mu) / step[:, j][None, :]).T
    have = ~np.isnan(y).T
    var = mu.T + mu.T**2 / k[:, None]
    w = np.where(have, 1.0 / np.maximum(var, 1e-9), 0.0)
    info = np.einsum("rtj,rt,rtk->rjk", jac, w, jac)
    lower = values.copy()
    upper = values.copy()
    for i in range(regions):
        try:
            cov = np.linalg.inv(info[i])
            sd = np.sqrt(np.diag(cov))
            if not np.all(np.isfinite(sd)) or np.any(np.diag(cov) < 0):
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            sd = np.full(nf, np.nan)
        # a Wald interval reaching past a parameter's range is cut at the range (its bound in BOUNDS)
        lower[i, free] = np.exp(np.maximum(xr[i] - 1.959964 * sd, lo.reshape(regions, nf)[i]))
        upper[i, free] = np.exp(np.minimum(xr[i] + 1.959964 * sd, hi.reshape(regions, nf)[i]))
    return lower, upper


def gamma_delay(mean: float, sd: float, max_days: int | None = None) -> FloatArray:
    """A delay distribution on whole days: the gamma (mean, sd) probability of each interval ``[s - 1/2, s + 1/2)``,
    ``s = 0, 1, ...``, renormalised (used for the onset-to-report delay)."""
    from scipy import stats

    if mean <= 0 or sd <= 0:
        raise ValueError("a delay needs a positive mean and sd")
    shape, scale = (mean / sd) ** 2, sd**2 / mean
    n = max_days if max_days is not None else int(np.ceil(mean + 4 * sd)) + 1
    edges = np.concatenate([[0.0], np.arange(n) + 0.5])
    p = np.diff(stats.gamma.cdf(edges, shape, scale=scale))
    return np.asarray(p / p.sum(), dtype=np.float64)
