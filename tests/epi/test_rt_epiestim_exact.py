"""Exact agreement with EpiEstim's definition of the Cori posterior, in every window of a long series.

The reference below restates EpiEstim's ``estimate_R`` (method ``parametric_si``) term by term, with loops:
``si_distr <- discr_si(0:(T - 1), mean_si, std_si)`` (the closed form, not renormalised, nothing cut),
``overall_infectivity`` (``lambda[t] = sum(si_distr[1:t] * I[t:1])``), the first day's local cases counted as
imported, sliding windows ``t_start = 2:(T - tau + 1)``, the posterior shape ``a_prior + sum(local)`` and scale
``1 / (1 / b_prior + sum(lambda))`` over each window, and windows reported once ``t_end > mean(si_distr)``.

The series has an early peak of thousands of cases a day and a long tail of a few cases a day (as China's
provinces in spring 2020), and the serial interval is long-tailed (6.48 +- 3.83 days): in the last windows most
of the infection pressure comes from the peak, weeks earlier, through the far tail of the serial interval.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from accord.epi import rt
from accord.epi import serial_interval as si

SI_MEAN, SI_SD = 6.48, 3.83
WINDOW = 7
RTOL = 1e-10


def epiestim_discr_si(k: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    a = ((mu - 1) / sigma) ** 2
    b = sigma**2 / (mu - 1)

    def cdf(x: np.ndarray, shape: float) -> np.ndarray:
        return stats.gamma.cdf(x, shape, scale=b)

    res = k * cdf(k, a) + (k - 2) * cdf(k - 2, a) - 2 * (k - 1) * cdf(k - 1, a)
    res = res + a * b * (2 * cdf(k - 1, a + 1) - cdf(k - 2, a + 1) - cdf(k, a + 1))
    return np.maximum(0.0, res)


def epiestim_estimate_r(local: np.ndarray, imported: np.ndarray, tau: int, prior=(5.0, 5.0)) -> dict[int, dict]:
    """EpiEstim's posterior per window, keyed by ``t_end`` as a 0-based day index."""
    local, imported = local.astype(float).copy(), imported.astype(float).copy()
    imported[0] += local[0]  # process_I: the first time step's cases are all imported
    local[0] = 0.0
    T = local.size
    si_distr = epiestim_discr_si(np.arange(T, dtype=float), SI_MEAN, SI_SD)
    total = local + imported
    lam = np.full(T + 1, np.nan)  # 1-based as in R
    for t in range(2, T + 1):
        lam[t] = sum(si_distr[s] * total[t - 1 - s] for s in range(t))
    a_prior = (prior[0] / prior[1]) ** 2
    b_prior = prior[1] ** 2 / prior[0]
    final_mean_si = float(np.sum(si_distr * np.arange(T)))
    out = {}
    for t_start in range(2, T - tau + 2):
        t_end = t_start + tau - 1
        if not t_end > final_mean_si:
            continue
        a = a_prior + sum(local[t - 1] for t in range(t_start, t_end + 1))
        b = 1 / (1 / b_prior + sum(lam[t] for t in range(t_start, t_end + 1)))
        out[t_end - 1] = {
            "mean": a * b,
            "sd": np.sqrt(a) * b,
            "lower": stats.gamma.ppf(0.025, a, scale=b),
            "upper": stats.gamma.ppf(0.975, a, scale=b),
        }
    return out


