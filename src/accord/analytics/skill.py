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
from accord.epi import params, renewal, scoring, serial_interval

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


# ------------------------------------------------------------------------------ scored weekly forecasts
#: serial interval of the weekly forecasts (days; China 2020, as the report of issue #22 uses)
FORECAST_SI = (6.48, 3.83)
HORIZONS = 4
#: the origins of the reference backtests (Saturdays): China from the third week of JHU's series (it starts on 22
#: January 2020) to the last with four weeks of outcomes in April; the US states from April to the end of 2020
BACKTEST_SPANS = {"china": ("2020-02-08", "2020-04-04"), "us": ("2020-04-04", "2020-11-28")}
#: importations reach reports this long after travel, on average (gamma, days): infection before travel,
#: the rest of the incubation period, onset to report
IMPORT_DELAY = (10.0, 5.0)
US_EXCLUDED = (
    "American Samoa", "Guam", "Northern Mariana Islands", "Puerto Rico", "Virgin Islands", "Diamond Princess",
    "Grand Princess",
)  # fmt: skip
CHINA_EXCLUDED_JHU = ("Hong Kong", "Macau", "Unknown")


@dataclass(frozen=True)
class CaseSeries:
    """Daily reported cases (days x regions, negative corrections set to 0) of a set of regions, with the
    Hub's location code of each (US: the state's FIPS code; China: the province's English name)."""

    name: str
    dates: pd.DatetimeIndex
    regions: list[str]
    locations: list[str]
    daily: np.ndarray
    #: importation covariate (days x regions) for coupled fits, or None
    travel: np.ndarray | None = None
    source: int | None = None  # the region the importations come from


def _jhu_daily(wide: pd.DataFrame) -> tuple[pd.DatetimeIndex, np.ndarray]:
    dates = pd.to_datetime(wide.columns, format="%m/%d/%y")
    cumulative = wide.to_numpy(dtype=float).T  # days x regions
    daily = np.diff(cumulative, axis=0, prepend=0.0)
    return pd.DatetimeIndex(dates), np.clip(daily, 0.0, None)


def jhu_china(data_dir: Path) -> CaseSeries:
    """China's 31 mainland provinces from JHU CSSE's global time series, with the Wuhan travel covariate of
    Kraemer et al. (Baidu) for importations from Hubei."""
    raw = pd.read_csv(data_dir / "jhu-csse-covid19-timeseries" / "time_series_covid19_confirmed_global.csv")
    china = raw[(raw["Country/Region"] == "China") & ~raw["Province/State"].isin(CHINA_EXCLUDED_JHU)]
    china = china.set_index("Province/State").sort_index()
    wide = china.drop(columns=["Country/Region", "Lat", "Long"])
    dates, daily = _jhu_daily(wide)
    regions = list(wide.index)
    travel = _wuhan_travel(data_dir, dates, regions)
    return CaseSeries("China provinces 2020", dates, regions, regions, daily, travel, regions.index("Hubei"))


def jhu_us_states(data_dir: Path) -> CaseSeries:
    """The 50 states and DC from JHU CSSE's US county time series (counties summed, "Unassigned" and "Out of"
    rows included: they are the state's cases too), located by the state's FIPS code."""
    folder = data_dir / "jhu-csse-covid19-timeseries"
    raw = pd.read_csv(folder / "time_series_covid19_confirmed_US.csv")
    raw = raw[~raw["Province_State"].isin(US_EXCLUDED)]
    day_columns = [c for c in raw.columns if c[0].isdigit()]
    wide = raw.groupby("Province_State")[day_columns].sum().sort_index()
    dates, daily = _jhu_daily(wide)
    lookup = pd.read_csv(folder / "UID_ISO_FIPS_LookUp_Table.csv", dtype={"FIPS": str})
    states = lookup[(lookup["iso2"] == "US") & lookup["Admin2"].isna() & lookup["Province_State"].notna()]
    fips = states.drop_duplicates("Province_State").set_index("Province_State")["FIPS"]
    locations = [str(fips.get(r, "")).split(".")[0].zfill(2) for r in wide.index]
    return CaseSeries("US states 2020", dates, list(wide.index), locations, daily)


