"""Hospital demand from the model against capacity from the store, for every unit under a jurisdiction at once.

For each unit (the children of a jurisdiction, or every unit at ``level``):

- **capacity**: the latest reported point-in-time figures ``beds_capacity``, ``icu_capacity`` and
  ``ventilators_capacity`` (FHIR SANER's bed-capacity measures) up to ``end``; missing = unknown, never "zero";
- **current state**: people infected now = confirmed cases of the last 14 days / ``reporting`` (share of infections
  confirmed, default 0.3 of symptomatic cases ~ 0.13 of infections after Hao et al., Nature 2020), split over the
  latent, presymptomatic and symptomatic stages in proportion to their mean durations; patients in hospital now =
  the latest reported ``hospitalised`` (ward) and ``icu_occupied`` (ICU);
- **transmission**: each unit's latest Rt (Cori et al., :func:`accord.analytics.service.regional_rt`) where it can
  be estimated, else ``r_default``; contacts are scaled by ``Rt / R0`` (R is linear in contacts at full
  susceptibility);
- **model**: the metapopulation model of :mod:`accord.epi.metapop` (deterministic, one age group, units coupled by
  5% of their time spent in the others in proportion to population, as
  :func:`accord.policy.scenarios.regions.build_setting`)
  over ``horizon`` days; census of general beds (ward), ICU beds and ventilators (2/3 of ICU admissions, 10-day stay:
  CHIME's defaults) by :func:`accord.epi.hospital.model_demand`; "capacity exceeded in N days" by
  :func:`accord.epi.hospital.exceedance` (0 = today's census is already over).

Pure functions the resources capability can call without a session: :func:`accord.epi.hospital.model_demand`,
:func:`accord.epi.hospital.exceedance`, :func:`accord.epi.hospital.chime`. With a session: :func:`capacity_outlook`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from accord.analytics import service as analytics
from accord.epi import hospital, params
from accord.epi import metapop as mp
from accord.errors import AccordError, Problem
from accord.places.model import Jurisdiction
from accord.surveillance import service as surveillance

FloatArray = NDArray[np.float64]

CAPACITY_INDICATORS = ("beds_capacity", "icu_capacity", "ventilators_capacity")
STATE_INDICATORS = ("new_confirmed", "hospitalised", "icu_occupied")
HORIZON = 60
MAX_HORIZON = 365
REPORTING = 0.3
R_DEFAULT = 1.0
ACTIVE_DAYS = 14
COLUMNS = [
    "jurisdiction", "jurisdiction_name", "level", "population", "date", "rt", "rt_source", "infected_now",
    "beds_capacity", "beds_peak", "beds_days_to_capacity", "beds_date_exceeded",
    "icu_capacity", "icu_peak", "icu_days_to_capacity", "icu_date_exceeded",
    "ventilators_capacity", "ventilators_peak", "ventilators_days_to_capacity", "ventilators_date_exceeded",
]  # fmt: skip


@dataclass(frozen=True, eq=False)
class CapacityOutlook:
    root: Jurisdiction
    units: list[Jurisdiction]
    start: dt.date
    horizon: int
    #: modelled census, units x days (day 0 = the day after ``start``)
    beds: FloatArray
    icu: FloatArray
    ventilators: FloatArray
    table: pd.DataFrame
    notes: list[str]

    def meta(self) -> dict[str, object]:
        return {"jurisdiction": self.root.code, "start": self.start.isoformat(), "horizon": self.horizon,
                "notes": self.notes}  # fmt: skip


def check(horizon: int, reporting: float, r_default: float) -> None:
    problems = []
    if not 1 <= horizon <= MAX_HORIZON:
        problems.append(Problem(f"the horizon is 1 to {MAX_HORIZON} days, not {horizon}", field="horizon"))
    if not 0 < reporting <= 1:
        problems.append(Problem(f"the reporting fraction lies in (0, 1], not {reporting}", field="reporting"))
    if not 0 <= r_default <= 20:
        problems.append(Problem(f"the default Rt lies between 0 and 20, not {r_default}", field="r_default"))
    if problems:
        raise AccordError("invalid parameters", problems, status=400)


def _latest(frame: pd.DataFrame, codes: list[str], indicator: str) -> tuple[FloatArray, pd.Series]:
    part = frame[(frame["indicator"] == indicator) & (frame["disaggregation"] == "")].sort_values("date")
    last = part.groupby("jurisdiction").tail(1).set_index("jurisdiction")
    return last["value"].reindex(codes).to_numpy(dtype=np.float64), last["date"].reindex(codes)


def capacity_outlook(
    session: Session,
    root_code: str,
    *,
    level: str | None = None,
    horizon: int = HORIZON,
    reporting: float = REPORTING,
    r_default: float = R_DEFAULT,
    view: str = "public",
    end: dt.date | None = None,
) -> CapacityOutlook:
    """Model census of every unit under ``root_code`` against its stored capacity (see the module docstring)."""
    check(horizon, reporting, r_default)
    root, units = analytics.units_under(session, root_code, level)
    if not units:
        raise AccordError("no units", [Problem(f"{root_code} has no units to model", field="jurisdiction")], 404)
    codes = [u.code for u in units]
    wanted = [*STATE_INDICATORS, *CAPACITY_INDICATORS]
    kwargs = {"max_distance": 1} if level is None else {}
    frame = surveillance.figures_at_level(session, root.code, level, wanted, None, end, view, **kwargs)
    frame = frame[frame["jurisdiction"].isin(codes)]
    start = max(frame["date"]) if len(frame) else (end or dt.date.today())
    start = start.date() if isinstance(start, pd.Timestamp) else start
    cases = frame[(frame["indicator"] == "new_confirmed") & (frame["disaggregation"] == "")]
    recent = cases[pd.to_datetime(cases["date"]) > pd.Timestamp(start) - pd.Timedelta(days=ACTIVE_DAYS)]
    confirmed = recent.groupby("jurisdiction")["value"].sum().reindex(codes).fillna(0.0).to_numpy(dtype=np.float64)
    ward_now, _ = _latest(frame, codes, "hospitalised")
    icu_now, _ = _latest(frame, codes, "icu_occupied")
    capacity = {k: _latest(frame, codes, k)[0] for k in CAPACITY_INDICATORS}
    rts, source = _current_rt(session, root.code, level, codes, view, end, r_default)
    population = np.array([float(u.population or 0) for u in units])
    notes = [
        f"model census from {start.isoformat()}: infected now = confirmed cases of the last {ACTIVE_DAYS} days / "
        f"{reporting:g}; transmission from each unit's latest Rt (default {r_default:g} where none)",
        "capacity: latest reported beds_capacity, icu_capacity, ventilators_capacity; empty = not reported",
    ]
    if np.any(population <= 0):
        notes.append("units without a population are left out of the model (no census)")
    beds, icu, vent = _model_census(population, confirmed / reporting, ward_now, icu_now, rts, horizon)
    demand = hospital.Demand(beds, icu, vent)
    report = hospital.exceedance(demand, capacity["beds_capacity"], capacity["icu_capacity"],
                                 capacity["ventilators_capacity"])  # fmt: skip
    table = pd.DataFrame({
        "jurisdiction": codes, "jurisdiction_name": [u.name for u in units], "level": [u.level for u in units],
        "population": population, "date": start, "rt": rts, "rt_source": source,
        "infected_now": np.round(confirmed / reporting),
    })  # fmt: skip
    for name in ("beds", "icu", "ventilators"):
        cap = capacity[f"{name}_capacity"]
        days = np.where(population > 0, report[f"{name}_days_to_capacity"], -1)
        table[f"{name}_capacity"] = cap
        table[f"{name}_peak"] = np.round(report[f"{name}_peak"], 1)
        table[f"{name}_days_to_capacity"] = pd.array([int(d) if d >= 0 else None for d in days], dtype="Int64")
        table[f"{name}_date_exceeded"] = [(start + dt.timedelta(days=int(d) + 1)).isoformat() if d >= 0 else None
                                          for d in days]  # fmt: skip
    return CapacityOutlook(root, units, start, horizon, beds, icu, vent, table[COLUMNS], notes)


def _current_rt(
    session: Session, root: str, level: str | None, codes: list[str], view: str, end: dt.date | None, r_default: float
) -> tuple[FloatArray, list[str]]:
    """Latest Rt mean per unit where the Cori estimate exists, else the default."""
    rts = np.full(len(codes), r_default)
    source = ["default"] * len(codes)
    try:
        est = analytics.regional_rt(session, root, level=level, view=view, end=end)
    except AccordError:
        return rts, source
    means = pd.to_numeric(est.latest().set_index("jurisdiction")["mean"], errors="coerce").reindex(codes)
    known = means.notna().to_numpy()
    rts[known] = means.to_numpy(dtype=np.float64)[known]
    return rts, ["estimated" if k else "default" for k in known]


def _model_census(
    population: FloatArray, infected: FloatArray, ward: FloatArray, icu: FloatArray, rt: FloatArray, horizon: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Deterministic run of every unit with a population; census units x days (NaN rows for the others)."""
    from accord.policy.scenarios.regions import DEFAULT_CONTACTS, population_travel

    n = population.size
    beds = np.full((n, horizon), np.nan)
    icu_c, vent = beds.copy(), beds.copy()
    ok = population > 0
    if not ok.any():
        return beds, icu_c, vent
    prm = params.covid19(bands=(0,))
    contacts = np.asarray(DEFAULT_CONTACTS)[:, None, None]
    pop = population[ok][:, None]
    beta = mp.beta_for_r0(prm, contacts, pop.sum(axis=0), params.R0)
    model = mp.Metapop(prm, pop, contacts, beta, mobility=population_travel(population[ok]))
    state = np.zeros((len(mp.COMPARTMENTS), int(ok.sum()), 1))
    h_now, c_now = np.nan_to_num(ward[ok]), np.nan_to_num(icu[ok])
    inf = np.minimum(infected[ok], np.maximum(pop[:, 0] - h_now - c_now, 0))
    stages = np.array([prm.latent, prm.presymptomatic, prm.symptomatic])
    for comp, share in zip((mp.E, mp.P, mp.I), stages / stages.sum(), strict=True):
        state[comp, :, 0] = inf * share
    state[mp.H, :, 0] = np.maximum(h_now - c_now, 0)  # icu_occupied is part of hospitalised
    state[mp.C, :, 0] = c_now
    state[mp.S, :, 0] = pop[:, 0] - state[1:].sum(axis=0)[:, 0]
    scale = np.broadcast_to((rt[ok] / params.R0)[None, :, None], (horizon, int(ok.sum()), len(DEFAULT_CONTACTS)))
    traj = mp.simulate_deterministic(model, state, horizon, contact_scale=scale, steps_per_day=2)
    demand = hospital.model_demand(traj.ward.T, traj.icu.T, traj.icu_admissions.T)
    beds[ok], icu_c[ok], vent[ok] = demand.general, demand.icu, demand.ventilators
    return beds, icu_c, vent
