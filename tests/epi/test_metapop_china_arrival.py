"""Validation on real data: seeding Wuhan (Hubei) in December 2019 and coupling the 31 mainland provinces by Baidu's
Wuhan outflow (Kraemer et al., Science 2020), the model orders the provinces' first reported cases (canghailan)
better than a model without mobility data.

Set-up (one region per province, deterministic model):

- population: 2017 provincial populations (Kraemer et al.'s ``china_population.txt``), China's age structure (UN
  WPP, epydemix data) in 16 bands; contacts: Prem et al. 2021 China matrices by setting; COVID-19 defaults.
- mobility: residents of Hubei spend a share ``f * pct_j / 100`` of their time in province ``j``, ``pct_j`` being
  Baidu's mean share of Wuhan's outbound travellers going to ``j`` over 1-22 January 2020; the share follows Baidu's
  daily Wuhan outflow index (its maximum = 1), which falls after the 23 January cordon; ``f`` = 2% (about 1.2
  million of Hubei's 59 million away at the peak of the Spring Festival travel, the order of the ~5 million who
  left Wuhan, most of them within Hubei); other provinces' residents stay home (no data).
- seeding: 40 infections in Hubei on 1 December 2019; from 23 January contacts in Hubei are cut by 70% outside
  homes.
- a province's *arrival* day is the first day when the expected cumulative symptomatic onsets *present* there
  (onsets of residents of ``i`` apportioned by the share of time they spend in ``j``, ``sum_i M_ij onsets_i``,
  since travellers were reported where they fell ill) reach 1.

Compared with each province's first day with a confirmed case (30 provinces besides Hubei) by Spearman rank
correlation. Baselines: no mobility at all (the virus never leaves Hubei: no ordering, correlation 0), and the
same total outflow spread in proportion to destination population instead of Baidu's shares.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from accord.epi import metapop as mp
from accord.epi import params

START = pd.Timestamp("2019-12-01")
END = pd.Timestamp("2020-02-15")
SETTINGS = ("home", "school", "work", "community")

pytestmark = pytest.mark.shared_data


def load(data_dir: Path) -> dict:
    kraemer = data_dir / "china-mobility-kraemer2020"
    contacts = data_dir / "population-contacts-epydemix"
    cases = data_dir / "china-covid19-canghailan" / "china_covid19_daily_dec2019_apr2020.csv"
    for path in (kraemer, contacts, cases):
        if not path.exists():
            pytest.skip(f"{path} is not present")
    names = pd.read_csv(kraemer / "region_translation.csv")
    names = names[~names.province.isin(["Hong Kong", "Macao", "Taiwan"])].reset_index(drop=True)
    pop = pd.read_csv(kraemer / "china_population.txt", sep="\t").set_index("Province")["2017"]
    population = pop.reindex(names.province).to_numpy(dtype=float)
    ages = pd.read_csv(contacts / "age_distributions_all_locations_long.csv")
    single = ages[ages.location == "China"].population.to_numpy(dtype=float)
    share = np.add.reduceat(single, np.arange(0, 80, 5))
    share /= share.sum()
    prem = pd.read_csv(contacts / "contact_matrices_prem_2021_all_settings.csv")
    china = prem[prem.location == "China"]
    mats = np.stack([china[china.setting == s].iloc[:, 3:].to_numpy(dtype=float) for s in SETTINGS])
    flows = pd.read_csv(kraemer / "human_mobility_from_wuhan.csv", parse_dates=["date"])
    pre = flows[flows.date <= "2020-01-22"].groupby("province").percentage.mean()
    pct = pre.reindex(names.province).fillna(0.0).to_numpy()
    index = pd.read_csv(kraemer / "migration_scale_from_wuhan.csv", parse_dates=["date"]).set_index("date").scale
    index = index[index.index >= "2020-01-01"]
    days = pd.date_range(START, END - pd.Timedelta(days=1))
    daily = index.reindex(days).bfill().ffill().to_numpy()
    observed = pd.read_csv(cases, usecols=["date", "countryCode", "province", "city", "confirmed"])
    prov = observed[(observed.countryCode == "CN") & observed.province.notna() & observed.city.isna()]
    first = prov[prov.confirmed > 0].groupby("province").date.min()
    first_day = (pd.to_datetime(first.reindex(names.ADM1_ZH)) - START).dt.days.to_numpy()
    return {
        "names": names.province.tolist(),
        "population": np.round(population[:, None] * share),
        "contacts": mats,
        "pct": pct,
        "outflow": daily / daily.max(),
        "observed": first_day,
        "days": len(days),
    }


def arrival_days(d: dict, shares: np.ndarray | None, f: float = 0.02) -> np.ndarray:
    """Model arrival day per province (inf where never) with Hubei's residents spending ``f * shares`` away."""
    hubei = d["names"].index("Hubei")
    n = len(d["names"])
    p = params.covid19()
    pop = d["population"]
    beta = mp.beta_for_r0(p, d["contacts"], pop.sum(axis=0), params.R0)
    mobility = np.eye(n)
    if shares is not None:
        away = np.where(np.arange(n) == hubei, 0.0, shares / shares[np.arange(n) != hubei].sum())
        mobility[hubei] = f * away
        mobility[hubei, hubei] = 1 - f
    model = mp.Metapop(p, pop, d["contacts"], beta, mobility=mobility)
    seed = np.zeros_like(pop)
    seed[hubei, 5:12] = 40 / 7
    days = d["days"]
    lockdown = (START + pd.to_timedelta(np.arange(days), "D")) >= "2020-01-23"
    kappa = np.ones((days, n, 4))
    kappa[lockdown, hubei, 1:] = 0.3
    mob = np.ones((days, n))
    mob[:, hubei] = d["outflow"]
    traj = mp.simulate_deterministic(model, mp.initial_state(pop, seed), days, contact_scale=kappa, mobility_scale=mob)
    # onsets present in each province: residents of Hubei counted where they spend their time
    m_t = np.broadcast_to(mobility, (days, n, n)).copy()
    m_t[:, hubei, :] *= mob[:, hubei, None]
    m_t[:, hubei, hubei] = 1 - m_t[:, hubei, :].sum(axis=1) + m_t[:, hubei, hubei]
    present = np.einsum("tij,ti->tj", m_t, traj.onsets)
    cum = np.cumsum(present, axis=0)
    reached = cum[-1] >= 1
    return np.where(reached, np.argmax(cum >= 1, axis=0), np.inf)


