"""The deterministic integrator of one region without mobility agrees with an independent ODE solution
(``scipy.integrate.solve_ivp``, right-hand side written out again here) to 1e-6 relative."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from accord.epi import metapop as mp
from accord.epi import params


def independent_rhs(p: params.DiseaseParams, contacts: np.ndarray, beta: float, scale: np.ndarray):
    """The model's equations for a single well-mixed population, written without any of metapop's code."""
    ages = p.ages
    total = np.einsum("s,sab->ab", scale, contacts)
    y, h, c = p.symptomatic_fraction, p.hospitalised_fraction, p.icu_fraction

    def rhs(_t: float, v: np.ndarray) -> np.ndarray:
        s, e, pre, sym, asy, hos, icu, rec = v.reshape(14, ages)[:8]
        alive = s + e + pre + sym + asy + rec
        infectious = p.rel_inf_presymptomatic * pre + sym + p.rel_inf_asymptomatic * asy
        lam = beta * p.susceptibility * (total @ (infectious / alive))
        onset = pre / p.presymptomatic
        leave_sym = sym / p.symptomatic
        leave_ward = hos / p.ward_stay
        leave_icu = icu / p.icu_stay
        deaths = p.ward_fatality * leave_ward + p.icu_fatality * leave_icu
        out = [
            -lam * s,
            lam * s - e / p.latent,
            y * e / p.latent - onset,
            onset - leave_sym,
            (1 - y) * e / p.latent - asy / p.asymptomatic,
            h * (1 - c) * leave_sym - leave_ward,
            h * c * leave_sym - leave_icu,
            asy / p.asymptomatic + (1 - h) * leave_sym + leave_ward + leave_icu - deaths,
            deaths,
            lam * s,
            onset,
            h * leave_sym,
            h * c * leave_sym,
            deaths,
        ]
        return np.concatenate(out)

    return rhs


def test_single_region_matches_solve_ivp() -> None:
    rng = np.random.default_rng(3)
    p = params.covid19()
    contacts = rng.uniform(0.05, 3.0, size=(4, 16, 16))
    pop = rng.uniform(1e5, 1e6, size=16)
    beta = mp.beta_for_r0(p, contacts, pop, 2.5)
    scale = np.array([1.0, 0.4, 0.7, 0.5])  # schools mostly shut, some work from home
    seed = np.zeros(16)
    seed[6:9] = 20.0
    model = mp.Metapop(p, pop, contacts, beta)
    days = 200
    traj = mp.simulate_deterministic(
        model, mp.initial_state(pop, seed), days, contact_scale=scale, steps_per_day=4, record_states=True
    )

    v0 = np.concatenate([pop - seed, seed, np.zeros(12 * 16)])
    sol = solve_ivp(
        independent_rhs(p, contacts, beta, scale),
        (0, days),
        v0,
        method="DOP853",
        t_eval=np.arange(days + 1),
        rtol=1e-11,
        atol=1e-8,
    )
    assert sol.success
    ref = sol.y.T.reshape(days + 1, 14, 16)
    assert traj.states is not None
    ours = traj.states[:, :, 0, :]
    # states: relative 1e-6, measured against the size of each compartment's trajectory
    size = np.abs(ref[:, :9]).max(axis=0, keepdims=True)
    err = np.max(np.abs(ours - ref[:, :9]) / np.maximum(size, 1e-3))
    print(f"max relative error {err:.2e}")
    assert err < 1e-6
    # daily flows = differences of the cumulative flows
    daily = np.diff(ref[:, 9:], axis=0).sum(axis=-1)  # (days, 5) summed over ages
    for k, name in enumerate(["infections", "onsets", "admissions", "icu_admissions", "deaths"]):
        got = getattr(traj, name)[:, 0]
        assert np.max(np.abs(got - daily[:, k])) < 1e-6 * np.abs(daily[:, k]).max(), name
    # an epidemic did happen, and the census is the state
    assert traj.infections.sum() > 0.5 * pop.sum()
    np.testing.assert_allclose(traj.ward[:, 0], ours[1:, mp.H].sum(axis=-1))
    np.testing.assert_allclose(traj.icu[:, 0], ours[1:, mp.C].sum(axis=-1))
