"""The COVID-19 default parameters: band mapping, the fatality split that reproduces Verity et al.'s IFR, R0."""

from __future__ import annotations

import numpy as np
import pytest

from accord.epi import metapop as mp
from accord.epi import params


def test_decade_tables_map_to_bands_by_single_years() -> None:
    # identity on the decades themselves; 5-year bands take their decade's value; 75+ mixes 70-79 and 80-89
    np.testing.assert_allclose(params.to_bands(params.IFR, params.DECADES), params.IFR)
    five = params.to_bands(params.IFR, params.FIVE_YEAR_BANDS)
    assert five.shape == (16,)
    np.testing.assert_allclose(five[:14], np.repeat(params.IFR[:7], 2))
    np.testing.assert_allclose(five[15], (5 * params.IFR[7] + 10 * params.IFR[8]) / 15)
    with pytest.raises(ValueError):
        params.to_bands(params.IFR, [5, 10])


def test_defaults_reproduce_verity_hospitalisation_and_fatality() -> None:
    p = params.covid19(params.DECADES)
    y, h, c = p.symptomatic_fraction, p.hospitalised_fraction, p.icu_fraction
    ihr = y * h
    np.testing.assert_allclose(ihr, params.IHR)
    ifr = ihr * (c * p.icu_fatality + (1 - c) * p.ward_fatality)
    # every decade with a ward fatality to set reproduces Verity et al.'s IFR exactly; in 30-39 half the ICU
    # patients dying already exceeds it (by 1.6%, ward fatality 0); 0-9 has no admissions (IHR 0), so no deaths
    feasible = p.ward_fatality > 0
    assert feasible.sum() == 7
    np.testing.assert_allclose(ifr[feasible], np.asarray(params.IFR)[feasible], rtol=1e-12)
    np.testing.assert_allclose(ifr[1:], params.IFR[1:], rtol=0.02)
    assert ifr[0] == 0
    assert abs(params.LATENT + params.PRESYMPTOMATIC - params.INCUBATION) < 1e-12


def test_beta_for_r0_gives_the_requested_growth() -> None:
    p = params.covid19()
    rng = np.random.default_rng(1)
    contacts = rng.uniform(0.2, 2.0, size=(4, 16, 16))
    pop = rng.uniform(1e5, 1e6, size=16)
    beta = mp.beta_for_r0(p, contacts, pop, 2.2)
    assert mp.basic_reproduction_number(p, contacts, pop, beta) == pytest.approx(2.2)
    # R0 below 1: the seeded infections do not take off; above: they do
    for r0, grows in ((0.8, False), (2.2, True)):
        model = mp.Metapop(p, pop, contacts, mp.beta_for_r0(p, contacts, pop, r0))
        traj = mp.simulate_deterministic(model, mp.initial_state(pop, np.full(16, 10.0)), 120)
        assert (traj.infections[-30:].sum() > traj.infections[:30].sum()) == grows
