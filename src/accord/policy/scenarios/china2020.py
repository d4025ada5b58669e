"""The real China 2020 set-up (provinces, Wuhan, recorded measures, mobility, cases) for the calibration and the Lai
et al. counterfactuals (:mod:`accord.policy.scenarios.calibration`). Pure: files in, arrays out; no database.

China 2020 (:func:`load_china_2020`, files from ``../shared/data``):

- 32 regions: the 31 mainland provinces, with Wuhan taken out of Hubei (the epidemic, and the travellers who carried
  it, came from Wuhan: one well-mixed Hubei of 59 million would export Hubei-average prevalence). 2017 provincial
  populations (Kraemer et al. 2020, ``china_population.txt``), Wuhan's 11.08 million residents (Wuhan statistical
  bureau, 2018) x China's age structure in 16 bands (UN WPP via epydemix data); contacts: Prem et al. 2021 China
  matrices by setting;
- measures: OxCGRT records for China's provinces only the stringency index (daily, per province; Wuhan has
  Hubei's); the indicators are national (legacy panel). Each region's contact scaling is the effect of China's
  national bundle on 29 February 2020 raised to its stringency over the national one that day
  (:func:`accord.policy.effects.from_index`);
- mobility: the Spring Festival exodus. About 5 million people left Wuhan before the cordon of 23 January
  (Wuhan's mayor, 26 January 2020); Baidu's daily Wuhan outflow index (Kraemer et al.) spreads them over 1-23
  January, so one index unit-day is ``5M / sum of the index`` people. Those who left stay away (no return before
  March): the share of Wuhan's residents away on day ``t`` is the cumulative outflow over Wuhan's population, split
  over the destinations (the rest of Hubei included) by Baidu's mean shares for 1-22 January. The outflow Baidu
  records after the cordon counts too (0.49 million people from 24 January to 29 February, the last recorded value,
  5 February, carried on). Without the cordon the outflow keeps its 1-23 January mean until the Spring Festival (25
  January) and never falls below the recorded one; a cordon ``d`` days earlier closes on day ``24 January - d``
  with the recorded post-cordon outflow moved ``d`` days earlier. Other regions' residents stay home (no data). The
  travellers are a share of every Wuhan resident's time, not people who move (the model keeps residents where they
  live): a prototype that moves them fitted the data worse (docs/scenarios.md);
- cases: cumulative confirmed per province and for Wuhan (canghailan; the rest of Hubei = Hubei - Wuhan), counted
  where people were (a traveller's case is reported where they fell ill), fitted from 1 to 29 February 2020.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from accord.epi import metapop as mp
from accord.epi import params
from accord.policy import effects, oxcgrt
from accord.policy.scenarios import calibration
from accord.policy.scenarios.regions import SETTINGS, need_file

FloatArray = NDArray[np.float64]

START = pd.Timestamp("2019-12-01")
END = pd.Timestamp("2020-02-29")
FIT_FROM = pd.Timestamp("2020-02-01")
#: the Wuhan cordon took effect at 10:00 on 23 January; Baidu's index for that day (94% of the peak: many left in
#: the night after the 02:00 announcement) counts as before it, so the first closed day is the 24th
CORDON = pd.Timestamp("2020-01-23")
FIRST_CLOSED_DAY = pd.Timestamp("2020-01-24")
SPRING_FESTIVAL = pd.Timestamp("2020-01-25")


WUHAN = "Wuhan"
WUHAN_CITY_ZH = "武汉市"
#: Wuhan's resident population (Wuhan Municipal Bureau of Statistics, 2018)
WUHAN_POPULATION = 11.08e6
#: people who left Wuhan before the cordon (Wuhan's mayor Zhou Xianwang, press conference of 26 January 2020)
LEFT_WUHAN = 5.0e6
#: onset-to-confirmation delay, days: mean 7, sd 4 (assumption in the range Li et al. NEJM 2020 report for
#: onset-to-visit 4.6-5.8 days plus testing)
DELAY_MEAN = 7.0
DELAY_SD = 4.0
#: the calibration's fixed values: R0 of Li et al. NEJM 2020 (the benchmark's ``--profile`` shows what the data
#: say about it), and the share of symptomatic cases confirmed (Hao et al., Nature 2020: ~87% of infections in
#: Wuhan unascertained, i.e. ~13% of infections or ~30% of symptomatic ones)
R0_FIXED = 2.2
REPORTING = 0.3
#: Lai et al., Nature 2020;585:410: cases by 29 Feb 2020 under the actual measures, without measures (x-fold, IQR),
#: and the reduction with measures 1, 2, 3 weeks earlier
LAI = {
    "actual_cases": 114_325,
    "fold_without": 67.0,
    "fold_iqr": (44.0, 94.0),
    "earlier_reduction": {1: 0.66, 2: 0.86, 3: 0.95},
}


@dataclass(frozen=True, eq=False)
class China2020:
    """The set-up of the module docstring. ``outflow`` / ``baseline_outflow``: Wuhan's daily outflow in people
    (recorded; without the cordon); ``destinations``: shares of Wuhan's travellers by region."""

    names: list[str]
    dates: pd.DatetimeIndex
    population: FloatArray
    contacts: FloatArray
    stringency: FloatArray
    reference_levels: NDArray[np.int64]
    reference_index: float
    destinations: FloatArray
    outflow: FloatArray
    baseline_outflow: FloatArray
    observed: FloatArray
    wuhan: int

    @property
    def most_away(self) -> float:
        """The largest share of Wuhan's residents away in any schedule (the mobility row's scale)."""
        return float(max(self.outflow.sum(), self.baseline_outflow.sum()) / self.population[self.wuhan].sum())

    def mobility(self) -> FloatArray:
        """Row-stochastic share of time: Wuhan's row at its largest away share, other regions at home."""
        n = len(self.names)
        m = np.eye(n)
        m[self.wuhan] = self.most_away * self.destinations
        m[self.wuhan, self.wuhan] = 1.0 - self.most_away
        return m

    def mobility_schedule(self, outflow: FloatArray) -> FloatArray:
        """Days x regions scaling of :meth:`mobility`: Wuhan's residents away (cumulative outflow) over the most."""
        mob = np.ones((len(self.dates), len(self.names)))
        away = np.cumsum(outflow) / self.population[self.wuhan].sum()
        mob[:, self.wuhan] = np.clip(away / self.most_away, 0.0, 1.0)
        return mob

    def earlier_outflow(self, days: int) -> FloatArray:
        """The outflow with the cordon ``days`` earlier: the recorded outflow until then, then the recorded
        outflow after the cordon, moved ``days`` earlier (``days = 0``: the recorded outflow)."""
        closed = int(self.dates.searchsorted(FIRST_CLOSED_DAY))
        if not 0 <= days <= closed:
            raise ValueError(f"a cordon can move 0 to {closed} days earlier, not {days}")
        cut = closed - days
        out = self.baseline_outflow.copy()
        out[cut:] = calibration.shifted(self.outflow, days)[cut:]
        return out

    def fit_data(self, table: effects.EffectTable | None = None, steps_per_day: int = 2) -> calibration.FitData:
        kappa, _ = effects.from_index(self.stringency, self.reference_levels, self.reference_index, table)
        log_kappa, _ = calibration.log_schedule(kappa, np.ones(self.stringency.shape))
        p = params.covid19()
        beta = mp.beta_for_r0(p, self.contacts, self.population.sum(axis=0), params.R0)
        template = mp.Metapop(p, self.population, self.contacts, beta, mobility=self.mobility())
        return calibration.FitData(
            template=template,
            days=len(self.dates),
            log_kappa=log_kappa,
            log_mobility=np.zeros(self.stringency.shape),
            mobility_scale=self.mobility_schedule(self.outflow),
            seed_region=self.wuhan,
            seed_ages=tuple(range(4, 13)),
            observed=self.observed,
            delay=calibration.delay_pmf(DELAY_MEAN, DELAY_SD),
            steps_per_day=steps_per_day,
        )

    def counterfactuals(self, data: calibration.FitData, fitted: calibration.Fit) -> list[calibration.Counterfactual]:
        """Lai et al.'s runs: actual measures, none, and every measure 1, 2, 3 weeks earlier."""
        return calibration.counterfactual_runs(
            data, fitted, self.end_day, self.mobility_schedule(self.baseline_outflow),
            earlier_mobility=lambda days: self.mobility_schedule(self.earlier_outflow(days)),
        )  # fmt: skip

    @property
    def end_day(self) -> int:
        return len(self.dates) - 1