def _wuhan_travel(data_dir: Path, dates: pd.DatetimeIndex, regions: list[str]) -> np.ndarray:
    """Travellers out of Wuhan per day and province (Baidu migration scale x share; days x regions, 0 outside
    the data and for Hubei itself)."""
    path = data_dir / "china-mobility-kraemer2020" / "human_mobility_from_wuhan.csv"
    flows = pd.read_csv(path, parse_dates=["date"])
    wide = flows.pivot_table(index="date", columns="province", values="scale", aggfunc="sum")
    wide = wide.reindex(index=dates, columns=regions).fillna(0.0)
    wide["Hubei"] = 0.0
    return wide.to_numpy(dtype=float)


def importation_covariate(series: CaseSeries, origin: int) -> np.ndarray:
    """Cases each province can expect from Wuhan travel, up to a scale the fit finds (days x regions, through the
    forecast horizon): travellers leaving on day s (Baidu) times the source's cases reported around s + 10 (its
    prevalence then; never read past the origin), spread over the travel-to-report delay (gamma
    :data:`IMPORT_DELAY`)."""
    if series.travel is None or series.source is None:
        return np.zeros_like(series.daily)
    src = series.daily[: origin + 1, series.source]
    week = np.convolve(src, np.ones(7), mode="full")[: src.size]  # trailing 7-day sums up to the origin
    lead = np.minimum(np.arange(series.daily.shape[0]) + int(IMPORT_DELAY[0]), origin)
    prevalence = week[lead]
    delay = cal.gamma_delay(*IMPORT_DELAY, max_days=40)
    exported = series.travel * prevalence[:, None]
    return cal.delayed(exported, delay)


@dataclass(frozen=True)
class Backtest:
    """Every forecast of a rolling backtest: one row per origin, region and horizon with the outcome, both
    models' 23 quantiles (``ours`` and ``baseline``, rows x 23) and their scores."""

    series: str
    rows: pd.DataFrame
    ours: np.ndarray
    baseline: np.ndarray
    seconds: float


def saturdays(series: CaseSeries, first: str, last: str) -> list[int]:
    """Day indices of the Saturdays from ``first`` to ``last`` with four whole weeks of outcomes after them."""
    days = pd.date_range(first, last, freq="W-SAT")
    index = {d: i for i, d in enumerate(series.dates)}
    return [index[d] for d in days if d in index and index[d] + 7 * HORIZONS < len(series.dates)]


def rolling_backtest(
    series: CaseSeries,
    origins: list[int],
    *,
    regions: list[str] | None = None,
    members: int = 400,
    seed: int = 2020,
    coupled: bool = True,
    window: int = 7,
    calibrate: bool = True,
) -> Backtest:
    """At every origin (a day index: the last day of data used) forecast the weekly counts 1..4 weeks ahead with
    the renewal model (:func:`accord.epi.renewal.rolling`: data up to the origin only; importations from the
    series' source when ``coupled``) and score them beside the Hub baseline fitted on the same data. Regions
    without enough data for a forecast are kept with ``supported`` False; weeks beyond the data have no truth."""
    t0 = time.perf_counter()
    pick = [series.regions.index(r) for r in regions] if regions else list(range(len(series.regions)))
    sub = series.daily[:, pick]
    covariate = None
    if coupled and series.travel is not None:

        def covariate(origin: int) -> np.ndarray:
            return importation_covariate(series, origin)[:, pick]

    result = renewal.rolling(
        sub, origins, serial_interval.discretise_gamma(*FORECAST_SI), horizons=HORIZONS, window=window,
        members=members, seed=seed, importation=covariate, calibrate=calibrate,
    )  # fmt: skip
    return backtest_of(series.name, [series.dates[o] for o in origins],
                       [series.regions[i] for i in pick], [series.locations[i] for i in pick], result,
                       time.perf_counter() - t0)  # fmt: skip


