"""A seeded stochastic SEIR outbreak over the communities of a country, coupled by travel.

The model (one step a day, all communities at once, integer people):

- compartments per community: ``S``, ``E`` (split by where the infection came from: ``E_local``,
  ``E_imported``), ``I``, ``R``, ``D``; ``S + E + I + R + D == N`` on every day (no births, no migration:
  travellers mix, they do not move house);
- chain binomial: ``S -> E`` with probability ``1 - exp(-lambda)``, ``E -> I`` with ``1 - exp(-1/latent)``,
  ``I -> R or D`` with ``1 - exp(-1/infectious)``, and a binomial split of those leaving ``I`` into deaths
  (``cfr``) and recoveries;
- force of infection ``lambda_i = beta(t) * sum_j M_ij(t) * I_j / N_j``: a share of each community's
  contacts happens at home, the rest travels, with gravity weights ``~ pop_i * pop_j / dist_ij**2`` -- most of
  it to the other communities of the same city, some to other cities of the province, a little to other
  provinces (for travel between cities the partner is the city as a whole, at its population-weighted centre);
- a lockdown from ``lockdown_day``, ramping in over a few days: transmission drops, travel within cities is
  cut, travel between cities nearly stops, and external arrivals fall, so curves rise and fall;
- seeds: a few exposed people in a few communities of the capital (largest city) of one province (the most
  populous unless given), plus an external importation stream of infected arrivals into that capital.

**Imported** means: the infection came from outside the community's *city* -- from a community of another
city through travel, from an external arrival, or an initial seed. Exposures are attributed to the origin by a
binomial split with the outside-city share of the force of infection, and keep that label through ``E``.
Everything else, including infection by another community of the same city, is **local**.

**Confirmed** cases are the ``E -> I`` transitions (onset and confirmation on the same day: ascertainment is
assumed complete under mass testing); deaths and recoveries are the ``I -> D`` and ``I -> R`` transitions, so
cumulative deaths plus recoveries never exceed cumulative confirmed. Hospital and ICU census follow a simple
length-of-stay model (a share of each day's cases is admitted, and each day a geometric share of the patients
leaves). Tests are Poisson: background testing proportional to population (more after the lockdown) plus a
number per new case (contact testing).

Randomness: per purpose (``transmission``, ``importation``, ``clinical``, ``testing``) and per day, one
generator spawned from ``SeedSequence(seed)`` (see :func:`accord.demo.country.stream`), so the days before a
change (say, of the lockdown date) are identical and changing the clinical model leaves transmission alone.

Pure: no database, web or CLI code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from accord.demo.country import seed_sequence
from accord.errors import AccordError, Problem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: The (indicator, disaggregation) series of the truth frame, in the order the frame lists them.
SERIES: Final[tuple[tuple[str, str], ...]] = (
    ("new_confirmed", ""),
    ("new_confirmed", "imported"),
    ("new_confirmed", "local"),
    ("new_deaths", ""),
    ("new_recovered", ""),
    ("new_tests", ""),
    ("hospitalised", ""),
    ("icu_occupied", ""),
)
TRUTH_COLUMNS: Final = ("jurisdiction", "date", "indicator", "disaggregation", "value")
DEFAULT_START: Final = dt.date(2026, 1, 6)

_KM_PER_DEG_LAT: Final = 110.57
_KM_PER_DEG_LON_EQUATOR: Final = 111.32


@dataclass(frozen=True, slots=True)
class OutbreakParams:
    """Everything about the outbreak except the headline ``r0`` and ``lockdown_day``."""

    latent_days: float = 3.0
    infectious_days: float = 5.0
    #: deaths among those leaving ``I``
    cfr: float = 0.025
    #: share of contacts made away from the home community
    mobility: float = 0.25
    #: of the contacts away from home: share within the own city, and to other cities of the province; the
    #: rest goes to other provinces
    within_city: float = 0.8
    within_province: float = 0.15
    #: lockdown: relative drop of transmission, of travel within a city, of travel between cities
    lockdown_effect: float = 0.8
    lockdown_local_cut: float = 0.6
    travel_cut: float = 0.95
    lockdown_ramp_days: int = 4
    #: seeding: the province (code; ``None``: the most populous), how many communities, exposed in each
    seed_province: str | None = None
    seed_communities: int = 4
    seed_exposed: int = 8
    #: external infected arrivals per day into the capital, before and after the lockdown
    external_rate: float = 2.0
    external_rate_lockdown: float = 0.1
    #: clinical: share of new cases admitted, share of admissions to ICU, mean stays (days)
    hospital_share: float = 0.2
    icu_share: float = 0.25
    ward_stay_days: float = 10.0
    icu_stay_days: float = 14.0
    #: tests: background per 1,000 people a day (times ``1 + lockdown_testing_boost`` in a lockdown), per case
    background_tests_per_1000: float = 0.4
    lockdown_testing_boost: float = 2.0
    tests_per_case: float = 15.0
    #: softening distances (km) of the gravity weights, between communities and to other cities
    community_softening_km: float = 2.0
    city_softening_km: float = 15.0


@dataclass(frozen=True, slots=True)
class Coupling:
    """Who meets whom: the travel structure between communities, fixed over the outbreak."""

    #: (n, n) sparse, row-stochastic over the *other* communities of the same city (zero rows: none)
    within_city: sparse.csr_matrix
    #: (n, C) dense, row-stochastic over the other cities of the same province / of other provinces
    to_province: FloatArray
    to_country: FloatArray
    #: which of the three the community has partners in
    has_city: npt.NDArray[np.bool_]
    has_province: npt.NDArray[np.bool_]
    has_country: npt.NDArray[np.bool_]
    #: city index of each community (into the ``C`` columns)
    city: IntArray


@dataclass(frozen=True, slots=True)
class OutbreakStates:
    """The whole run as arrays. Compartments have ``days + 1`` rows (row ``t``: the state at the start of day
    ``t``; the last row: the end of the run); daily flows and census have ``days`` rows. Columns follow
    ``codes``."""

    codes: tuple[str, ...]
    population: IntArray
    start: dt.date
    S: IntArray
    E_local: IntArray
    E_imported: IntArray
    I: IntArray  # noqa: E741 - the compartment's conventional name
    R: IntArray
    D: IntArray
    #: new exposures (infections) on the day, of them imported
    new_exposed: IntArray
    new_exposed_imported: IntArray
    #: onsets = confirmed cases on the day, by origin
    new_confirmed_local: IntArray
    new_confirmed_imported: IntArray
    new_deaths: IntArray
    new_recovered: IntArray
    new_tests: IntArray
    #: census at the end of the day (hospitalised includes ICU)
    hospitalised: IntArray
    icu_occupied: IntArray

    @property
    def E(self) -> IntArray:
        return self.E_local + self.E_imported

    @property
    def new_confirmed(self) -> IntArray:
        return self.new_confirmed_local + self.new_confirmed_imported

    @property
    def days(self) -> int:
        return int(self.new_exposed.shape[0])

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=t) for t in range(self.days)]


def _communities(places: pd.DataFrame) -> tuple[pd.DataFrame, IntArray, IntArray]:
    """Community rows (in ``places`` order), their city index and each city's province index."""
    comms = places[places["level"] == "community"]
    if comms.empty:
        raise AccordError(
            title="Cannot simulate the outbreak",
            problems=[Problem("the places have no row of level 'community'", field="level")],
        )
    parent = dict(zip(places["code"], places["parent_code"], strict=True))
    city_codes, city = np.unique(comms["parent_code"].to_numpy(dtype=str), return_inverse=True)
    missing = [c for c in city_codes if c not in parent]
    if missing:
        raise AccordError(
            title="Cannot simulate the outbreak",
            problems=[Problem(f"the city '{missing[0]}' of a community is not among the places", "parent_code")],
        )
    _, province = np.unique(np.array([parent[c] for c in city_codes], dtype=str), return_inverse=True)
    return comms, city.astype(np.int64), province.astype(np.int64)


