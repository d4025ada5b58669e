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
