"""Roll-up up the jurisdiction tree, pure and vectorised.

Rule (DESIGN.md): the *effective* figure of a node is its own report when it has one, else the sum of its
children's effective figures; ``own - children`` is shown as unallocated. Values are never removed, only
revised, so "has data" can only switch on: that is what lets us propagate deltas instead of recomputing.

Two entry points share the rule:
- :func:`full_rollup` recomputes every node from own reports (as-of queries, checks, tests);
- :func:`propagate` applies a batch of changed own reports to the stored state of the affected keys and
  their ancestors, level by level from the deepest, touching only what changed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

KEY = ["jurisdiction_id", "indicator_id", "date", "disaggregation"]
STATE_COLUMNS = ["own_all", "own_pub", "child_all", "child_pub"]


def effective(own: FloatArray, child: FloatArray) -> FloatArray:
    return np.where(np.isnan(own), child, own)


def full_rollup(parent_index: IntArray, own: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Children sums and effective figures for every node; ``own`` is (nodes x columns) with NaN = none.

    ``parent_index[i]`` is the row of node i's parent, -1 for a root. Works for any depth.
    """
    n = len(parent_index)
    own2 = own.reshape(n, -1)
    depth = _depths(parent_index)
    child_sum = np.zeros_like(own2)
    child_has = np.zeros(own2.shape, dtype=bool)
    eff = np.full_like(own2, np.nan)
    for level in range(int(depth.max(initial=0)), -1, -1):
        rows = np.flatnonzero(depth == level)
        child = np.where(child_has[rows], child_sum[rows], np.nan)
        eff[rows] = effective(own2[rows], child)
        parents = parent_index[rows]
        up = parents >= 0
        vals = eff[rows[up]]
        present = ~np.isnan(vals)
        np.add.at(child_sum, parents[up], np.where(present, vals, 0.0))
        np.logical_or.at(child_has, parents[up], present)
    child_out = np.where(child_has, child_sum, np.nan)
    return child_out.reshape(own.shape), eff.reshape(own.shape)


def _depths(parent_index: IntArray) -> IntArray:
    depth = np.zeros(len(parent_index), dtype=np.int64)
    cur = parent_index.copy()
    while (cur >= 0).any():
        depth += cur >= 0
        cur = np.where(cur >= 0, parent_index[np.maximum(cur, 0)], -1)
    return depth


def propagate(state: pd.DataFrame, changes: pd.DataFrame, parents: pd.Series) -> pd.DataFrame:
    """Apply changed own reports and return the new state of every affected key.

    ``state``: stored rows for the changed keys *and all their ancestors' keys* (missing rows absent),
    columns KEY + STATE_COLUMNS. ``changes``: KEY + ``own_all`` (+ ``own_pub``, NaN = unchanged).
    ``parents``: parent id indexed by jurisdiction id (NaN/-1 for roots) for every jurisdiction involved;
    ``depth`` is derived from it. Returns KEY + STATE_COLUMNS for the rows that changed.
    """
    if changes.empty:
        return pd.DataFrame(columns=KEY + STATE_COLUMNS)
    parent_map = parents.fillna(-1).astype(np.int64)
    depth_map = _depth_series(parent_map)
    cur = state.set_index(KEY)[STATE_COLUMNS] if not state.empty else _empty_state()
    ch = changes.set_index(KEY)
    if "own_pub" not in ch:
        ch["own_pub"] = np.nan
    # pending child contributions per key: delta of effective values and whether a child now has data
    pend = pd.DataFrame(columns=["d_all", "d_pub", "p_all", "p_pub"], index=cur.index[:0])
    out: list[pd.DataFrame] = []
    levels = sorted(set(depth_map.reindex(ch.index.get_level_values(0)).tolist()), reverse=True)
    max_level = levels[0] if levels else 0
    for level in range(max_level, -1, -1):
        at_level_ch = ch[depth_map.reindex(ch.index.get_level_values(0)).to_numpy() == level]
        at_level_p = pend[depth_map.reindex(pend.index.get_level_values(0)).to_numpy() == level]
        keys = at_level_ch.index.union(at_level_p.index)
        if len(keys) == 0:
            continue
        old = cur.reindex(keys)
        new = old.copy()
        c = at_level_ch.reindex(keys)
        p = at_level_p.reindex(keys)
        for suffix in ("all", "pub"):
            d = p[f"d_{suffix}"].astype(float).fillna(0.0).to_numpy()
            present = p[f"p_{suffix}"].fillna(False).to_numpy(dtype=bool)
            old_child = old[f"child_{suffix}"].to_numpy(dtype=float)
            new_child = np.where(np.isnan(old_child), np.where(present, d, np.nan), old_child + d)
            new[f"child_{suffix}"] = new_child
            new_own = c[f"own_{suffix}"].to_numpy(dtype=float)
            old_own = old[f"own_{suffix}"].to_numpy(dtype=float)
            new[f"own_{suffix}"] = np.where(np.isnan(new_own), old_own, new_own)
        out.append(new)
        # push effective deltas to parents
        parent_ids = parent_map.reindex(keys.get_level_values(0)).to_numpy()
        has_parent = parent_ids >= 0
        if not has_parent.any():
            continue
        push = {}
        for suffix in ("all", "pub"):
            old_eff = effective(old[f"own_{suffix}"].to_numpy(float), old[f"child_{suffix}"].to_numpy(float))
            new_eff = effective(new[f"own_{suffix}"].to_numpy(float), new[f"child_{suffix}"].to_numpy(float))
            push[f"d_{suffix}"] = np.nan_to_num(new_eff) - np.nan_to_num(old_eff)
            push[f"p_{suffix}"] = ~np.isnan(new_eff)
        frame = pd.DataFrame(push, index=keys)[has_parent]
        frame = frame.reset_index()
        frame["jurisdiction_id"] = parent_ids[has_parent]
        moved = frame.groupby(KEY, sort=False).agg(
            d_all=("d_all", "sum"), d_pub=("d_pub", "sum"), p_all=("p_all", "any"), p_pub=("p_pub", "any")
        )
        pend = pd.concat([pend, moved]) if len(pend) else moved
    result = pd.concat(out)
    return result.reset_index()[KEY + STATE_COLUMNS]


def _empty_state() -> pd.DataFrame:
    idx = pd.MultiIndex.from_arrays([[], [], [], []], names=KEY)
    return pd.DataFrame({c: pd.Series(dtype=float) for c in STATE_COLUMNS}, index=idx)


def _depth_series(parent_map: pd.Series) -> pd.Series:
    ids = parent_map.index.to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    pidx = pos.reindex(parent_map.to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    return pd.Series(_depths(pidx), index=ids)


def unallocated(own: FloatArray, child: FloatArray) -> FloatArray:
    """What a node reported beyond the sum of its children (NaN where either side is missing)."""
    return own - child
