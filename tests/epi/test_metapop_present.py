"""``Metapop.present`` (a Hypothesis property): residents' quantities apportioned to where they are keep their total,
equal ``M(t)^T x`` written out with the scaled mobility matrix, and stay at home when nobody travels."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from accord.epi import metapop as mp
from accord.epi import params

BANDS = (0, 40, 65)


@settings(max_examples=40, deadline=None)
@given(regions=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), use_sparse=st.booleans())
def test_present_is_the_scaled_mobility_transpose(regions: int, seed: int, use_sparse: bool) -> None:
    rng = np.random.default_rng(seed)
    travel = rng.dirichlet(np.ones(regions), size=regions) * rng.uniform(0, 0.6)
    np.fill_diagonal(travel, 0.0)
    mobility = travel + np.diag(1 - travel.sum(axis=1))
    pop = rng.uniform(100, 1000, size=(regions, len(BANDS)))
    model = mp.Metapop(params.covid19(BANDS), pop, np.ones((4, len(BANDS), len(BANDS))), 0.01,
                       mobility=sparse.csr_matrix(mobility) if use_sparse else mobility)  # fmt: skip
    x = rng.uniform(0, 50, size=regions)
    scale = rng.uniform(0, 1, size=regions)
    scaled = travel * scale[:, None]
    m_t = scaled + np.diag(1 - scaled.sum(axis=1))
    where = model.present(x, scale)
    assert np.allclose(where, m_t.T @ x)
    assert np.isclose(where.sum(), x.sum())
    assert np.allclose(model.present(x, np.zeros(regions)), x)
    assert np.allclose(model.present(np.stack([x, 2 * x], axis=1), scale), np.stack([where, 2 * where], axis=1))