def _km(lon_a: FloatArray, lat_a: FloatArray, lon_b: FloatArray, lat_b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Equirectangular east and north offsets in km (broadcasting)."""
    mid = np.deg2rad((lat_a + lat_b) / 2)
    return (lon_a - lon_b) * _KM_PER_DEG_LON_EQUATOR * np.cos(mid), (lat_a - lat_b) * _KM_PER_DEG_LAT


def _row_normalise(weights: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    totals = weights.sum(axis=1)
    has = totals > 0
    out = np.divide(weights, totals[:, None], out=np.zeros_like(weights), where=has[:, None])
    return out, has


def travel_coupling(
    lon: FloatArray,
    lat: FloatArray,
    population: IntArray,
    city: IntArray,
    city_province: IntArray,
    params: OutbreakParams | None = None,
) -> Coupling:
    """The gravity coupling of communities: weights ``~ pop_i * pop_j / (dist**2 + softening**2)``.

    ``city`` gives each community's city index, ``city_province`` each city's province index.
    """
    p = params or OutbreakParams()
    n = len(population)
    pop = population.astype(np.float64)
    n_cities = int(city.max()) + 1 if n else 0

    # within the city: every ordered pair of distinct communities of the same city, without a loop
    order = np.argsort(city, kind="stable")
    sizes = np.bincount(city, minlength=n_cities)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    per_row = sizes[city]
    rows = np.repeat(np.arange(n), per_row)
    offset = np.arange(int(per_row.sum())) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    cols = order[starts[city[rows]] + offset]
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    dx, dy = _km(lon[rows], lat[rows], lon[cols], lat[cols])
    w = pop[rows] * pop[cols] / (dx**2 + dy**2 + p.community_softening_km**2)
    row_tot = np.bincount(rows, weights=w, minlength=n)
    has_city = row_tot > 0
    w = w / row_tot[rows]
    within = sparse.csr_matrix((w, (rows, cols)), shape=(n, n))

    # between cities: to each other city as a whole, at its population-weighted centre
    city_pop = np.bincount(city, weights=pop, minlength=n_cities)
    safe = np.where(city_pop > 0, city_pop, 1.0)
    c_lon = np.bincount(city, weights=pop * lon, minlength=n_cities) / safe
    c_lat = np.bincount(city, weights=pop * lat, minlength=n_cities) / safe
    dx2, dy2 = _km(lon[:, None], lat[:, None], c_lon[None, :], c_lat[None, :])
    g = pop[:, None] * city_pop[None, :] / (dx2**2 + dy2**2 + p.city_softening_km**2)
    g[np.arange(n), city] = 0.0
    same_province = city_province[city][:, None] == city_province[None, :]
    to_province, has_province = _row_normalise(np.where(same_province, g, 0.0))
    to_country, has_country = _row_normalise(np.where(same_province, 0.0, g))
    return Coupling(within, to_province, to_country, has_city, has_province, has_country, city)


def _ramp(day: int, lockdown_day: int | None, ramp_days: int) -> float:
    """0 before the lockdown, rising linearly to 1 over ``ramp_days`` from ``lockdown_day``."""
    if lockdown_day is None or day < lockdown_day:
        return 0.0
    return float(min(1.0, (day - lockdown_day + 1) / max(1, ramp_days)))


def _daily_generators(seed: int, purpose: str, days: int) -> list[np.random.Generator]:
    return [np.random.Generator(np.random.PCG64(s)) for s in seed_sequence(seed, purpose).spawn(days)]


def _seed_places(
    comms: pd.DataFrame, city: IntArray, province: IntArray, params: OutbreakParams
) -> tuple[IntArray, FloatArray]:
    """The capital's communities (indices into ``comms``) and their population weights."""
    pop = comms["population"].to_numpy(dtype=np.float64)
    comm_province = province[city]
    prov_pop = np.bincount(comm_province, weights=pop)
    if params.seed_province is None:
        target = int(np.argmax(prov_pop))
    else:
        codes = comms["parent_code"].to_numpy(dtype=str)
        hits = np.flatnonzero(np.char.startswith(codes, params.seed_province + "-"))
        if hits.size == 0:
            raise AccordError(
                title="Cannot simulate the outbreak",
                problems=[Problem(f"no community lies in province '{params.seed_province}'", "seed_province")],
            )
        target = int(comm_province[hits[0]])
    in_province = comm_province == target
    city_pop = np.bincount(city, weights=np.where(in_province, pop, 0.0))
    capital = int(np.argmax(city_pop))
    members = np.flatnonzero(city == capital).astype(np.int64)
    weights = pop[members]
    total = weights.sum()
    return members, (weights / total if total > 0 else np.full(len(members), 1 / len(members)))


def simulate_states(
    places: pd.DataFrame,
    days: int = 120,
    seed: int = 7,
    r0: float = 2.6,
    lockdown_day: int | None = 30,
    params: OutbreakParams | None = None,
    start: dt.date = DEFAULT_START,
) -> OutbreakStates:
    """Run the outbreak over the communities of ``places`` (a frame as from ``generate_country``)."""
    p = params or OutbreakParams()
    if days < 1:
        raise AccordError(
            title="Cannot simulate the outbreak", problems=[Problem("days must be at least 1", field="days")]
        )
    comms, city, province = _communities(places)
    n = len(comms)
    N = comms["population"].to_numpy(dtype=np.int64)
    coupling = travel_coupling(
        comms["lon"].to_numpy(dtype=np.float64),
        comms["lat"].to_numpy(dtype=np.float64),
        N,
        city,
        province,
        p,
    )
    inv_n = np.divide(1.0, N, out=np.zeros(n), where=N > 0)
    city_n = np.bincount(city, weights=N.astype(np.float64))
    inv_city_n = np.divide(1.0, city_n, out=np.zeros_like(city_n), where=city_n > 0)
    away_city = p.mobility * p.within_city * coupling.has_city
    away_prov = p.mobility * p.within_province * coupling.has_province
    away_far = p.mobility * max(0.0, 1.0 - p.within_city - p.within_province) * coupling.has_country
    beta0 = r0 / p.infectious_days
    p_onset = 1.0 - np.exp(-1.0 / p.latent_days)
    p_leave = 1.0 - np.exp(-1.0 / p.infectious_days)
    p_ward_out = 1.0 - np.exp(-1.0 / p.ward_stay_days)
    p_icu_out = 1.0 - np.exp(-1.0 / p.icu_stay_days)

    shape_state, shape_flow = (days + 1, n), (days, n)
    S, EL, EM, I, R, D = (np.zeros(shape_state, np.int64) for _ in range(6))  # noqa: E741
    new_exp, new_exp_imp, conf_loc, conf_imp, deaths, recov, tests, hosp, icu = (
        np.zeros(shape_flow, np.int64) for _ in range(9)
    )

    # seeding (the importation stream's first draws)
    members, member_w = _seed_places(comms, city, province, p)
    imp_rng = np.random.Generator(np.random.PCG64(seed_sequence(seed, "importation")))
    k = min(p.seed_communities, len(members))
    seeded = imp_rng.choice(members, size=k, replace=False, p=member_w) if k else members[:0]
    EM[0, seeded] = np.minimum(p.seed_exposed, N[seeded])
    S[0] = N - EM[0]

    rng_tr = _daily_generators(seed, "transmission", days)
    rng_im = _daily_generators(seed, "importation", days)
    rng_cl = _daily_generators(seed, "clinical", days)
    rng_te = _daily_generators(seed, "testing", days)
    ward = np.zeros(n, np.int64)
    care = np.zeros(n, np.int64)
    for t in range(days):
        g = _ramp(t, lockdown_day, p.lockdown_ramp_days)
        s, el, em, i = S[t], EL[t], EM[t], I[t]
        prev = i * inv_n
        city_prev = np.bincount(city, weights=i.astype(np.float64), minlength=len(city_n)) * inv_city_n
        w_city = away_city * (1.0 - p.lockdown_local_cut * g)
        travel = 1.0 - p.travel_cut * g
        # prevalence met: at home, in the own city (local), in other cities (imported)
        w_prov, w_far = away_prov * travel, away_far * travel
        at_home = np.clip(1.0 - w_city - w_prov - w_far, 0.0, 1.0)
        local = at_home * prev + w_city * (coupling.within_city @ prev)
        outside = w_prov * (coupling.to_province @ city_prev) + w_far * (coupling.to_country @ city_prev)
        met = local + outside
        force = beta0 * (1.0 - p.lockdown_effect * g) * met
        share_out = np.divide(outside, met, out=np.zeros(n), where=met > 0)

        r = rng_tr[t]
        exposed = r.binomial(s, -np.expm1(-force))
        exposed_imp = r.binomial(exposed, np.clip(share_out, 0.0, 1.0))
        onset_l = r.binomial(el, p_onset)
        onset_m = r.binomial(em, p_onset)
        leaving = r.binomial(i, p_leave)
        died = r.binomial(leaving, p.cfr)

        # external arrivals into the capital's communities, as imported exposures
        rate = p.external_rate + (p.external_rate_lockdown - p.external_rate) * g
        arrivals = np.zeros(n, np.int64)
        if rate > 0 and len(members):
            arrivals[members] = rng_im[t].multinomial(rng_im[t].poisson(rate), member_w)
        arrivals = np.minimum(arrivals, s - exposed)

        S[t + 1] = s - exposed - arrivals
        EL[t + 1] = el + (exposed - exposed_imp) - onset_l
        EM[t + 1] = em + exposed_imp + arrivals - onset_m
        I[t + 1] = i + onset_l + onset_m - leaving
        R[t + 1] = R[t] + leaving - died
        D[t + 1] = D[t] + died
        new_exp[t] = exposed + arrivals
        new_exp_imp[t] = exposed_imp + arrivals
        conf_loc[t], conf_imp[t] = onset_l, onset_m
        deaths[t], recov[t] = died, leaving - died

        # hospital census: admissions from today's cases, geometric stays
        c = rng_cl[t]
        admitted = c.binomial(onset_l + onset_m, p.hospital_share)
        to_icu = c.binomial(admitted, p.icu_share)
        ward = ward - c.binomial(ward, p_ward_out) + (admitted - to_icu)
        care = care - c.binomial(care, p_icu_out) + to_icu
        hosp[t], icu[t] = ward + care, care

        expected_tests = p.background_tests_per_1000 / 1000.0 * N * (
            1.0 + p.lockdown_testing_boost * g
        ) + p.tests_per_case * (onset_l + onset_m)
        tests[t] = rng_te[t].poisson(expected_tests)

    return OutbreakStates(
        codes=tuple(comms["code"].astype(str)),
        population=N,
        start=start,
        S=S,
        E_local=EL,
        E_imported=EM,
        I=I,
        R=R,
        D=D,
        new_exposed=new_exp,
        new_exposed_imported=new_exp_imp,
        new_confirmed_local=conf_loc,
        new_confirmed_imported=conf_imp,
        new_deaths=deaths,
        new_recovered=recov,
        new_tests=tests,
        hospitalised=hosp,
        icu_occupied=icu,
    )


def states_to_frame(states: OutbreakStates) -> pd.DataFrame:
    """The long truth frame of a run: one row per community, day and ``SERIES`` entry, in that order.

    Columns ``TRUTH_COLUMNS``: ``jurisdiction`` (str), ``date`` (``datetime.date``), ``indicator``,
    ``disaggregation`` (``''`` for the total, ``imported`` / ``local`` for the parts of new_confirmed),
    ``value`` (float64 holding integers).
    """
    series = {
        ("new_confirmed", ""): states.new_confirmed,
        ("new_confirmed", "imported"): states.new_confirmed_imported,
        ("new_confirmed", "local"): states.new_confirmed_local,
        ("new_deaths", ""): states.new_deaths,
        ("new_recovered", ""): states.new_recovered,
        ("new_tests", ""): states.new_tests,
        ("hospitalised", ""): states.hospitalised,
        ("icu_occupied", ""): states.icu_occupied,
    }
    days, n, k = states.days, len(states.codes), len(SERIES)
    # (n, days, k): community-major, then day, then series
    values = np.stack([series[key].T for key in SERIES], axis=-1).astype(np.float64).ravel()
    dates = np.empty(days, dtype=object)
    dates[:] = states.dates()
    codes = np.empty(n, dtype=object)
    codes[:] = states.codes
    indicators = np.empty(k, dtype=object)
    indicators[:] = [code for code, _ in SERIES]
    parts = np.empty(k, dtype=object)
    parts[:] = [part for _, part in SERIES]
    return pd.DataFrame(
        {
            "jurisdiction": np.repeat(codes, days * k),
            "date": np.tile(np.repeat(dates, k), n),
            "indicator": np.tile(indicators, n * days),
            "disaggregation": np.tile(parts, n * days),
            "value": values,
        },
        columns=list(TRUTH_COLUMNS),
    )


def simulate_outbreak(
    places: pd.DataFrame,
    days: int = 120,
    seed: int = 7,
    start: dt.date = DEFAULT_START,
    r0: float = 2.6,
    lockdown_day: int | None = 30,
    params: OutbreakParams | None = None,
) -> pd.DataFrame:
    """The TRUE daily values for the communities of ``places``, as a long frame (see ``states_to_frame``).

    Day ``t`` of the run is ``start + t days``. ``lockdown_day=None`` runs without a lockdown.
    """
    states = simulate_states(places, days=days, seed=seed, r0=r0, lockdown_day=lockdown_day, params=params, start=start)
    return states_to_frame(states)


def daily_truth_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """Country-wide daily sums of a truth frame: index ``date``, one column per series, named
    ``indicator`` or ``indicator_part`` (``new_confirmed_imported``, ``new_confirmed_local``)."""
    key = frame["indicator"].where(frame["disaggregation"] == "", frame["indicator"] + "_" + frame["disaggregation"])
    wide = frame.groupby([frame["date"], key.rename("series")])["value"].sum().unstack("series", fill_value=0)
    wanted = [code if part == "" else f"{code}_{part}" for code, part in SERIES]
    ordered = [c for c in wanted if c in wide.columns] + [c for c in wide.columns if c not in wanted]
    wide = wide[ordered]
    wide.columns.name = None
    return wide