def early_peak_long_tail(days: int = 150, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    wave = 3000 * np.exp(-(((t - 25) / 7) ** 2)) + 2500 * np.exp(-(((t - 32) / 12) ** 2)) + 0.6
    local = rng.poisson(wave).astype(float)
    imported = rng.poisson(0.4 + 30 * np.exp(-(((t - 20) / 6) ** 2))).astype(float)
    return local, imported


def test_every_window_agrees_with_epiestim_to_1e_10_including_the_last() -> None:
    local, imported = early_peak_long_tail()
    theirs = epiestim_estimate_r(local, imported, WINDOW)
    ours = rt.estimate_rt(local, si.discretise_gamma(SI_MEAN, SI_SD), imported=imported, window=WINDOW)
    days = sorted(theirs)
    assert days[-1] == local.size - 1  # the last window is compared
    # the late windows hold a few cases against a peak of thousands: the test is where a cut tail would show
    assert local[-30:].max() <= 10 and local.max() >= 3000
    for column in ("mean", "sd", "lower", "upper"):
        expected = np.array([theirs[d][column] for d in days])
        got = getattr(ours, column)[days]
        worst = np.max(np.abs(got / expected - 1))
        assert worst <= RTOL, f"{column}: relative difference {worst:.2e} from EpiEstim"


def test_windows_before_epiestims_first_are_the_only_extra_ones() -> None:
    local, imported = early_peak_long_tail(days=60)
    theirs = epiestim_estimate_r(local, imported, WINDOW)
    ours = rt.estimate_rt(local, si.discretise_gamma(SI_MEAN, SI_SD), imported=imported, window=WINDOW)
    estimated = set(np.flatnonzero(~np.isnan(ours.mean)).tolist())
    # EpiEstim leaves out windows ending before the mean serial interval; we estimate them too (and warn)
    assert set(theirs) <= estimated
    assert min(estimated) == WINDOW


@pytest.mark.parametrize(("mean", "sd"), [(SI_MEAN, SI_SD), (7.5, 3.4), (2.6, 1.5), (4.0, 9.0)])
def test_discretisation_is_epiestims_and_exactly_zero_after_its_end(mean: float, sd: float) -> None:
    w = si.discretise_gamma(mean, sd)
    longer = epiestim_discr_si(np.arange(w.size + 400, dtype=float), mean, sd)
    # EpiEstim's values (renormalised by a sum that differs from 1 by the closed form's round-off only) ...
    np.testing.assert_allclose(w[1:], longer[1 : w.size], rtol=1e-10, atol=0)
    assert w[0] == 0.0
    # ... and nothing left out: EpiEstim's formula is exactly 0 on every later day
    assert np.all(longer[w.size :] == 0.0)
    # the kernel preserves the mean; the closed form's round-off (about k ulps on day k) is all that moves it
    assert si.mean_sd(w)[0] == pytest.approx(mean, rel=1e-8)


@pytest.mark.shared_data
def test_chinese_provinces_to_the_end_of_april_agree_with_epiestim(data_dir: Path) -> None:
    """The case of the report: 7-day windows on every province's daily confirmed cases, January-April 2020,
    where the late windows hold a handful of cases weeks after a peak."""
    path = data_dir / "china-covid19-canghailan" / "china_covid19_daily_dec2019_apr2020.csv"
    frame = pd.read_csv(path, dtype=str, usecols=["date", "provinceCode", "city", "confirmed"])
    frame = frame[frame.provinceCode.notna() & frame.city.isna() & (frame.date >= "2020-01-10")]
    wide = frame.assign(confirmed=frame.confirmed.astype(int)).pivot_table(
        index="provinceCode", columns="date", values="confirmed", aggfunc="max"
    )
    wide = wide.ffill(axis=1).fillna(0)
    # revisions downwards would give negative days: the running minimum from the future, as a report would
    cumulative = np.minimum.accumulate(wide.to_numpy()[:, ::-1], axis=1)[:, ::-1]
    daily = np.diff(cumulative, axis=1)
    ours = rt.estimate_rt(daily, si.discretise_gamma(SI_MEAN, SI_SD), window=WINDOW)
    worst = 0.0
    for i in range(daily.shape[0]):
        theirs = epiestim_estimate_r(daily[i], np.zeros_like(daily[i]), WINDOW)
        days = sorted(theirs)
        expected = np.array([theirs[d]["mean"] for d in days])
        worst = max(worst, float(np.max(np.abs(ours.mean[i, days] / expected - 1))))
    assert daily.shape == (wide.shape[0], wide.shape[1] - 1) and daily.shape[0] >= 31
    assert worst <= RTOL, f"relative difference {worst:.2e} from EpiEstim"


@pytest.mark.parametrize("regions", [1, 2, 64, 65, 129])
def test_a_region_gets_the_same_bits_alone_or_among_others(regions: int) -> None:
    """The pressure is summed as matrix products in chunks of regions: whatever the chunking (a lone last
    region included), each region's figures are those it gets on its own."""
    rng = np.random.default_rng(regions)
    cases = rng.poisson(rng.uniform(1, 300, size=(regions, 1)), size=(regions, 90)).astype(float)
    w = si.discretise_gamma(SI_MEAN, SI_SD)
    together = rt.estimate_rt(cases, w, window=WINDOW)
    for i in sorted({0, regions - 1}):
        alone = rt.estimate_rt(cases[i], w, window=WINDOW)
        np.testing.assert_array_equal(together.pressure_in_window[i], alone.pressure_in_window)
        np.testing.assert_array_equal(together.mean[i], alone.mean)
