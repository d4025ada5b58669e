"""Age-structured metapopulation model of COVID-19: regions coupled by commuting/travel, contacts by setting,
interventions that scale contacts (per region, per setting, per day) and cut mobility (per region, per day).

One parameter set (:class:`Metapop`), two integrators: :func:`simulate_deterministic` (the ODE, classical
Runge-Kutta with a fixed step) and :func:`simulate_stochastic` (chain binomial with seeded streams). Both are
vectorised over regions x ages; the only Python loop is over time steps.

Compartments (index ``k`` of a state array ``(compartments, regions, ages)``)::

    S susceptible, E exposed (latent), P presymptomatic, I symptomatic, A asymptomatic,
    H hospitalised (general ward), C critical care (ICU), R recovered, D dead

Flows, per region ``i`` and age ``a`` (``d_X`` mean stay in X; ``y`` symptomatic share, ``h`` admitted share of
symptomatic, ``c`` ICU share of admitted, ``mu_H`` / ``mu_C`` death shares; see :mod:`accord.epi.params`)::

    dS/dt = -lambda S
    dE/dt =  lambda S - E/d_E
    dP/dt =  y E/d_E - P/d_P                 dA/dt = (1-y) E/d_E - A/d_A
    dI/dt =  P/d_P - I/d_I
    dH/dt =  h (1-c) I/d_I - H/d_H           dC/dt = h c I/d_I - C/d_C
    dR/dt =  A/d_A + (1-h) I/d_I + (1-mu_H) H/d_H + (1-mu_C) C/d_C
    dD/dt =  mu_H H/d_H + mu_C C/d_C

The right-hand sides sum to zero: residents of every region are conserved (nobody moves home; travel is a share
of time spent elsewhere).

Force of infection (commuting model, frequency-dependent). ``M`` (regions x regions, row-stochastic) is the share of
their time that residents of ``i`` spend in ``j`` (``M_ii`` at home). Only people in the community mix:
``N = S+E+P+I+A+R`` (hospitalised and dead do not), and infectiousness is ``J = r_P P + I + r_A A``. With contact
matrices ``C_s[a, b]`` (mean daily contacts of a person aged ``a`` with people aged ``b`` in setting ``s``), contact
scaling ``kappa_{i,s}(t)`` (1 = no intervention), transmission rate per contact ``beta`` and relative susceptibility
``sigma_a``:

- *local* settings (default: home) happen where people live, among residents::

      lambda^loc_{i,a} = sum_{s local} kappa_{i,s} sum_b C_s[a,b] J_{i,b} / N_{i,b}

- the other settings (school, work, community) happen where people are. The population and the infectiousness
  present in ``j`` are ``N*_{j,b} = sum_i M_ij N_{i,b}`` and ``J*_{j,b} = sum_i M_ij J_{i,b}``, the force of
  infection there is ``lambda*_{j,a} = sum_{s travelling} kappa_{j,s} sum_b C_s[a,b] J*_{j,b} / N*_{j,b}`` (the
  measures in force where the contact happens), and a resident of ``i`` is exposed to it for the share of time
  spent there::

      lambda^trav_{i,a} = sum_j M_ij lambda*_{j,a}

- ``lambda_{i,a} = beta sigma_a (lambda^loc_{i,a} + lambda^trav_{i,a})``.

Mobility interventions: ``m_i(t)`` in [0, 1] scales the travel of residents of ``i`` (the share of time away); the
rest is spent at home: ``M_ij(t) = m_i M_ij`` for ``j != i``, ``M_ii(t) = 1 - m_i sum_{j != i} M_ij``. ``M`` may be
dense or a scipy sparse matrix; the products above are computed without forming ``M(t)``.

Time: interventions are piecewise constant per day (index ``t`` applies during day ``t``); each day is split into
``steps_per_day`` steps. Outputs are per day: new infections, symptomatic onsets, hospital admissions (ward and ICU
together), ICU admissions and deaths during the day, and ward and ICU census at the end of the day.

Stochastic version (chain binomial, step ``dt``): every transition out of a compartment is a binomial draw with the
probability of leaving in ``dt`` at the current rates, and splits between destinations are binomial draws::

    new infections ~ Bin(S, 1 - exp(-lambda dt))       leaving X ~ Bin(X, 1 - exp(-dt/d_X))
    of those leaving E: to P ~ Bin(., y);   of those leaving I: admitted ~ Bin(., h), to ICU ~ Bin(admitted, c)
    of those leaving H: dead ~ Bin(., mu_H);  of those leaving C: dead ~ Bin(., mu_C)

Random numbers: each kind of draw (purpose) on each day has its own stream, a ``numpy.random.SeedSequence`` with
spawn key ``(*root.spawn_key, purpose, day)``. Two runs with the same seed draw identical numbers for the same
purpose and day, so a scenario that changes nothing before day ``t`` is identical to its baseline before ``t``
and stays as close as possible to it afterwards (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from accord.epi.params import DiseaseParams

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

COMPARTMENTS = ("S", "E", "P", "I", "A", "H", "C", "R", "D")
S, E, P, I, A, H, C, R, D = range(9)  # noqa: E741 (the compartments' usual letters)
SETTINGS = ("home", "school", "work", "community")
#: draws of the stochastic integrator, one stream each (per day)
PURPOSES = (
    "infection",
    "leave_E",
    "E_to_P",
    "leave_P",
    "leave_A",
    "leave_I",
    "admitted",
    "to_icu",
    "leave_H",
    "ward_death",
    "leave_C",
    "icu_death",
)


@dataclass(frozen=True, eq=False)  # array fields: compare explicitly
class Metapop:
    """One parameter set shared by both integrators.

    ``population``: residents, regions x ages. ``contacts``: settings x ages x ages (``C_s[a, b]``: daily contacts
    of an ``a`` with ``b``s). ``mobility``: regions x regions row-stochastic share of time (dense or scipy sparse;
    ``None``: nobody travels). ``beta``: transmission probability per contact (see :func:`beta_for_r0`).
    ``local_settings``: indices of the settings that happen among residents (default: home)."""

    params: DiseaseParams
    population: FloatArray
    contacts: FloatArray
    beta: float
    mobility: Any = None
    local_settings: tuple[int, ...] = (0,)
    settings: tuple[str, ...] = SETTINGS
    _mix: _Mixing = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pop = np.asarray(self.population, dtype=np.float64)
        if pop.ndim == 1:
            pop = pop[None, :]
        con = np.asarray(self.contacts, dtype=np.float64)
        if con.ndim == 2:
            con = con[None]
        ages = self.params.ages
        if pop.ndim != 2 or pop.shape[1] != ages or np.any(pop < 0) or not np.all(np.isfinite(pop)):
            raise ValueError(f"population must be regions x {ages} ages, finite and non-negative")
        if con.ndim != 3 or con.shape[1:] != (ages, ages) or np.any(con < 0) or not np.all(np.isfinite(con)):
            raise ValueError(f"contacts must be settings x {ages} x {ages}, finite and non-negative")
        if len(self.settings) != con.shape[0]:
            object.__setattr__(self, "settings", tuple(f"setting{s}" for s in range(con.shape[0])))
        if any(not 0 <= s < con.shape[0] for s in self.local_settings):
            raise ValueError("local_settings must index the contact settings")
        if not (self.beta >= 0 and np.isfinite(self.beta)):
            raise ValueError("beta must be finite and non-negative")
        object.__setattr__(self, "population", pop)
        object.__setattr__(self, "contacts", con)
        object.__setattr__(self, "_mix", _Mixing.build(self.mobility, pop.shape[0]))

    @property
    def regions(self) -> int:
        return int(self.population.shape[0])

    def present(self, x: ArrayLike, mobility_scale: ArrayLike) -> FloatArray:
        """Residents' quantities (regions, or regions x k) apportioned to where they are: ``M(t)^T x``, the share
        of time away scaled by ``mobility_scale`` (regions,) as in the force of infection. Always a new array."""
        values = np.array(x, dtype=np.float64)
        flat = values.ndim == 1
        out = self._mix.present(values[:, None] if flat else values, np.asarray(mobility_scale, dtype=np.float64))
        return out[:, 0] if flat else out

    @property
    def ages(self) -> int:
        return int(self.population.shape[1])


@dataclass(frozen=True)
class _Mixing:
    """Off-diagonal part of the mobility matrix and its row sums (``None``: no travel)."""

    off: Any
    off_t: Any
    away: FloatArray | None

    @staticmethod
    def build(mobility: Any, regions: int) -> _Mixing:
        if mobility is None:
            return _Mixing(None, None, None)
        if sparse.issparse(mobility):
            m = sparse.csr_matrix(mobility, dtype=np.float64)
            if m.shape != (regions, regions) or (m.nnz and m.data.min() < 0):
                raise ValueError(f"mobility must be a non-negative {regions} x {regions} matrix")
            rows = np.asarray(m.sum(axis=1)).ravel()
            off = (m - sparse.diags(m.diagonal())).tocsr()
            off.eliminate_zeros()
            off_t: Any = off.T.tocsr()
        else:
            dense = np.asarray(mobility, dtype=np.float64)
            if dense.shape != (regions, regions) or np.any(dense < 0) or not np.all(np.isfinite(dense)):
                raise ValueError(f"mobility must be a non-negative {regions} x {regions} matrix")
            rows = dense.sum(axis=1)
            off = dense.copy()
            np.fill_diagonal(off, 0.0)
            off_t = np.ascontiguousarray(off.T)
        if np.any(np.abs(rows - 1.0) > 1e-9):
            raise ValueError("mobility must be row-stochastic: each region's shares of time sum to 1")
        away = np.asarray(off @ np.ones(regions), dtype=np.float64).ravel()
        return _Mixing(off, off_t, away)

    def present(self, x: FloatArray, scale: FloatArray) -> FloatArray:
        """``M(t)^T x``: what residents (rows of ``x``) bring to each region for their share of time."""
        if self.off is None or self.away is None:
            return x
        stay = (1.0 - scale * self.away)[:, None]
        return np.asarray(self.off_t @ (scale[:, None] * x) + stay * x, dtype=np.float64)

    def exposure(self, y: FloatArray, scale: FloatArray) -> FloatArray:
        """``M(t) y``: what residents meet, weighted by their share of time in each region."""
        if self.off is None or self.away is None:
            return y
        stay = (1.0 - scale * self.away)[:, None]
        return np.asarray(scale[:, None] * (self.off @ y) + stay * y, dtype=np.float64)


# ------------------------------------------------------------------------------------------- set-up helpers
def initial_state(population: ArrayLike, infected: ArrayLike, compartment: int = E) -> FloatArray:
    """A state (compartments x regions x ages) with everyone susceptible except ``infected`` (regions x ages, or
    broadcastable to it), who start in ``compartment`` (default E)."""
    pop = np.atleast_2d(np.asarray(population, dtype=np.float64))
    inf = np.broadcast_to(np.asarray(infected, dtype=np.float64), pop.shape)
    if np.any(inf < 0) or np.any(inf > pop):
        raise ValueError("infected must be non-negative and at most the population")
    state = np.zeros((len(COMPARTMENTS), *pop.shape))
    state[S] = pop - inf
    state[compartment] += inf
    return state


def piecewise(days: int, changes: Mapping[int, ArrayLike], shape: tuple[int, ...] = ()) -> FloatArray:
    """A daily schedule (``days x shape``) holding ``changes[t]`` from day ``t`` until the next change (1 before
    the first), e.g. ``piecewise(100, {40: 0.3})`` for a 70% cut from day 40."""
    out = np.ones((days, *shape))
    for start in sorted(changes):
        out[max(start, 0) :] = np.broadcast_to(np.asarray(changes[start], dtype=np.float64), shape)
    return out


def next_generation(params: DiseaseParams, contacts: ArrayLike, population: ArrayLike, beta: float) -> FloatArray:
    """Next-generation matrix of one well-mixed population (ages x ages) at full susceptibility::

    K[a, b] = beta sigma_a (sum_s C_s[a, b]) N_a D_b / N_b     (D_b: see DiseaseParams.infectious_duration)"""
    con = np.asarray(contacts, dtype=np.float64)
    total = con.sum(axis=0) if con.ndim == 3 else con
    pop = np.asarray(population, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(pop[None, :] > 0, pop[:, None] / pop[None, :], 0.0)
    k = beta * params.susceptibility[:, None] * total * ratio * params.infectious_duration[None, :]
    return np.asarray(k, dtype=np.float64)


def basic_reproduction_number(params: DiseaseParams, contacts: ArrayLike, population: ArrayLike, beta: float) -> float:
    """Spectral radius of :func:`next_generation`."""
    return float(np.max(np.abs(np.linalg.eigvals(next_generation(params, contacts, population, beta)))))


def beta_for_r0(params: DiseaseParams, contacts: ArrayLike, population: ArrayLike, r0: float) -> float:
    """Transmission probability per contact giving basic reproduction number ``r0`` (R0 is linear in beta)."""
    unit = basic_reproduction_number(params, contacts, population, 1.0)
    if unit <= 0:
        raise ValueError("nobody can infect anybody with these contacts and parameters")
    return r0 / unit


# ------------------------------------------------------------------------------------------------ output
@dataclass(frozen=True, eq=False)  # array fields: compare explicitly
class Trajectory:
    """Daily outputs, ``days x regions`` (``days x regions x ages`` with ``by_age``). Flows are totals over each
    day; ``ward`` and ``icu`` are census at the end of each day. ``states`` (``days+1 x compartments x regions x
    ages``, day 0 being the initial state) only with ``record_states``."""

    infections: FloatArray
    onsets: FloatArray
    admissions: FloatArray
    icu_admissions: FloatArray
    deaths: FloatArray
    ward: FloatArray
    icu: FloatArray
    final: FloatArray
    states: FloatArray | None = None

    @property
    def hospitalised(self) -> FloatArray:
        """Everyone in hospital (general ward and ICU)."""
        return np.asarray(self.ward + self.icu, dtype=np.float64)


class _Recorder:
    def __init__(self, days: int, regions: int, ages: int, by_age: bool, record_states: bool, initial: Any) -> None:
        shape = (days, regions, ages) if by_age else (days, regions)
        self.by_age = by_age
        self.flows = np.zeros((5, *shape))
        self.census = np.zeros((2, *shape))
        self.states: FloatArray | None = None
        if record_states:
            self.states = np.zeros((days + 1, *np.shape(initial)))
            self.states[0] = initial

    def day(self, t: int, flows: Any, state: Any) -> None:
        if self.by_age:
            self.flows[:, t] = flows
            self.census[0, t] = state[H]
            self.census[1, t] = state[C]
        else:
            self.flows[:, t] = flows.sum(axis=-1)
            self.census[0, t] = state[H].sum(axis=-1)
            self.census[1, t] = state[C].sum(axis=-1)
        if self.states is not None:
            self.states[t + 1] = state

    def result(self, final: Any) -> Trajectory:
        f = self.flows
        return Trajectory(
            infections=f[0],
            onsets=f[1],
            admissions=f[2],
            icu_admissions=f[3],
            deaths=f[4],
            ward=self.census[0],
            icu=self.census[1],
            final=np.asarray(final, dtype=np.float64),
            states=self.states,
        )


# --------------------------------------------------------------------------------------- force of infection
def _schedules(model: Metapop, days: int, contact_scale: ArrayLike | None, mobility_scale: ArrayLike | None) -> Any:
    shape_c = (days, model.regions, len(model.settings))
    kappa = np.broadcast_to(np.asarray(1.0 if contact_scale is None else contact_scale, dtype=np.float64), shape_c)
    mob = np.broadcast_to(np.asarray(1.0 if mobility_scale is None else mobility_scale, dtype=np.float64), shape_c[:2])
    if np.any(kappa < 0) or not np.all(np.isfinite(kappa)):
        raise ValueError("contact scaling must be finite and non-negative")
    if np.any(mob < 0) or np.any(mob > 1):
        raise ValueError("mobility scaling must lie between 0 and 1")
    return kappa, mob


def _force(model: Metapop) -> Callable[[FloatArray, FloatArray, FloatArray], FloatArray]:
    """``lambda(state, kappa_t (regions x settings), m_t (regions,))`` -> regions x ages."""
    prm = model.params
    local = np.array(sorted(set(model.local_settings)), dtype=np.int64)
    travel = np.array([s for s in range(len(model.settings)) if s not in set(local.tolist())], dtype=np.int64)
    c_local = model.contacts[local]  # (settings, a, b)
    c_travel = model.contacts[travel]
    mix = model._mix
    scale = model.beta * prm.susceptibility

    def ratio(num: FloatArray, den: FloatArray) -> FloatArray:
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    def lam(x: FloatArray, kappa: FloatArray, m: FloatArray) -> FloatArray:
        mixing = x[S] + x[E] + x[P] + x[I] + x[A] + x[R]
        inf = prm.rel_inf_presymptomatic * x[P] + x[I] + prm.rel_inf_asymptomatic * x[A]
        out = np.zeros_like(mixing)
        if local.size:
            g = np.tensordot(ratio(inf, mixing), c_local, axes=([1], [2]))  # (regions, settings, a)
            out += np.einsum("rs,rsa->ra", kappa[:, local], g)
        if travel.size:
            g = np.tensordot(ratio(mix.present(inf, m), mix.present(mixing, m)), c_travel, axes=([1], [2]))
            out += mix.exposure(np.einsum("rs,rsa->ra", kappa[:, travel], g), m)
        return np.asarray(out * scale, dtype=np.float64)

    return lam


# ----------------------------------------------------------------------------------------- deterministic
def _rates(model: Metapop) -> Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]:
    """``(state, lambda)`` -> (d state/dt, flow rates: infections, onsets, admissions, ICU admissions, deaths)."""
    p = model.params
    y, h, c = p.symptomatic_fraction, p.hospitalised_fraction, p.icu_fraction
    mu_h, mu_c = p.ward_fatality, p.icu_fatality

    def f(x: FloatArray, lam: FloatArray) -> tuple[FloatArray, FloatArray]:
        inf = lam * x[S]
        e_out = x[E] / p.latent
        p_out = x[P] / p.presymptomatic
        a_out = x[A] / p.asymptomatic
        i_out = x[I] / p.symptomatic
        h_out = x[H] / p.ward_stay
        c_out = x[C] / p.icu_stay
        admitted = h * i_out
        to_icu = c * admitted
        deaths = mu_h * h_out + mu_c * c_out
        dx = np.empty_like(x)
        dx[S] = -inf
        dx[E] = inf - e_out
        dx[P] = y * e_out - p_out
        dx[A] = (1 - y) * e_out - a_out
        dx[I] = p_out - i_out
        dx[H] = admitted - to_icu - h_out
        dx[C] = to_icu - c_out
        dx[R] = a_out + (i_out - admitted) + (h_out + c_out - deaths)
        dx[D] = deaths
        return dx, np.stack([inf, p_out, admitted, to_icu, deaths])

    return f


def simulate_deterministic(
    model: Metapop,
    initial: ArrayLike,
    days: int,
    *,
    contact_scale: ArrayLike | None = None,
    mobility_scale: ArrayLike | None = None,
    steps_per_day: int = 4,
    by_age: bool = False,
    record_states: bool = False,
) -> Trajectory:
    """Integrate the ODE with the classical 4th-order Runge-Kutta method, ``steps_per_day`` steps a day.

    ``contact_scale`` broadcasts to days x regions x settings, ``mobility_scale`` to days x regions (1 = no
    intervention). Daily flows are integrated with the same Runge-Kutta weights as the state, so they add up
    exactly to the changes of state."""
    x = _checked_state(model, initial).astype(np.float64)
    kappa, mob = _schedules(model, days, contact_scale, mobility_scale)
    lam = _force(model)
    rates = _rates(model)
    dt = 1.0 / _positive(steps_per_day)
    rec = _Recorder(days, model.regions, model.ages, by_age, record_states, x)
    for t in range(days):
        k_t, m_t = kappa[t], mob[t]
        flows = np.zeros((5, model.regions, model.ages))
        for _ in range(steps_per_day):
            d1, f1 = rates(x, lam(x, k_t, m_t))
            x2 = x + 0.5 * dt * d1
            d2, f2 = rates(x2, lam(x2, k_t, m_t))
            x3 = x + 0.5 * dt * d2
            d3, f3 = rates(x3, lam(x3, k_t, m_t))
            x4 = x + dt * d3
            d4, f4 = rates(x4, lam(x4, k_t, m_t))
            x = x + dt / 6.0 * (d1 + 2 * d2 + 2 * d3 + d4)
            flows += dt / 6.0 * (f1 + 2 * f2 + 2 * f3 + f4)
        rec.day(t, flows, x)
    return rec.result(x)


# -------------------------------------------------------------------------------------------- stochastic
def streams(seed: int | np.random.SeedSequence, day: int) -> list[np.random.Generator]:
    """One generator per purpose (:data:`PURPOSES`) for ``day``, all derived from ``seed``."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, k, day))))
        for k in range(len(PURPOSES))
    ]


