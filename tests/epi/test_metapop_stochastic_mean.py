"""The mean of many chain-binomial runs approaches the deterministic trajectory in a large population. Replicates
are 64 identical, unconnected regions of one stochastic run (no mobility): one vectorised call."""

from __future__ import annotations

import numpy as np

from accord.epi import metapop as mp
from accord.epi import params


def test_stochastic_mean_approaches_deterministic() -> None:
    p = params.covid19()
    rng = np.random.default_rng(8)
    contacts = rng.uniform(0.1, 2.0, size=(4, 16, 16))
    per_age = np.round(rng.uniform(20_000, 80_000, size=16))
    replicates = 64
    pop = np.tile(per_age, (replicates, 1))
    beta = mp.beta_for_r0(p, contacts, per_age, 2.2)
    seed = np.zeros((replicates, 16))
    seed[:, 4:10] = 50  # enough seeds that early extinction is negligible
    days = 200
    stoch = mp.Metapop(p, pop, contacts, beta)
    runs = mp.simulate_stochastic(stoch, mp.initial_state(pop, seed), days, seed=99, steps_per_day=4)
    single = mp.Metapop(p, per_age, contacts, beta)
    det = mp.simulate_deterministic(single, mp.initial_state(per_age, seed[:1]), days)

    mean_inf = runs.infections.mean(axis=1)
    det_inf = det.infections[:, 0]
    # final size within 3% (quarter-day chain-binomial steps against the ODE), epidemic peak within 2 days,
    # daily incidence within 10% of the peak
    assert abs(mean_inf.sum() / det_inf.sum() - 1) < 0.03
    assert abs(int(np.argmax(mean_inf)) - int(np.argmax(det_inf))) <= 2
    assert np.max(np.abs(mean_inf - det_inf)) < 0.10 * det_inf.max()
    for name in ("admissions", "deaths", "ward", "icu"):
        m, d = getattr(runs, name).mean(axis=1), getattr(det, name)[:, 0]
        assert abs(m.sum() / d.sum() - 1) < 0.05, name
    # and the runs do vary
    assert runs.infections.sum(axis=0).std() > 0
