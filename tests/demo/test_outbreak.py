"""The seeded SEIR outbreak: conservation, a realistic curve, common random numbers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.demo.country import generate_country
from accord.demo.outbreak import (
    SERIES,
    TRUTH_COLUMNS,
    OutbreakParams,
    OutbreakStates,
    daily_truth_totals,
    simulate_outbreak,
    simulate_states,
    states_to_frame,
)
from accord.errors import AccordError
from accord.surveillance.indicators import CATALOG


@pytest.fixture(scope="module")
def places() -> pd.DataFrame:
    return generate_country()


@pytest.fixture(scope="module")
def states(places: pd.DataFrame) -> OutbreakStates:
    return simulate_states(places, days=120, seed=7)


@pytest.fixture(scope="module")
def truth(states: OutbreakStates) -> pd.DataFrame:
    return states_to_frame(states)


def check_states(s: OutbreakStates) -> None:
    total = s.S + s.E + s.I + s.R + s.D
    assert (total == s.population[None, :]).all()
    for arr in (s.S, s.E_local, s.E_imported, s.I, s.R, s.D, s.new_exposed, s.new_exposed_imported,
                s.new_confirmed_local, s.new_confirmed_imported, s.new_deaths, s.new_recovered, s.new_tests,
                s.hospitalised, s.icu_occupied):  # fmt: skip
        assert arr.dtype == np.int64
        assert (arr >= 0).all()
    # the flows are the differences of the compartments
    assert (s.S[:-1] - s.S[1:] == s.new_exposed).all()
    assert (np.diff(s.D, axis=0) == s.new_deaths).all()
    assert (np.diff(s.R, axis=0) == s.new_recovered).all()
    assert (np.diff(s.E, axis=0) == s.new_exposed - s.new_confirmed).all()
    assert (np.diff(s.I, axis=0) == s.new_confirmed - s.new_deaths - s.new_recovered).all()
    assert (s.new_exposed_imported <= s.new_exposed).all()
    assert (s.icu_occupied <= s.hospitalised).all()


def test_people_are_conserved_every_day(states: OutbreakStates) -> None:
    assert states.S.shape == (121, 1000) and states.new_exposed.shape == (120, 1000)
    check_states(states)


def test_epidemic_grows_then_declines(truth: pd.DataFrame) -> None:
    totals = daily_truth_totals(truth)
    weekly = totals["new_confirmed"].rolling(7).mean().to_numpy()
    peak = int(np.nanargmax(weekly))
    assert 20 <= peak <= 60
    assert weekly[peak] > 10 * weekly[6]
    assert weekly[-1] < 0.25 * weekly[peak]
    assert totals["new_deaths"].sum() > 0
    assert (totals["hospitalised"] >= totals["icu_occupied"]).all()
    assert (totals["new_tests"] > totals["new_confirmed"]).all()


def test_imported_cases_come_from_travel_and_fade_with_the_lockdown(states: OutbreakStates) -> None:
    imported = states.new_confirmed_imported.sum(axis=1)
    local = states.new_confirmed_local.sum(axis=1)
    assert imported[:30].sum() > 0
    assert local.sum() > 5 * imported.sum()
    assert imported[60:].sum() < imported[:40].sum()


def test_seeds_lie_in_one_province(places: pd.DataFrame, states: OutbreakStates) -> None:
    comms = places[places["level"] == "community"].reset_index(drop=True)
    seeded = comms.loc[states.E[0] > 0, "code"]
    assert 1 <= len(seeded) <= OutbreakParams().seed_communities
    assert seeded.str[:5].nunique() == 1
    assert states.I[0].sum() == 0


def test_truth_frame_conventions(places: pd.DataFrame, states: OutbreakStates, truth: pd.DataFrame) -> None:
    frame = truth
    assert list(frame.columns) == list(TRUTH_COLUMNS)
    assert len(frame) == 1000 * 120 * len(SERIES)
    values = frame["value"].to_numpy()
    assert values.dtype == np.float64
    assert (values == np.round(values)).all() and (values >= 0).all()
    assert set(frame["jurisdiction"].unique()) == set(places.loc[places["level"] == "community", "code"])
    assert frame["date"].iloc[0] == dt.date(2026, 1, 6) and frame["date"].iloc[-1] == dt.date(2026, 5, 5)
    assert set(frame["indicator"].unique()) <= set(CATALOG)
    for code, part in SERIES:
        assert part in CATALOG[code].disaggregations
    # rows: community-major, then day, then SERIES
    cube = values.reshape(1000, 120, len(SERIES))
    assert frame["indicator"].iloc[: len(SERIES)].tolist() == [c for c, _ in SERIES]
    assert (cube[:, :, 0] == cube[:, :, 1] + cube[:, :, 2]).all()
    assert (cube[:, :, 0] == states.new_confirmed.T).all()
    totals = daily_truth_totals(frame)
    assert totals["new_confirmed"].sum() == states.new_confirmed.sum()
    assert list(totals.columns[:3]) == ["new_confirmed", "new_confirmed_imported", "new_confirmed_local"]


def test_simulate_outbreak_is_the_frame_of_the_states(places: pd.DataFrame) -> None:
    small = places[places["code"].str.startswith("AR-03") | ~places["level"].eq("community")]
    frame = simulate_outbreak(small, days=10, seed=3, start=dt.date(2026, 2, 1))
    expected = states_to_frame(simulate_states(small, days=10, seed=3, start=dt.date(2026, 2, 1)))
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["date"].iloc[0] == dt.date(2026, 2, 1)


def test_same_seed_same_run_other_seed_another(places: pd.DataFrame, states: OutbreakStates) -> None:
    again = simulate_states(places, days=120, seed=7)
    assert (again.I == states.I).all() and (again.new_tests == states.new_tests).all()
    other = simulate_states(places, days=120, seed=8)
    assert not (other.I == states.I).all()


def test_changing_the_lockdown_date_leaves_the_earlier_days_identical(places: pd.DataFrame) -> None:
    early = simulate_states(places, days=60, seed=7, lockdown_day=30)
    late = simulate_states(places, days=60, seed=7, lockdown_day=40)
    # days 0..29 run identically, so the states up to the start of day 30 agree
    for name in ("S", "E_local", "E_imported", "I", "R", "D"):
        assert (getattr(early, name)[:31] == getattr(late, name)[:31]).all()
    for name in ("new_confirmed_local", "new_tests", "hospitalised"):
        assert (getattr(early, name)[:30] == getattr(late, name)[:30]).all()
    assert early.new_exposed[30:].sum() < late.new_exposed[30:].sum()


def test_clinical_and_testing_changes_leave_transmission_alone(places: pd.DataFrame) -> None:
    base = simulate_states(places, days=40, seed=7)
    params = dataclasses.replace(OutbreakParams(), hospital_share=0.5, tests_per_case=40.0)
    changed = simulate_states(places, days=40, seed=7, params=params)
    assert (base.I == changed.I).all() and (base.new_confirmed_imported == changed.new_confirmed_imported).all()
    assert (changed.hospitalised.sum(axis=1) >= base.hospitalised.sum(axis=1)).all()
    assert changed.hospitalised.sum() > base.hospitalised.sum()


def test_without_lockdown_the_epidemic_is_larger(places: pd.DataFrame) -> None:
    free = simulate_states(places, days=60, seed=7, lockdown_day=None)
    locked = simulate_states(places, days=60, seed=7, lockdown_day=30)
    assert free.new_confirmed.sum() > 3 * locked.new_confirmed.sum()


def test_refuses_places_without_communities(places: pd.DataFrame) -> None:
    with pytest.raises(AccordError):
        simulate_states(places[places["level"] != "community"], days=5)
    with pytest.raises(AccordError):
        simulate_states(places, days=0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    provinces=st.integers(2, 4),
    extra_cities=st.integers(0, 4),
    extra_communities=st.integers(0, 12),
    days=st.integers(1, 25),
    lockdown_day=st.one_of(st.none(), st.integers(0, 20)),
    r0=st.floats(0.5, 6.0),
)
def test_small_random_countries_conserve_people(
    seed: int,
    provinces: int,
    extra_cities: int,
    extra_communities: int,
    days: int,
    lockdown_day: int | None,
    r0: float,
) -> None:
    cities = provinces + extra_cities
    places = generate_country(seed, provinces, cities, cities + extra_communities)
    params = OutbreakParams(seed_exposed=50, external_rate=20.0)
    states = simulate_states(places, days=days, seed=seed, r0=r0, lockdown_day=lockdown_day, params=params)
    check_states(states)
    frame = states_to_frame(states)
    assert (frame["value"] >= 0).all()
    assert len(frame) == (cities + extra_communities) * days * len(SERIES)