def rank_correlation(model_days: np.ndarray, observed: np.ndarray, names: list[str]) -> float:
    others = np.array([n != "Hubei" for n in names])
    m, o = model_days[others], observed[others]
    if np.all(m == m[0]):
        return 0.0  # no ordering at all
    m = np.where(np.isinf(m), 10**6, m)
    return float(stats.spearmanr(m, o).statistic)


def test_baidu_mobility_orders_province_arrivals(data_dir: Path) -> None:
    d = load(data_dir)
    names = d["names"]
    pop_share = d["population"].sum(axis=1)
    baidu = arrival_days(d, d["pct"])
    rho_baidu = rank_correlation(baidu, d["observed"], names)
    rho_none = rank_correlation(arrival_days(d, None), d["observed"], names)
    rho_pop = rank_correlation(arrival_days(d, pop_share), d["observed"], names)
    sensitivity = {f: rank_correlation(arrival_days(d, d["pct"], f), d["observed"], names) for f in (0.005, 0.05)}
    order = np.argsort(baidu)
    print(
        f"\nSpearman rho, model arrival vs first reported case, 30 provinces: Baidu mobility {rho_baidu:.3f}; "
        f"population-proportional travel {rho_pop:.3f}; no mobility {rho_none:.3f}; "
        f"Baidu with f=0.5% {sensitivity[0.005]:.3f}, f=5% {sensitivity[0.05]:.3f}"
    )
    print("model arrival order:", ", ".join(f"{names[i]} ({START + pd.Timedelta(days=baidu[i]):%m-%d})"
                                              for i in order if np.isfinite(baidu[i])))  # fmt: skip
    assert np.all(np.isfinite(baidu))  # every province is reached by mid-February
    assert rho_baidu > rho_none
    assert rho_baidu > rho_pop
    assert rho_baidu > 0.3
