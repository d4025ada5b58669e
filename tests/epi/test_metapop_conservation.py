"""Conservation (a Hypothesis property): every region keeps its residents, summed over compartments and ages, on
every day of both integrators, with any mobility, contacts and interventions; no compartment goes negative."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from accord.epi import metapop as mp
from accord.epi import params

BANDS = (0, 20, 40, 60, 75)  # 5 age groups keep examples small


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[mp.Metapop, np.ndarray, np.ndarray, np.ndarray]:
    regions = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ages = len(BANDS)
    pop = np.round(rng.uniform(0, 1, size=(regions, ages)) * draw(st.sampled_from([10, 1_000, 100_000])))
    contacts = rng.uniform(0, 4, size=(4, ages, ages)) * (rng.uniform(size=(4, 1, 1)) < 0.8)
    travel = rng.dirichlet(np.ones(regions), size=regions) * draw(st.floats(0, 0.5))
    mobility = travel + np.diag(1 - travel.sum(axis=1))
    r0 = draw(st.floats(0.5, 6.0))
    p = params.covid19(BANDS)
    beta = mp.beta_for_r0(p, contacts + 1e-9, pop.sum(axis=0) + 1, r0)
    model = mp.Metapop(
        p, pop, contacts, beta, mobility=sparse.csr_matrix(mobility) if draw(st.booleans()) else mobility
    )
    infected = np.minimum(pop, rng.integers(0, 30, size=pop.shape))
    days = 30
    kappa = rng.uniform(0, 1.5, size=(days, regions, 4))
    cut = rng.uniform(0, 1, size=(days, regions))
    return model, mp.initial_state(pop, infected), kappa, cut


def check(model: mp.Metapop, traj: mp.Trajectory, tol: float) -> None:
    assert traj.states is not None
    residents = traj.states.sum(axis=(1, 3))  # days+1 x regions
    expected = model.population.sum(axis=1)
    assert np.all(np.abs(residents - expected) <= tol * np.maximum(expected, 1))
    assert traj.states.min() >= -tol * max(1.0, model.population.max())
    for flow in (traj.infections, traj.onsets, traj.admissions, traj.icu_admissions, traj.deaths, traj.ward):
        assert flow.min() >= -tol * max(1.0, model.population.max())
    # cumulative flows match the changes of state they stand for
    deaths = traj.states[-1, mp.D].sum(axis=-1) - traj.states[0, mp.D].sum(axis=-1)
    assert np.allclose(traj.deaths.sum(axis=0), deaths, rtol=1e-9, atol=1e-6)
    infected = traj.states[0, mp.S].sum(axis=-1) - traj.states[-1, mp.S].sum(axis=-1)
    assert np.allclose(traj.infections.sum(axis=0), infected, rtol=1e-9, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(case=scenarios(), steps=st.integers(1, 3))
def test_deterministic_conserves_residents(case: tuple, steps: int) -> None:
    model, x0, kappa, cut = case
    traj = mp.simulate_deterministic(
        model, x0, kappa.shape[0], contact_scale=kappa, mobility_scale=cut, steps_per_day=steps, record_states=True
    )
    check(model, traj, 1e-9)


@settings(max_examples=25, deadline=None)
@given(case=scenarios(), steps=st.integers(1, 3), seed=st.integers(0, 2**63))
def test_stochastic_conserves_residents_exactly(case: tuple, steps: int, seed: int) -> None:
    model, x0, kappa, cut = case
    traj = mp.simulate_stochastic(
        model,
        x0,
        kappa.shape[0],
        seed=seed,
        contact_scale=kappa,
        mobility_scale=cut,
        steps_per_day=steps,
        record_states=True,
    )
    check(model, traj, 0.0)
    assert traj.states is not None
    assert np.array_equal(traj.states, np.round(traj.states))


def test_bad_input_is_refused() -> None:
    p = params.covid19(BANDS)
    pop = np.full((2, 5), 100.0)
    contacts = np.ones((4, 5, 5))
    with pytest.raises(ValueError, match="row-stochastic"):
        mp.Metapop(p, pop, contacts, 0.1, mobility=np.array([[0.5, 0.4], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="contacts"):
        mp.Metapop(p, pop, np.ones((4, 3, 3)), 0.1)
    model = mp.Metapop(p, pop, contacts, 0.1)
    with pytest.raises(ValueError, match="whole numbers"):
        mp.simulate_stochastic(model, mp.initial_state(pop, 0.5), 3, seed=1)
    with pytest.raises(ValueError, match="mobility scaling"):
        mp.simulate_deterministic(model, mp.initial_state(pop, 1), 3, mobility_scale=1.5)
    with pytest.raises(ValueError, match="initial state"):
        mp.simulate_deterministic(model, np.zeros((9, 3, 5)), 3)