def levels_from_frame(
    long: pd.DataFrame, regions: Sequence[str], dates: Sequence[dt.date]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Daily levels and general flags (days x regions x indicators) from a long OxCGRT frame of
    :func:`accord.policy.oxcgrt.read_oxcgrt`: a region's actual measure history, ready for the model."""
    return effects.levels_from_long(
        long["region"].astype(str).tolist(),
        list(long["date"]),
        long["indicator"].astype(str).tolist(),
        long["level"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan),
        long["flag"].astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan),
        list(regions),
        list(dates),
    )


def _age_shares(contacts_dir: Path) -> FloatArray:
    ages = pd.read_csv(need_file(contacts_dir / "age_distributions_all_locations_long.csv"))
    single = ages[ages.location == "China"].population.to_numpy(dtype=float)
    share = np.add.reduceat(single, np.arange(0, 80, 5))
    return np.asarray(share / share.sum(), dtype=np.float64)


def _wuhan_outflow(
    kraemer: Path, names: list[str], dates: pd.DatetimeIndex
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Wuhan's daily outflow in people (recorded and without the cordon) and its destination shares by region."""
    flows = pd.read_csv(need_file(kraemer / "human_mobility_from_wuhan.csv"), parse_dates=["date"])
    pct = flows[flows.date < CORDON].groupby("province").percentage.mean()
    # Baidu's destination "Hubei" is the rest of Hubei; Wuhan is not a destination of its own travellers
    shares = pct.reindex(names).fillna(0.0).to_numpy(dtype=float)
    table = pd.read_csv(need_file(kraemer / "migration_scale_from_wuhan.csv"), parse_dates=["date"]).set_index("date")
    index = table["scale"][table.index >= pd.Timestamp("2020-01-01")]  # the 2019 rows are another calendar
    daily = index.reindex(dates).ffill().fillna(0.0).to_numpy(dtype=float)  # nothing before 1 January: no exodus
    day = dates.to_numpy()
    open_days = day < FIRST_CLOSED_DAY.to_datetime64()
    before = (day >= np.datetime64("2020-01-01")) & open_days
    people = LEFT_WUHAN / daily[before].sum()
    no_cordon = np.where(day <= SPRING_FESTIVAL.to_datetime64(), daily[before].mean(), 0.0)
    baseline = np.maximum(daily, np.where(open_days, daily, no_cordon))
    return daily * people, baseline * people, shares / shares.sum()


def _confirmed(data: Path, names_zh: dict[str, str], names: list[str], dates: pd.DatetimeIndex) -> FloatArray:
    """Cumulative confirmed per region (days x regions), Hubei without Wuhan; NaN before the fit window."""
    cases = pd.read_csv(need_file(data / "china-covid19-canghailan" / "china_covid19_daily_dec2019_apr2020.csv"),
                        usecols=["date", "countryCode", "province", "city", "confirmed"])  # fmt: skip
    cases = cases[cases.countryCode == "CN"].assign(date=lambda f: pd.to_datetime(f.date))
    pc = cases[cases.province.notna() & cases.city.isna()]
    pc = pc.assign(name=pc.province.map(names_zh)).dropna(subset=["name"])
    wide = pc.pivot_table(index="date", columns="name", values="confirmed", aggfunc="max")
    wide[WUHAN] = cases[cases.city == WUHAN_CITY_ZH].groupby("date").confirmed.max()
    cum = wide.reindex(dates).ffill().fillna(0.0)
    cum["Hubei"] = cum["Hubei"] - cum[WUHAN]
    observed = cum.reindex(columns=names).fillna(0.0).to_numpy(dtype=float, copy=True)
    observed[dates < FIT_FROM] = np.nan
    return observed


def load_china_2020(data: Path) -> China2020:
    """Read the China 2020 set-up from the shared data folder (see the module docstring)."""
    kraemer = data / "china-mobility-kraemer2020"
    contacts_dir = data / "population-contacts-epydemix"
    ox = data / "oxcgrt-policy"
    names_t = pd.read_csv(need_file(kraemer / "region_translation.csv"))
    names_t = names_t[~names_t.province.isin(["Hong Kong", "Macao", "Taiwan"])].reset_index(drop=True)
    provinces = names_t.province.tolist()
    names = [*provinces, WUHAN]
    hubei, wuhan = provinces.index("Hubei"), len(provinces)
    pop = pd.read_csv(need_file(kraemer / "china_population.txt"), sep="\t").set_index("Province")["2017"]
    residents = pop.reindex(provinces).to_numpy(dtype=float)
    residents = np.append(residents, WUHAN_POPULATION)
    residents[hubei] -= WUHAN_POPULATION
    population = np.round(residents[:, None] * _age_shares(contacts_dir))
    prem = pd.read_csv(need_file(contacts_dir / "contact_matrices_prem_2021_all_settings.csv"))
    china = prem[prem.location == "China"]
    mats = np.stack([china[china.setting == s].iloc[:, 3:].to_numpy(dtype=float) for s in SETTINGS])
    dates = pd.date_range(START, END)

    # measures: provincial stringency (NaN before the series starts -> 0; Wuhan has Hubei's), national reference
    index = oxcgrt.read_index_timeseries(need_file(ox / "OxCGRT_timeseries_StringencyIndex_v1.csv"))
    chn = index[index.country == "CHN"]
    prov = chn[chn.region.str.startswith("CHN_")].assign(date=lambda f: pd.to_datetime(f.date))
    wide_si = prov.pivot_table(index="date", columns="region_name", values="value").reindex(dates)
    wide_si[WUHAN] = wide_si["Hubei"]
    stringency = wide_si.reindex(columns=names).fillna(0.0).to_numpy(dtype=float)
    national = chn[chn.region == "CHN"].assign(date=lambda f: pd.to_datetime(f.date)).set_index("date").value
    levels = oxcgrt.read_oxcgrt(need_file(ox / "oxcgrt_legacy_national_daily_2020_long.csv"))
    ref = levels[(levels.region == "CHN") & (pd.to_datetime(levels.date) == END)]
    ref = ref[ref["level"].notna() & ref["indicator"].isin(list(effects.MAX_LEVEL))]
    reference = effects.bundle(
        dict(zip(ref["indicator"].astype(str), ref["level"].astype(int).tolist(), strict=True)),
    )
    outflow, baseline, destinations = _wuhan_outflow(kraemer, names, dates)
    zh = dict(zip(names_t.ADM1_ZH, names_t.province, strict=True))
    return China2020(
        names=names,
        dates=dates,
        population=population,
        contacts=mats,
        stringency=stringency,
        reference_levels=reference,
        reference_index=float(national.get(END, np.nan)),
        destinations=destinations,
        outflow=outflow,
        baseline_outflow=baseline,
        observed=_confirmed(data, zh, names, dates),
        wuhan=wuhan,
    )
