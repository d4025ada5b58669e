"""Measures -> model: the effect table, combination of measures, targeted flags, index scaling, long frames."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.policy import effects


def test_no_measure_changes_nothing() -> None:
    kappa, mob = effects.multipliers(np.zeros((3, 2, len(effects.INDICATORS)), dtype=int))
    np.testing.assert_array_equal(kappa, 1.0)
    np.testing.assert_array_equal(mob, 1.0)


def test_measures_combine_multiplicatively_and_targeted_weigh_half() -> None:
    table = effects.EffectTable()
    school = effects.bundle({"C1": 3})
    work = effects.bundle({"C2": 2})
    both = effects.bundle({"C1": 3, "C2": 2})
    k1, _ = effects.multipliers(school, table=table)
    k2, _ = effects.multipliers(work, table=table)
    k12, _ = effects.multipliers(both, table=table)
    np.testing.assert_allclose(k12, k1 * k2)
    assert k1[effects.SETTINGS.index("school")] == pytest.approx(0.05)
    targeted, _ = effects.multipliers(school, general=np.zeros(len(effects.INDICATORS), bool), table=table)
    assert targeted[1] == pytest.approx(0.05**0.5)
    strong, _ = effects.multipliers(school, table=table, theta=2.0)
    assert strong[1] == pytest.approx(0.05**2)


def test_internal_movement_cuts_mobility() -> None:
    _, mob = effects.multipliers(effects.bundle({"C7": 2}))
    assert mob == pytest.approx(0.1)


def test_overrides_replace_defaults_and_bad_rows_are_rejected() -> None:
    table = effects.EffectTable().with_overrides([effects.Effect("C1", 3, school=0.5, source="local study")])
    np.testing.assert_allclose(table.effect("C1", 3), [1, 0.5, 1, 1, 1])
    assert any(r["source"] == "local study" for r in table.rows())
    with pytest.raises(ValueError, match=r"C1 has levels 0\.\.3"):
        effects.Effect("C1", 4)
    with pytest.raises(ValueError, match="unknown OxCGRT indicator"):
        effects.bundle({"C9": 1})
    with pytest.raises(ValueError, match="two effects"):
        effects.EffectTable((effects.Effect("C1", 1), effects.Effect("C1", 1)))
    with pytest.raises(ValueError, match="C4 has levels"):
        effects.multipliers(effects.bundle({"C4": 4}) + 1)


def test_index_scaling_is_log_linear() -> None:
    ref = effects.bundle({"C1": 3, "C2": 3, "C6": 2})
    full, _ = effects.multipliers(ref)
    half, _ = effects.from_index(np.array([40.0, 80.0, np.nan]), ref, 80.0)
    np.testing.assert_allclose(half[1], full)
    np.testing.assert_allclose(half[0], np.sqrt(full))
    np.testing.assert_allclose(half[2], 1.0)


def test_levels_from_a_long_frame_carry_forward() -> None:
    days = [dt.date(2020, 1, d) for d in range(1, 6)]
    levels, general = effects.levels_from_long(
        ["CN", "CN", "CN", "XX"], [days[1], days[3], days[1], days[0]], ["C1", "C1", "C6", "C1"],
        [2, 3, 1, 3], [1, 0, None, 1], ["CN"], days,
    )  # fmt: skip
    c1, c6 = effects.INDICATORS.index("C1"), effects.INDICATORS.index("C6")
    np.testing.assert_array_equal(levels[:, 0, c1], [0, 2, 2, 3, 3])
    np.testing.assert_array_equal(levels[:, 0, c6], [0, 1, 1, 1, 1])
    np.testing.assert_array_equal(general[:, 0, c1], [True, True, True, False, False])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=len(effects.INDICATORS), max_size=len(effects.INDICATORS)))
def test_stricter_never_increases_community_contacts_or_mobility(raw: list[int]) -> None:
    top = np.array([effects.MAX_LEVEL[i] for i in effects.INDICATORS])
    levels = np.minimum(np.array(raw), top)
    stricter = np.minimum(levels + 1, top)
    k, m = effects.multipliers(levels)
    k2, m2 = effects.multipliers(stricter)
    assert k2[3] <= k[3] + 1e-12 and m2 <= m + 1e-12
    assert np.all(k >= 0) and 0 <= m <= 1


@pytest.mark.shared_data
def test_china_measure_history_from_the_oxcgrt_file(data_dir: Path) -> None:
    from accord.policy import oxcgrt
    from accord.policy.scenarios import china2020

    long = oxcgrt.read_oxcgrt(data_dir / "oxcgrt-policy" / "oxcgrt_legacy_national_daily_2020_long.csv")
    days = [dt.date(2020, 1, 1) + dt.timedelta(days=k) for k in range(60)]
    levels, general = china2020.levels_from_frame(long[long.region == "CHN"], ["CHN"], days)
    c1 = effects.INDICATORS.index("C1")
    assert levels[0, 0, c1] == 0 and levels[-1, 0, c1] == 3  # schools closed by the end of February
    kappa, mob = effects.multipliers(levels, general)
    assert kappa[0, 0].min() > 0.7  # New Year's Day: testing, limited tracing, mask advice only
    assert kappa[-1, 0, effects.SETTINGS.index("community")] < 0.1 and mob[-1, 0] < 0.2
