"""Roll-up invariants: incremental propagation always equals a full recomputation (Hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.surveillance import rollup


@st.composite
def trees(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(1, 14))
    parents = [-1] + [draw(st.integers(0, i - 1)) for i in range(1, n)]
    return np.array(parents, dtype=np.int64)


@st.composite
def batches(draw: st.DrawFn) -> tuple[np.ndarray, list[list[tuple[int, float]]]]:
    parents = draw(trees())
    n = len(parents)
    value = st.integers(0, 50).map(float)
    steps = draw(
        st.lists(
            st.lists(st.tuples(st.integers(0, n - 1), value), min_size=1, max_size=6, unique_by=lambda t: t[0]),
            min_size=1,
            max_size=5,
        )
    )
    return parents, steps


def _state_from(parents: np.ndarray, own: np.ndarray) -> pd.DataFrame:
    child, _ = rollup.full_rollup(parents, own)
    has = ~np.isnan(own) | ~np.isnan(child)
    ids = np.flatnonzero(has)
    return pd.DataFrame(
        {
            "jurisdiction_id": ids + 1,
            "indicator_id": 1,
            "date": pd.Timestamp("2026-01-01"),
            "disaggregation": "",
            "own_all": own[ids],
            "own_pub": np.nan,
            "child_all": child[ids],
            "child_pub": np.nan,
        }
    )


@given(batches())
@settings(max_examples=60, deadline=None)
def test_incremental_equals_full(case: tuple[np.ndarray, list[list[tuple[int, float]]]]) -> None:
    parents, steps = case
    n = len(parents)
    parent_ids = pd.Series(np.where(parents >= 0, parents + 1, -1), index=np.arange(1, n + 1))
    own = np.full(n, np.nan)
    state = _state_from(parents, own)
    for step in steps:
        changes = pd.DataFrame(
            {
                "jurisdiction_id": [i + 1 for i, _ in step],
                "indicator_id": 1,
                "date": pd.Timestamp("2026-01-01"),
                "disaggregation": "",
                "own_all": [v for _, v in step],
            }
        )
        new = rollup.propagate(state, changes, parent_ids)
        merged = pd.concat([state, new]).drop_duplicates(rollup.KEY, keep="last")
        for i, v in step:
            own[i] = v
        expected = _state_from(parents, own).set_index("jurisdiction_id")
        got = merged.set_index("jurisdiction_id")
        for col in ("own_all", "child_all"):
            exp = expected[col].reindex(got.index)
            np.testing.assert_allclose(got[col].to_numpy(float), exp.to_numpy(float), equal_nan=True)
        state = merged


@given(trees(), st.data())
@settings(max_examples=50, deadline=None)
def test_conservation_leaves_sum_to_root_without_own_totals(parents: np.ndarray, data: st.DataObject) -> None:
    n = len(parents)
    is_leaf = ~np.isin(np.arange(n), parents)
    own = np.where(is_leaf, np.array(data.draw(st.lists(st.integers(0, 100), min_size=n, max_size=n)), float), np.nan)
    _, eff = rollup.full_rollup(parents, own)
    assert eff[0] == own[is_leaf].sum()
