"""Interventions and random streams: cutting contacts shrinks the epidemic, cutting mobility delays its arrival
elsewhere, a seed fixes a run, and a scenario that changes only from day 40 on is its baseline before day 40
(common random numbers)."""

from __future__ import annotations

import numpy as np

from accord.epi import metapop as mp
from accord.epi import params

DAYS = 150


def two_towns(travel: float = 0.02) -> tuple[mp.Metapop, np.ndarray]:
    """Town 0 (seeded) and town 1, residents of each spending ``travel`` of their time in the other."""
    p = params.covid19()
    rng = np.random.default_rng(11)
    contacts = rng.uniform(0.1, 2.0, size=(4, 16, 16))
    pop = np.round(rng.uniform(5_000, 20_000, size=(2, 16)))
    mobility = np.array([[1 - travel, travel], [travel, 1 - travel]])
    model = mp.Metapop(p, pop, contacts, mp.beta_for_r0(p, contacts, pop.sum(axis=0), 2.5), mobility=mobility)
    seed = np.zeros((2, 16))
    seed[0, 5:8] = 10
    return model, mp.initial_state(pop, seed)


def arrival(cumulative: np.ndarray, threshold: float) -> int:
    return int(np.argmax(cumulative >= threshold)) if cumulative[-1] >= threshold else 10**6


def test_cutting_contacts_reduces_final_size() -> None:
    model, x0 = two_towns()
    lockdown = mp.piecewise(DAYS, {30: [0.8, 0.1, 0.4, 0.3]}, shape=(1, 4))  # from day 30, in both towns
    base = mp.simulate_deterministic(model, x0, DAYS)
    cut = mp.simulate_deterministic(model, x0, DAYS, contact_scale=lockdown)
    assert cut.infections.sum() < 0.5 * base.infections.sum()
    assert cut.deaths.sum() < base.deaths.sum()
    assert cut.hospitalised.max() < base.hospitalised.max()
    np.testing.assert_array_equal(cut.infections[:30], base.infections[:30])
    # per region and per setting: closing only town 1's schools and work places protects town 1 more
    local = np.ones((DAYS, 2, 4))
    local[:, 1, 1:] = 0.2
    targeted = mp.simulate_deterministic(model, x0, DAYS, contact_scale=local)
    assert targeted.infections[:, 1].sum() < base.infections[:, 1].sum()
    # the same holds for stochastic runs with the same seed
    s_base = mp.simulate_stochastic(model, x0, DAYS, seed=5)
    s_cut = mp.simulate_stochastic(model, x0, DAYS, seed=5, contact_scale=lockdown)
    assert s_cut.infections.sum() < 0.5 * s_base.infections.sum()


def test_cutting_mobility_delays_arrival() -> None:
    model, x0 = two_towns()
    open_ = mp.simulate_deterministic(model, x0, DAYS)
    cordon = mp.simulate_deterministic(model, x0, DAYS, mobility_scale=mp.piecewise(DAYS, {0: 0.05}, shape=(2,)))
    nobody = mp.Metapop(model.params, model.population, model.contacts, model.beta, mobility=None)
    isolated = mp.simulate_deterministic(nobody, x0, DAYS)
    t_open = arrival(np.cumsum(open_.infections[:, 1]), 10)
    t_cordon = arrival(np.cumsum(cordon.infections[:, 1]), 10)
    assert t_open + 10 <= t_cordon < DAYS
    assert isolated.infections[:, 1].sum() == 0  # without travel, the virus never reaches town 1
    # cutting only the travel of town 0's residents (a cordon around the seeded town) delays it as well
    out_only = mp.simulate_deterministic(model, x0, DAYS, mobility_scale=np.array([0.05, 1.0]))
    assert arrival(np.cumsum(out_only.infections[:, 1]), 10) > t_open
    # stochastic: 20 replicate pairs of towns (block-diagonal mobility, one vectorised run): the median arrival
    # in the second town is later with the cordon
    pairs = 20
    mobility = np.kron(np.eye(pairs), model.mobility)
    many = mp.Metapop(
        model.params, np.tile(model.population, (pairs, 1)), model.contacts, model.beta, mobility=mobility
    )
    x_many = np.tile(x0, (1, pairs, 1))
    arr = [
        [
            arrival(c, 10)
            for c in np.cumsum(mp.simulate_stochastic(many, x_many, DAYS, seed=3, mobility_scale=m).infections, axis=0)[
                :, 1::2
            ].T
        ]
        for m in (1.0, 0.05)
    ]
    assert np.median(arr[1]) > np.median(arr[0]) + 5


def test_same_seed_same_run_and_common_random_numbers() -> None:
    model, x0 = two_towns()
    a = mp.simulate_stochastic(model, x0, DAYS, seed=42, record_states=True)
    b = mp.simulate_stochastic(model, x0, DAYS, seed=42, record_states=True)
    c = mp.simulate_stochastic(model, x0, DAYS, seed=43, record_states=True)
    assert a.states is not None and b.states is not None and c.states is not None
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.infections, b.infections)
    assert not np.array_equal(a.infections, c.infections)
    # a scenario: contacts halved and mobility cut from day 40 on; nothing changes before
    kappa = mp.piecewise(DAYS, {40: 0.5}, shape=(2, 4))
    mob = mp.piecewise(DAYS, {40: 0.2}, shape=(2,))
    s = mp.simulate_stochastic(model, x0, DAYS, seed=42, contact_scale=kappa, mobility_scale=mob, record_states=True)
    assert s.states is not None
    np.testing.assert_array_equal(s.states[:41], a.states[:41])  # the state at the start of day 40 included
    np.testing.assert_array_equal(s.infections[:40], a.infections[:40])
    assert not np.array_equal(s.infections[40:], a.infections[40:])
    assert s.infections.sum() < a.infections.sum()
    # ensemble members from one SeedSequence differ from each other and are reproducible
    m1, m2 = np.random.SeedSequence(7).spawn(2)
    r1 = mp.simulate_stochastic(model, x0, 60, seed=m1)
    r2 = mp.simulate_stochastic(model, x0, 60, seed=m2)
    assert not np.array_equal(r1.infections, r2.infections)
    again = mp.simulate_stochastic(model, x0, 60, seed=np.random.SeedSequence(7).spawn(2)[0])
    np.testing.assert_array_equal(r1.infections, again.infections)


def test_by_age_outputs_sum_to_regional_outputs() -> None:
    model, x0 = two_towns()
    whole = mp.simulate_stochastic(model, x0, 60, seed=1)
    aged = mp.simulate_stochastic(model, x0, 60, seed=1, by_age=True)
    assert aged.deaths.shape == (60, 2, 16)
    for name in ("infections", "onsets", "admissions", "icu_admissions", "deaths", "ward", "icu"):
        np.testing.assert_array_equal(getattr(aged, name).sum(axis=-1), getattr(whole, name))
