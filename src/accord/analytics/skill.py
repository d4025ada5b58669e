"""Forecast skill on real data: fit the China provinces up to a cut-off date, forecast 14 days, and score the
forecast by the mean absolute scaled error (MASE) against naive forecasts. Used by ``tests/epi/test_forecast_skill.py``
and ``benchmarks/forecast_skill.py``; reads the shared data layout (canghailan cumulative counts, Kraemer et al.'s
province populations, epydemix's age structure and Prem et al. 2021 contact matrices).

Set-up (see docs/epi.md, "Forecast skill"): one region per mainland province, uncoupled, 16 age bands, China's age
structure and contact matrices, COVID-19 defaults; seeding on 2019-12-15; the reproduction number changes on
2020-01-23 (Wuhan's cordon and, within two days, first-level emergency responses in every province); reported
cases = a share of onsets delayed by a gamma onset-to-report distribution of mean 5 and sd 3 days (an assumption);
a further change factor over the last :data:`RECENT_DAYS` days before the cut-off (when they start after 23
January), so the reproduction number a forecast continues with is measured on recent data; observations
from 2020-01-20 (when every province reported daily) to the cut-off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from accord.epi import calibrate as cal
from accord.epi import forecast as fc
from accord.epi import params

SEED_DATE = pd.Timestamp("2020-01-01")
CHANGE_DATE = pd.Timestamp("2020-01-23")
OBSERVED_FROM = pd.Timestamp("2020-01-20")
RECENT_DAYS = 14
SETTINGS = ("home", "school", "work", "community")
EXCLUDED = ("Hong Kong", "Macao", "Taiwan")


@dataclass(frozen=True)
class ChinaInputs:
    provinces: list[str]  # English names
    daily: pd.DataFrame  # dates x provinces: new confirmed (from cumulative; negative steps clipped to 0)
    population: np.ndarray  # provinces x 16 ages
    contacts: np.ndarray  # 4 settings x 16 x 16


def china_inputs(data_dir: Path) -> ChinaInputs:
    kraemer = data_dir / "china-mobility-kraemer2020"
    contacts = data_dir / "population-contacts-epydemix"
    cases = data_dir / "china-covid19-canghailan" / "china_covid19_daily_dec2019_apr2020.csv"
    names = pd.read_csv(kraemer / "region_translation.csv")
    names = names[~names.province.isin(EXCLUDED)].reset_index(drop=True)
    pop = pd.read_csv(kraemer / "china_population.txt", sep="\t").set_index("Province")["2017"]
    ages = pd.read_csv(contacts / "age_distributions_all_locations_long.csv")
    single = ages[ages.location == "China"].population.to_numpy(dtype=float)
    share = np.add.reduceat(single, np.arange(0, 80, 5))
    share /= share.sum()
    prem = pd.read_csv(contacts / "contact_matrices_prem_2021_all_settings.csv")
    china = prem[prem.location == "China"]
    mats = np.stack([china[china.setting == s].iloc[:, 3:].to_numpy(dtype=float) for s in SETTINGS])
    raw = pd.read_csv(cases, usecols=["date", "countryCode", "province", "city", "confirmed"])
    prov = raw[(raw.countryCode == "CN") & raw.province.notna() & raw.city.isna()]
    cum = prov.pivot_table(index="date", columns="province", values="confirmed", aggfunc="max")
    cum.index = pd.to_datetime(cum.index)
    days = pd.date_range(SEED_DATE, cum.index.max())
    cum = cum.reindex(days).ffill().fillna(0.0)[names.ADM1_ZH.tolist()]
    daily = cum.diff().fillna(cum.iloc[:1]).clip(lower=0.0)
    daily.columns = names.province.tolist()
    population = np.round(pop.reindex(names.province).to_numpy(dtype=float)[:, None] * share)
    return ChinaInputs(names.province.tolist(), daily, population, mats)


def setup_until(inputs: ChinaInputs, cutoff: pd.Timestamp) -> tuple[cal.FitSetup, np.ndarray]:
    """The calibration set-up and observations (days x provinces) up to and including ``cutoff``."""
    days = (cutoff - SEED_DATE).days + 1
    change_day = (CHANGE_DATE - SEED_DATE).days
    recent_day = days - RECENT_DAYS if days - RECENT_DAYS > change_day else None
    setup = cal.FitSetup(
        params=params.covid19(),
        population=inputs.population,
        contacts=inputs.contacts,
        days=days,
        observed_from=(OBSERVED_FROM - SEED_DATE).days,
        change_day=change_day,
        recent_day=recent_day,
        report_delay=cal.gamma_delay(5.0, 3.0),
    )
    observed = inputs.daily.loc[OBSERVED_FROM:cutoff].to_numpy(dtype=float)
    return setup, observed


@dataclass(frozen=True)
class Skill:
    table: pd.DataFrame  # one row per province
    fit_seconds: float
    ensemble_seconds: float
    fit: cal.Fit
    ensemble: fc.Ensemble


def forecast_skill(
    inputs: ChinaInputs,
    cutoff: pd.Timestamp,
    *,
    horizon: int = 14,
    members: int = 100,
    seed: int = 2020,
    pool: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    fixed: dict[str, float] | None = None,
) -> Skill:
    """Fit every province up to ``cutoff``, forecast ``horizon`` days (ensemble median) and score it."""
    setup, observed = setup_until(inputs, cutoff)
    t0 = time.perf_counter()
    fit = cal.fit(setup, observed, fixed=fixed)
    t1 = time.perf_counter()
    spec = fc.spec_from_fit(fit, horizon, seed)
    ens = fc.run_ensemble(spec, members, pool=pool, progress=progress)
    t2 = time.perf_counter()
    future = pd.date_range(cutoff + pd.Timedelta(days=1), periods=horizon)
    actual = inputs.daily.reindex(future).to_numpy(dtype=float)
    ours = ens.median("reported")
    naive = fc.persistence(observed, horizon)
    mean7 = np.repeat(np.nanmean(observed[-7:], axis=0, keepdims=True), horizon, axis=0)
    q = ens.quantiles("reported")
    inside = ((actual >= q[0]) & (actual <= q[-1])).mean(axis=0)
    table = pd.DataFrame(
        {
            "province": inputs.provinces,
            "cases_train": np.nansum(observed, axis=0),
            "cases_horizon": actual.sum(axis=0),
            "r0": fit.parameter("r0"),
            "r_after": fit.r_after,
            "rho": fit.parameter("rho"),
            "mase_model": fc.mase(actual, ours, observed),
            "mase_persistence": fc.mase(actual, naive, observed),
            "mase_mean7": fc.mase(actual, mean7, observed),
            "coverage95": inside,
        }
    )
    return Skill(table, t1 - t0, t2 - t1, fit, ens)
