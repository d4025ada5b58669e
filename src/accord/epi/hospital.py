"""Hospital demand: daily census of general beds, ICU beds and ventilators from daily admissions, for all regions
at once, and the days until each region's capacity is exceeded (CHIME-like, vectorised).

A patient admitted on day ``d`` occupies a bed on days ``d, d+1, ..., d+los-1``. With a length-of-stay
distribution ``p_k = P(LOS = k days)``, ``k >= 1``, the expected census is the admissions filtered by the survival
function ``S_k = P(LOS > k)``::

    census_t = sum_{k>=0} S_k A_{t-k}

A fixed stay of ``n`` days (CHIME's assumption) is ``S_k = 1`` for ``k < n``, else 0: ``census_t`` is then the sum of
the last ``n`` days of admissions. Of those admitted, a share ``icu_share`` needs intensive care and ``vent_share``
a ventilator (CHIME's ICU and ventilated rates relative to hospitalisations), each with its own length of stay;
general-bed demand is all admissions with the general length of stay (CHIME counts every hospitalised patient
in the hospital census).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from accord.epi.rt import causal_filter

FloatArray = NDArray[np.float64]

#: CHIME's defaults (Penn Medicine, 2020): length of stay in days
LOS_GENERAL = 7
LOS_ICU = 9
LOS_VENT = 10


def survival(los: float | ArrayLike) -> FloatArray:
    """``S_k = P(LOS > k)``, ``k = 0, 1, ...`` for a fixed stay of ``los`` days or a pmf over days 0, 1, ..."""
    arr = np.asarray(los, dtype=np.float64)
    if arr.ndim == 0:
        days = float(arr)
        if not (days >= 1 and days == int(days)):
            raise ValueError(f"a fixed length of stay is a whole number of days >= 1, not {days}")
        return np.ones(int(days))
    if arr.ndim != 1 or np.any(arr < 0) or abs(arr.sum() - 1) > 1e-6 or arr[0] != 0:
        raise ValueError(
            "a length-of-stay distribution is probabilities for days 0, 1, ... summing to 1, with 0 on day 0"
        )
    return np.asarray(1.0 - np.cumsum(arr / arr.sum()), dtype=np.float64)[:-1]


def census(admissions: ArrayLike, los: float | ArrayLike) -> FloatArray:
    """Expected occupied beds per day (last axis) from daily admissions, for any number of regions."""
    adm = np.asarray(admissions, dtype=np.float64)
    if not np.all(np.isfinite(adm)) or np.any(adm < 0):
        raise ValueError("admissions must be finite and non-negative")
    return causal_filter(adm, survival(los))


@dataclass(frozen=True)
class Demand:
    general: FloatArray
    icu: FloatArray
    ventilators: FloatArray


def demand(
    admissions: ArrayLike,
    *,
    icu_share: float | ArrayLike = 0.0,
    vent_share: float | ArrayLike = 0.0,
    los_general: float | ArrayLike = LOS_GENERAL,
    los_icu: float | ArrayLike = LOS_ICU,
    los_vent: float | ArrayLike = LOS_VENT,
) -> Demand:
    """General-bed, ICU and ventilator census (regions x days). Shares may be per region (an array of regions)."""
    adm = np.asarray(admissions, dtype=np.float64)
    icu = _per_region(icu_share, adm)
    vent = _per_region(vent_share, adm)
    return Demand(
        general=census(adm, los_general),
        icu=census(adm * icu, los_icu),
        ventilators=census(adm * vent, los_vent),
    )


def _per_region(share: float | ArrayLike, adm: FloatArray) -> FloatArray:
    arr = np.asarray(share, dtype=np.float64)
    if np.any(arr < 0) or np.any(arr > 1):
        raise ValueError("shares of admissions must lie between 0 and 1")
    return arr[..., None] if arr.ndim == 1 and adm.ndim == 2 else arr


def days_to_capacity(census_: ArrayLike, capacity: ArrayLike) -> NDArray[np.int64]:
    """Per region, the first day index (0 = the first day of ``census_``) on which the census exceeds capacity,
    or -1 where it never does within the horizon. ``capacity`` is per region (or per region and day)."""
    occ = np.asarray(census_, dtype=np.float64)
    cap = np.asarray(capacity, dtype=np.float64)
    if cap.ndim == occ.ndim - 1:
        cap = cap[..., None]
    over = occ > cap
    first = np.argmax(over, axis=-1)
    return np.where(over.any(axis=-1), first, -1).astype(np.int64)


# ------------------------------------------------------------------------------------- CHIME, for all regions
@dataclass(frozen=True)
class ChimeInputs:
    """CHIME's inputs (Penn Medicine, v1.1.3), one value per region (arrays) or shared (scalars). Rates are shares
    of all infections (CHIME's hospitalized / ICU / ventilated rates); ``mitigation_day`` is the mitigation date
    relative to the current date (0: today, -7: a week ago)."""

    population: FloatArray
    current_hospitalized: FloatArray
    doubling_time: FloatArray
    relative_contact_rate: FloatArray
    n_days: int = 100
    infectious_days: float = 14.0
    market_share: float = 0.15
    hospitalized_rate: float = 0.025
    icu_rate: float = 0.0075
    ventilated_rate: float = 0.005
    hospitalized_days: int = LOS_GENERAL
    icu_days: int = LOS_ICU
    ventilated_days: int = LOS_VENT
    mitigation_day: int = 0


@dataclass(frozen=True)
class ChimeResult:
    """Per region: CHIME's day index of the current date (``i_day``: days since the first hospitalisation) and the
    census of each disposition on days ``-i_day .. n_days`` (``regions x (max i_day + n_days + 1)``, left-aligned
    on each region's first day, NaN beyond its own length)."""

    i_day: NDArray[np.int64]
    hospitalized: FloatArray
    icu: FloatArray
    ventilated: FloatArray


def _chime_step(s: FloatArray, i: FloatArray, r: FloatArray, beta: FloatArray, gamma: float, n: FloatArray) -> Any:
    # CHIME's discrete SIR step, same operation order (sir() in penn_chime/model/sir.py)
    s_n = (-beta * s * i) + s
    i_n = (beta * s * i - gamma * i) + i
    r_n = gamma * i + r
    scale = n / (s_n + i_n + r_n)
    return s_n * scale, i_n * scale, r_n * scale


def chime(inputs: ChimeInputs) -> ChimeResult:
    """CHIME's projection for every region at once: the SIR start (``1 / market_share / hospitalized_rate``
    infected), the growth rate from the doubling time, the search for the current day (the day whose hospital
    census best matches ``current_hospitalized``, skipping days after the census peak), dispositions, admissions
    and census with fixed lengths of stay. Vectorised over regions; the only loop is over days."""
    pop = np.atleast_1d(np.asarray(inputs.population, dtype=np.float64))
    k = pop.size
    cur = np.broadcast_to(np.asarray(inputs.current_hospitalized, dtype=np.float64), (k,))
    dt = np.broadcast_to(np.asarray(inputs.doubling_time, dtype=np.float64), (k,))
    rcr = np.broadcast_to(np.asarray(inputs.relative_contact_rate, dtype=np.float64), (k,))
    if np.any(pop <= 0) or np.any(dt <= 0) or np.any((rcr < 0) | (rcr > 1)) or np.any(cur < 0):
        raise ValueError("population and doubling time must be positive, contact reduction within 0..1")
    infected = 1.0 / inputs.market_share / inputs.hospitalized_rate
    s0 = pop - infected
    gamma = 1.0 / inputs.infectious_days
    growth = 2.0 ** (1.0 / dt) - 1.0
    beta = (growth + gamma) / s0 * (1.0 - 0.0)
    beta_t = (growth + gamma) / s0 * (1.0 - rcr)
    if inputs.mitigation_day >= 0:
        i_day = _current_day_fast(inputs, s0, infected, gamma, beta, beta_t, cur)
    else:
        i_day = _current_day_all(inputs, s0, infected, gamma, beta, beta_t, cur)
    return _chime_series(inputs, s0, infected, gamma, beta, beta_t, i_day)


def _current_day_fast(
    inputs: ChimeInputs,
    s0: FloatArray,
    infected: float,
    gamma: float,
    beta: FloatArray,
    beta_t: FloatArray,
    cur: FloatArray,
) -> NDArray[np.int64]:
    """Mitigation on or after the current day: the census on candidate day ``c`` comes from the unmitigated run
    alone, so one run ranks every candidate; the best one per region is then checked against CHIME's rule (census
    peak not before ``c``) on its own projection, falling back to the next best where it fails."""
    n_days = int(inputs.n_days)
    k = s0.size
    never = np.full(k, np.inf)
    unmitigated = _chime_series(inputs, s0, infected, gamma, beta, beta_t, np.zeros(k, np.int64), pre=never)
    census_u = unmitigated.hospitalized[:, :n_days]
    order = np.argsort((census_u - cur[:, None]) ** 2.0, axis=1, kind="stable")  # ties: the earliest day, as CHIME
    rank = np.zeros(k, dtype=np.int64)
    todo = np.arange(k)
    while todo.size:
        if np.any(rank[todo] >= n_days):
            raise ValueError("no day before the census peak matches the current census (CHIME finds none either)")
        c = order[todo, rank[todo]]
        run = _chime_series(inputs, s0[todo], infected, gamma, beta[todo], beta_t[todo], c)
        peak = np.argmax(np.nan_to_num(run.hospitalized, nan=-np.inf), axis=1)
        bad = peak < c
        rank[todo[bad]] += 1
        todo = todo[bad]
    return np.asarray(order[np.arange(k), rank], dtype=np.int64)


def _current_day_all(
    inputs: ChimeInputs,
    s0: FloatArray,
    infected: float,
    gamma: float,
    beta: FloatArray,
    beta_t: FloatArray,
    cur: FloatArray,
) -> NDArray[np.int64]:
    """Any mitigation day: every candidate day's projection at once (regions x candidates)."""
    n_days = int(inputs.n_days)
    k = s0.size
    cand = np.arange(n_days)
    pre = np.maximum(cand + inputs.mitigation_day, 0)
    shape = (k, n_days)
    s, i, r = np.broadcast_to(s0[:, None], shape), np.full(shape, infected), np.zeros(shape)
    n = (s + i + r)[:, :1]
    los = inputs.hospitalized_days
    hosp = inputs.hospitalized_rate * inputs.market_share
    ring = np.zeros((los + 1, *shape))  # ever-infected of the last los+1 days
    ring[0] = i + r
    at_c = np.zeros(shape)
    max_before_c = np.full(shape, -np.inf)
    max_from_c = np.full(shape, -np.inf)
    for t in range(1, 2 * n_days):
        b = np.where(t - 1 < pre[None, :], beta[:, None], beta_t[:, None])
        s, i, r = _chime_step(s, i, r, b, gamma, n)
        ring[t % (los + 1)] = i + r
        census = (ring[t % (los + 1)] - ring[max(t - los, 0) % (los + 1)]) * hosp
        alive = t <= cand + n_days  # candidate c's run has days 0 .. c + n_days
        max_before_c = np.where(alive & (t < cand), np.maximum(max_before_c, census), max_before_c)
        max_from_c = np.where(alive & (t >= cand), np.maximum(max_from_c, census), max_from_c)
        at_c = np.where(t == cand, census, at_c)
    # day 0's census is 0 (admissions start on day 1)
    max_before_c = np.where(cand > 0, np.maximum(max_before_c, 0.0), max_before_c)
    max_from_c = np.where(cand == 0, np.maximum(max_from_c, 0.0), max_from_c)
    valid = ~(max_before_c >= max_from_c)  # argmax (first maximum) at or after c
    loss = np.where(valid, (at_c - cur[:, None]) ** 2.0, np.inf)
    if np.any(~np.isfinite(loss).any(axis=1)):
        raise ValueError("no day before the census peak matches the current census (CHIME finds none either)")
    return np.asarray(np.argmin(loss, axis=1), dtype=np.int64)


def _chime_series(
    inputs: ChimeInputs,
    s0: FloatArray,
    infected: float,
    gamma: float,
    beta: FloatArray,
    beta_t: FloatArray,
    i_day: NDArray[np.int64],
    pre: FloatArray | None = None,
) -> ChimeResult:
    """The projection of each region for its current day ``i_day`` (mitigation from step ``pre``, by default
    ``i_day + mitigation_day``)."""
    k = s0.size
    length = int(i_day.max()) + inputs.n_days + 1
    start = np.maximum(i_day + inputs.mitigation_day, 0) if pre is None else pre
    ever = np.zeros((k, length))
    s, i, r = s0.copy(), np.full(k, infected), np.zeros(k)
    n = s + i + r
    ever[:, 0] = i + r
    for t in range(1, length):
        b = np.where(t - 1 < start, beta, beta_t)
        s, i, r = _chime_step(s, i, r, b, gamma, n)
        ever[:, t] = i + r
    stop = (i_day + inputs.n_days)[:, None]
    out = []
    for rate, los in ((inputs.hospitalized_rate, inputs.hospitalized_days), (inputs.icu_rate, inputs.icu_days),
                      (inputs.ventilated_rate, inputs.ventilated_days)):  # fmt: skip
        d = ever * rate * inputs.market_share
        lagged = np.concatenate([np.repeat(d[:, :1], los, axis=1), d[:, :-los]], axis=1)
        census = d - lagged
        out.append(np.where(np.arange(length)[None, :] <= stop, census, np.nan))
    return ChimeResult(i_day, out[0], out[1], out[2])


# ------------------------------------------------------------------------------ census from the epidemic model
#: share of ICU patients on a ventilator: CHIME's default rates, ventilated 0.5% / ICU 0.75% of infections
VENT_SHARE_OF_ICU = 0.005 / 0.0075


def model_demand(
    ward: ArrayLike,
    icu: ArrayLike,
    icu_admissions: ArrayLike,
    *,
    vent_share: float | ArrayLike = VENT_SHARE_OF_ICU,
    los_vent: float | ArrayLike = LOS_VENT,
) -> Demand:
    """Census per region (``regions x days``) from a metapopulation run: general beds = ward census, ICU = ICU
    census (both straight from the model's compartments), ventilators = the ventilated share of ICU admissions
    with CHIME's ventilator stay (the model has no ventilator compartment)."""
    w = np.asarray(ward, dtype=np.float64)
    c = np.asarray(icu, dtype=np.float64)
    adm = np.asarray(icu_admissions, dtype=np.float64)
    if w.shape != c.shape or c.shape != adm.shape:
        raise ValueError("ward, ICU census and ICU admissions must have the same shape (regions x days)")
    return Demand(general=w, icu=c, ventilators=census(adm * _per_region(vent_share, adm), los_vent))


def exceedance(demand_: Demand, beds: ArrayLike, icu_beds: ArrayLike, ventilators: ArrayLike) -> dict[str, Any]:
    """Per region: first day over capacity (-1: not within the horizon; capacity NaN: unknown, -1) and peak census
    of each resource, plus the days over capacity."""
    out: dict[str, Any] = {}
    for name, series, cap in (("beds", demand_.general, beds), ("icu", demand_.icu, icu_beds),
                              ("ventilators", demand_.ventilators, ventilators)):  # fmt: skip
        cap_arr = np.asarray(cap, dtype=np.float64)
        known = np.isfinite(cap_arr)
        safe = np.where(known, cap_arr, np.inf)
        out[f"{name}_peak"] = series.max(axis=-1)
        out[f"{name}_days_to_capacity"] = np.where(known, days_to_capacity(series, safe), -1)
        out[f"{name}_days_over"] = np.where(known, (series > safe[..., None]).sum(axis=-1), 0)
    return out
