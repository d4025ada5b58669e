"""Scenario grids for any jurisdiction of the store: its units as a regions table (population, infected
now, ICU beds), the measures the registry has in force there as every scenario's background, and the grid run
in this process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy.orm import Session

from accord.errors import AccordError, Problem
from accord.policy import effects
from accord.policy.scenarios import runs as sc
from accord.policy.scenarios.regions import build_setting

#: share of infections confirmed (see accord.analytics.capacity), and the days of cases counted as active
STORE_REPORTING = 0.3
ACTIVE_DAYS = 14
MAX_GRID = 60
MAX_DAYS = 365


@dataclass(frozen=True, eq=False)
class StoreGrid:
    root_code: str
    root_name: str
    regions: pd.DataFrame
    start: str
    days: int
    outcomes: list[sc.Outcome]
    records: list[dict[str, object]]
    #: units with measures in force from the registry (the background of every scenario)
    units_with_measures: int = 0


def regions_from_store(
    session: Session, root_code: str, level: str | None, view: str = "public"
) -> tuple[Any, pd.DataFrame, str]:
    """The units under ``root_code`` as a regions table: population, infected now (confirmed cases of the last
    14 days / 0.3) and ICU beds (latest ``icu_capacity``; empty where not reported)."""
    from accord.analytics import service as analytics
    from accord.surveillance import service as surveillance

    root, units = analytics.units_under(session, root_code, level)
    units = [u for u in units if (u.population or 0) > 0]
    if not units:
        raise AccordError(
            "no units", [Problem(f"{root_code} has no units with a population", field="jurisdiction")], 404
        )
    codes = [u.code for u in units]
    kwargs = {"max_distance": 1} if level is None else {}
    frame = surveillance.figures_at_level(session, root.code, level, ["new_confirmed", "icu_capacity"], None, None,
                                          view, **kwargs)  # fmt: skip
    frame = frame[frame["jurisdiction"].isin(codes) & (frame["disaggregation"] == "")]
    start = pd.Timestamp(max(frame["date"])) if len(frame) else pd.Timestamp.today().normalize()
    cases = frame[
        (frame["indicator"] == "new_confirmed")
        & (pd.to_datetime(frame["date"]) > start - pd.Timedelta(days=ACTIVE_DAYS))
    ]
    confirmed = cases.groupby("jurisdiction")["value"].sum().reindex(codes).fillna(0.0)
    icu = frame[frame["indicator"] == "icu_capacity"].sort_values("date").groupby("jurisdiction").tail(1)
    pop = np.array([float(u.population or 0) for u in units])
    table = pd.DataFrame({
        "code": codes, "name": [u.name for u in units], "population": pop,
        "infected": np.minimum(np.round(confirmed.to_numpy() / STORE_REPORTING), pop),
        "icu_beds": icu.set_index("jurisdiction")["value"].reindex(codes).to_numpy(dtype=float),
    })  # fmt: skip
    return root, table, start.date().isoformat()


def store_grid(
    session: Session,
    root_code: str,
    *,
    level: str | None = None,
    days: int = 180,
    timings: Sequence[int] = (0, 14, 28),
    intensities: Sequence[str] = ("distancing", "partial lockdown", "full lockdown"),
    durations: Sequence[int | None] = (30, 60, 90),
    relax_rt: float | None = None,
    health: str = "deaths",
    view: str = "public",
) -> StoreGrid:
    """A scenario grid (plus the no-new-measures baseline) for the units under a jurisdiction, in this process."""
    problems = []
    if not 1 <= days <= MAX_DAYS:
        problems.append(Problem(f"the horizon is 1 to {MAX_DAYS} days, not {days}", field="days"))
    if len(timings) * len(intensities) * len(durations) > MAX_GRID:
        problems.append(Problem(f"at most {MAX_GRID} scenarios in one grid", field="grid"))
    if health not in sc.HEALTH_METRICS:
        problems.append(Problem(f"unknown health metric '{health}'", field="health"))
    if problems:
        raise AccordError("invalid scenario grid", problems, status=400)
    root, table, start = regions_from_store(session, root_code, level, view)
    first = dt.date.fromisoformat(start) + dt.timedelta(days=1)
    levels, general = registry_levels(session, table["code"].tolist(), first, days)
    setting = build_setting(table, days)
    setting = dataclasses.replace(setting, background=levels, background_general=general)
    try:
        scenarios = [sc.baseline(), *sc.grid(timings, intensities, durations, relax_rt=relax_rt)]
        for s in scenarios:
            s.check(days, setting.model.regions)
    except ValueError as exc:
        raise AccordError("invalid scenario grid", [Problem(str(exc))], status=400) from None
    outcomes = sc.run_grid(setting, scenarios)
    in_force = int((levels > 0).any(axis=(0, 2)).sum())
    return StoreGrid(root.code, root.name, table, start, days, outcomes, sc.frontier_records(outcomes, health),
                     in_force)  # fmt: skip


def registry_levels(
    session: Session, codes: list[str], first: dt.date, days: int
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Levels (days x regions x indicators) and general flags of the measures the registry has in force at each
    place (directives down the tree included), from ``first`` for ``days`` days: the background a scenario adds to."""
    from accord.policy import in_force as measures_in_force

    levels = np.zeros((days, len(codes), len(effects.INDICATORS)), dtype=np.int64)
    general = np.ones(levels.shape, dtype=bool)
    last = first + dt.timedelta(days=days - 1)
    for k, code in enumerate(codes):
        lv, fl = measures_in_force.levels_over_time(session, code, first, last)
        for ind in lv.columns:
            if ind in effects.MAX_LEVEL:
                j = effects.INDICATORS.index(ind)
                levels[:, k, j] = lv[ind].to_numpy(dtype=np.int64)
                general[:, k, j] = fl[ind].to_numpy() != 0
    return levels, general