def simulate_stochastic(
    model: Metapop,
    initial: ArrayLike,
    days: int,
    *,
    seed: int | np.random.SeedSequence,
    contact_scale: ArrayLike | None = None,
    mobility_scale: ArrayLike | None = None,
    steps_per_day: int = 1,
    by_age: bool = False,
    record_states: bool = False,
) -> Trajectory:
    """Chain-binomial (tau-leap) run with ``steps_per_day`` steps a day; ``initial`` must hold whole numbers.

    Same parameters, force of infection and schedules as :func:`simulate_deterministic`; ``seed`` (an integer or a
    ``SeedSequence``, e.g. one of ``SeedSequence(s).spawn(n)`` for ensemble members) fixes every draw."""
    x0 = _checked_state(model, initial)
    if np.any(x0 != np.round(x0)):
        raise ValueError("a stochastic run starts from whole numbers of people")
    x = x0.astype(np.int64)
    kappa, mob = _schedules(model, days, contact_scale, mobility_scale)
    lam = _force(model)
    p = model.params
    dt = 1.0 / _positive(steps_per_day)

    def leave(d: float) -> float:
        return float(-np.expm1(-dt / d))

    p_e, p_p, p_a, p_i = leave(p.latent), leave(p.presymptomatic), leave(p.asymptomatic), leave(p.symptomatic)
    p_h, p_c = leave(p.ward_stay), leave(p.icu_stay)
    y, h, c = p.symptomatic_fraction, p.hospitalised_fraction, p.icu_fraction
    mu_h, mu_c = p.ward_fatality, p.icu_fatality
    rec = _Recorder(days, model.regions, model.ages, by_age, record_states, x)

    for t in range(days):
        g = streams(seed, t)
        flows = np.zeros((5, model.regions, model.ages), dtype=np.int64)
        for _ in range(steps_per_day):
            force = lam(x.astype(np.float64), kappa[t], mob[t])
            new = g[0].binomial(x[S], -np.expm1(-force * dt))
            e_out = g[1].binomial(x[E], p_e)
            to_p = g[2].binomial(e_out, y)
            p_out = g[3].binomial(x[P], p_p)
            a_out = g[4].binomial(x[A], p_a)
            i_out = g[5].binomial(x[I], p_i)
            admitted = g[6].binomial(i_out, h)
            to_icu = g[7].binomial(admitted, c)
            h_out = g[8].binomial(x[H], p_h)
            h_dead = g[9].binomial(h_out, mu_h)
            c_out = g[10].binomial(x[C], p_c)
            c_dead = g[11].binomial(c_out, mu_c)
            x[S] -= new
            x[E] += new - e_out
            x[P] += to_p - p_out
            x[A] += e_out - to_p - a_out
            x[I] += p_out - i_out
            x[H] += admitted - to_icu - h_out
            x[C] += to_icu - c_out
            x[R] += a_out + (i_out - admitted) + (h_out - h_dead) + (c_out - c_dead)
            x[D] += h_dead + c_dead
            flows += np.stack([new, p_out, admitted, to_icu, h_dead + c_dead])
        rec.day(t, flows, x)
    return rec.result(x)


def _checked_state(model: Metapop, initial: ArrayLike) -> FloatArray:
    x = np.array(initial, dtype=np.float64)
    shape = (len(COMPARTMENTS), model.regions, model.ages)
    if x.shape != shape:
        raise ValueError(f"the initial state must be compartments x regions x ages {shape}, not {x.shape}")
    if np.any(x < 0) or not np.all(np.isfinite(x)):
        raise ValueError("the initial state must be finite and non-negative")
    return x


def _positive(steps: int) -> int:
    if steps < 1:
        raise ValueError("steps_per_day must be at least 1")
    return steps