def backtest_of(
    name: str, origin_dates: list[pd.Timestamp], regions: list[str], locations: list[str], result: renewal.Rolling,
    seconds: float = 0.0,
) -> Backtest:  # fmt: skip
    """The rows (one per origin, horizon and region) of rolling forecasts, with their scores."""
    n, horizons, count = result.truth.shape
    grid = np.meshgrid(np.arange(n), np.arange(horizons), np.arange(count), indexing="ij")
    origin_i, h_i, r_i = (axis.ravel() for axis in grid)
    dates = pd.DatetimeIndex(origin_dates)
    rows = pd.DataFrame(
        {
            "origin": dates[origin_i],
            "region": np.asarray(regions, dtype=object)[r_i],
            "location": np.asarray(locations, dtype=object)[r_i],
            "horizon": h_i + 1,
            "target_end_date": dates[origin_i] + pd.to_timedelta(7 * (h_i + 1), unit="D"),
            "truth": result.truth[origin_i, h_i, r_i],
            "last_week": result.last_week[origin_i, r_i],
            "supported": result.supported[origin_i, r_i],
            "r": np.array([f.r_mean for f in result.fits])[origin_i, r_i] if n else np.zeros(0),
        }
    )
    ours = result.quantiles[origin_i, h_i, r_i]
    base = result.baseline[origin_i, h_i, r_i]
    y = rows["truth"].to_numpy(dtype=float)
    rows["wis"] = scoring.wis(ours, y)
    rows["wis_baseline"] = scoring.wis(base, y)
    known = np.isfinite(y)
    for level, tag in ((0.5, "50"), (0.95, "95")):
        rows[f"cover{tag}"] = np.where(known, scoring.covered(ours, y, level), np.nan)
        rows[f"cover{tag}_baseline"] = np.where(known, scoring.covered(base, y, level), np.nan)
    return Backtest(name, rows, ours, base, seconds)


def score_table(backtest: Backtest) -> pd.DataFrame:
    """Per horizon (and all together): forecasts made and not made, mean WIS of ours and of the baseline, relative
    WIS (ours / baseline) and the 50% and 95% coverage of both, over the forecasts made."""
    rows = backtest.rows
    out = []
    scored = rows[np.isfinite(rows["truth"].to_numpy(dtype=float))]
    for label, part in [*((str(h), scored[scored["horizon"] == h]) for h in range(1, HORIZONS + 1)), ("all", scored)]:
        made = part[part["supported"]]
        out.append(
            {
                "series": backtest.series,
                "horizon": label,
                "forecasts": len(made),
                "no_forecast": int((~part["supported"]).sum()),
                "wis": made["wis"].mean(),
                "wis_baseline": made["wis_baseline"].mean(),
                "relative_wis": made["wis"].mean() / made["wis_baseline"].mean(),
                "cover50": made["cover50"].mean(),
                "cover95": made["cover95"].mean(),
                "cover50_baseline": made["cover50_baseline"].mean(),
                "cover95_baseline": made["cover95_baseline"].mean(),
            }
        )
    return pd.DataFrame(out)


def hub_csv(backtest: Backtest, *, supported_only: bool = True) -> pd.DataFrame:
    """Our forecasts in the Forecast Hub's CSV layout: ``forecast_date, target, target_end_date, location, type,
    quantile, value`` (a ``point`` row, the median, and 23 ``quantile`` rows per forecast). The forecast date is
    the Monday after the origin (a Saturday, the end of the last epiweek used)."""
    rows = backtest.rows
    keep = rows["supported"].to_numpy() if supported_only else np.ones(len(rows), dtype=bool)
    sub, q = rows[keep], backtest.ours[keep]
    targets = scoring.hub_targets(HORIZONS)
    base = pd.DataFrame(
        {
            "forecast_date": (sub["origin"] + pd.Timedelta(days=2)).dt.strftime("%Y-%m-%d"),
            "target": [targets[h - 1] for h in sub["horizon"]],
            "target_end_date": sub["target_end_date"].dt.strftime("%Y-%m-%d"),
            "location": sub["location"],
        }
    )
    point = base.assign(type="point", quantile=np.nan, value=q[:, scoring.MEDIAN])
    quantile_rows = [
        base.assign(type="quantile", quantile=level, value=q[:, j]) for j, level in enumerate(scoring.HUB_QUANTILES)
    ]
    return pd.concat([point, *quantile_rows], ignore_index=True).sort_values(
        ["forecast_date", "location", "target", "type", "quantile"], kind="stable", ignore_index=True
    )
