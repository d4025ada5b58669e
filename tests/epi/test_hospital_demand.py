"""Hospital census from admissions: a hand-computed case, a length-of-stay distribution, days to capacity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from accord.epi import hospital


def test_fixed_stay_by_hand() -> None:
    admissions = np.array([[10.0, 20, 0, 5, 0, 0], [1, 1, 1, 1, 1, 1]])
    d = hospital.demand(admissions, icu_share=np.array([0.1, 0.5]), vent_share=0.0, los_general=3, los_icu=2)
    # region 0, stay 3: day t holds admissions of t-2..t
    np.testing.assert_allclose(d.general[0], [10, 30, 30, 25, 5, 5])
    np.testing.assert_allclose(d.general[1], [1, 2, 3, 3, 3, 3])
    # ICU: 10% of region 0's admissions staying 2 days; 50% of region 1's
    np.testing.assert_allclose(d.icu[0], [1, 3, 2, 0.5, 0.5, 0])
    np.testing.assert_allclose(d.icu[1], [0.5, 1, 1, 1, 1, 1])
    assert not d.ventilators.any()
    np.testing.assert_array_equal(hospital.days_to_capacity(d.general, [25, 10]), [1, -1])
    np.testing.assert_array_equal(hospital.days_to_capacity(d.general, [5, 0.5]), [0, 0])


def test_length_of_stay_distribution() -> None:
    # half stay 1 day, half 3 days: one admission leaves 1, 0.5, 0.5 occupied on days 0, 1, 2
    occ = hospital.census([4.0, 0, 0, 0], [0, 0.5, 0, 0.5])
    np.testing.assert_allclose(occ, [4, 2, 2, 0])
    with pytest.raises(ValueError, match="day 0"):
        hospital.census([1.0], [0.5, 0.5])


@settings(max_examples=50, deadline=None)
@given(
    adm=hnp.arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(5, 40)), elements=st.integers(0, 100)),
    los=st.integers(1, 12),
)
def test_bed_days_equal_admissions_times_stay(adm: np.ndarray, los: int) -> None:
    # with the series padded by `los` empty days, every admission's stay fits: bed-days = admissions x stay
    padded = np.pad(adm, ((0, 0), (0, los)))
    occ = hospital.census(padded, los)
    np.testing.assert_allclose(occ.sum(axis=1), adm.sum(axis=1) * los)
    assert np.all(occ >= 0)


# ------------------------------------------------------------------------------------------------------ CHIME
def _chime_example(**changes: object) -> hospital.ChimeInputs:
    base = dict(population=np.array([3_600_000.0]), current_hospitalized=np.array([69.0]),
                doubling_time=np.array([4.0]), relative_contact_rate=np.array([0.3]), n_days=100)  # fmt: skip
    base.update(changes)
    return hospital.ChimeInputs(**base)  # type: ignore[arg-type]


def test_chime_worked_example_matches_the_package() -> None:
    # CHIME's default inputs (population 3.6 M, 69 in hospital, doubling time 4 days, 30% contact reduction,
    # market share 15%, rates 2.5/0.75/0.5%, stays 7/9/10 days). Expected values: penn-chime 0.0.3 (v1.1.3) run on
    # these inputs by benchmarks/hospital_vs_chime.py's interpreter; the benchmark checks 3,000 regions the same way.
    res = hospital.chime(_chime_example())
    assert res.i_day[0] == 25
    expected = {  # day index: (hospitalized, icu, ventilated)
        1: (0.2606356864312922, 0.0781907059293877, 0.05212713728625845),
        10: (5.473689094749471, 1.845663091822494, 1.2825691985012544),
        25: (72.99689849294394, 24.62887295839396, 17.11889915047901),
        55: (1098.6193663172633, 395.2797584322406, 282.76294688062234),
        125: (98.00681566985259, 40.418114558511206, 30.978263934213373),
    }
    for day, values in expected.items():
        got = (res.hospitalized[0, day], res.icu[0, day], res.ventilated[0, day])
        np.testing.assert_allclose(got, values, rtol=1e-12)
    assert res.hospitalized.shape[1] == 126
    assert int(np.nanargmax(res.hospitalized[0])) == 71


def test_chime_fast_search_equals_the_exhaustive_one() -> None:
    rng = np.random.default_rng(3)
    n = 40
    inputs = _chime_example(
        population=np.round(rng.uniform(5e4, 5e6, n)), current_hospitalized=np.round(rng.uniform(1, 300, n)),
        doubling_time=rng.uniform(2.5, 12, n), relative_contact_rate=rng.uniform(0, 0.6, n), n_days=60,
    )  # fmt: skip
    fast = hospital.chime(inputs)
    # the exhaustive search (every candidate day's projection) must pick the same days
    infected = 1.0 / inputs.market_share / inputs.hospitalized_rate
    s0 = inputs.population - infected
    gamma = 1.0 / inputs.infectious_days
    growth = 2.0 ** (1.0 / inputs.doubling_time) - 1.0
    beta, beta_t = (growth + gamma) / s0, (growth + gamma) / s0 * (1 - inputs.relative_contact_rate)
    cur = np.asarray(inputs.current_hospitalized, dtype=float)
    slow = hospital._current_day_all(inputs, s0, infected, gamma, beta, beta_t, cur)
    np.testing.assert_array_equal(fast.i_day, slow)


def test_chime_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="doubling time"):
        hospital.chime(_chime_example(doubling_time=np.array([0.0])))


def test_model_demand_and_exceedance() -> None:
    ward = np.array([[0.0, 5, 10, 20], [1, 1, 1, 1]])
    icu = np.array([[0.0, 1, 3, 6], [0, 0, 0, 0]])
    icu_adm = np.array([[0.0, 1, 2, 3], [0, 0, 0, 0]])
    d = hospital.model_demand(ward, icu, icu_adm, vent_share=0.5, los_vent=2)
    np.testing.assert_allclose(d.ventilators[0], [0, 0.5, 1.5, 2.5])
    report = hospital.exceedance(d, beds=[8, np.nan], icu_beds=[2, 5], ventilators=[10, 1])
    np.testing.assert_array_equal(report["beds_days_to_capacity"], [2, -1])
    np.testing.assert_array_equal(report["icu_days_to_capacity"], [2, -1])
    np.testing.assert_array_equal(report["icu_days_over"], [2, 0])
    np.testing.assert_array_equal(report["ventilators_days_to_capacity"], [-1, -1])
    np.testing.assert_allclose(report["beds_peak"], [20, 1])
