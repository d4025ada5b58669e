"""Hubei, December 2019 - January 2020 (canghailan's daily cumulative counts, province 420000), serial interval
7.5 +- 3.4 days as Li et al. (NEJM 2020), who report R0 2.2 (95% CI 1.4-3.9).

The series up to 2020-01-02 holds the 41 lab-confirmed cases of Huang et al. (Lancet 2020) by onset date, the
period Li et al. analysed; from 2020-01-03 it holds report dates: nothing reported until 2020-01-16, then a
surge as test kits arrived, so report-date Rt in mid-late January measures the ramp-up of ascertainment (it is
reported here, not compared).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from accord.epi import rt
from accord.epi import serial_interval as si

pytestmark = pytest.mark.shared_data


def hubei_daily(data_dir: Path) -> pd.Series:
    path = data_dir / "china-covid19-canghailan" / "china_covid19_daily_dec2019_apr2020.csv"
    frame = pd.read_csv(path, dtype=str, usecols=["date", "provinceCode", "city", "confirmed"])
    province = frame[(frame.provinceCode == "420000") & frame.city.isna()]
    cumulative = province.assign(confirmed=province.confirmed.astype(int)).groupby("date").confirmed.max()
    # the 2020-01-03 revision (44 -> 41) would give a negative day: take the running minimum from the future
    cumulative = cumulative[::-1].cummin()[::-1]
    daily = cumulative.diff().fillna(cumulative.iloc[0])
    daily.index = pd.to_datetime(daily.index)
    return daily.loc[:"2020-01-31"]


def test_early_hubei_rt_is_consistent_with_li_et_al(data_dir: Path) -> None:
    daily = hubei_daily(data_dir)
    est = rt.estimate_rt(daily.to_numpy(), si.discretise_gamma(7.5, 3.4), window=7)
    table = pd.DataFrame(
        {"mean": est.mean, "lower": est.lower, "upper": est.upper, "warning": est.warning}, index=daily.index
    )
    december = table.loc["2019-12-01":"2019-12-31"]
    reliable = december[~december.warning]
    print("\nHubei, 7-day windows ending in December 2019 with >= 12 cases:\n", reliable.round(2).to_string())
    print("report-date estimates, windows ending 2020-01-17..31:\n", table.loc["2020-01-17":].round(2).to_string())
    assert len(reliable) >= 5
    # the mean of the reliable early estimates lies within Li et al.'s 95% CI for R0
    assert 1.4 <= reliable["mean"].mean() <= 3.9
    # and their credible intervals overlap Li et al.'s at every window
    assert (reliable["lower"] <= 3.9).all() and (reliable["upper"] >= 1.4).all()
