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

from collections.abc import Callable

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
    ``parents``: parent id indexed by jurisdiction id (NaN/-1 for roots) for every jurisdiction involved.
    Returns KEY + STATE_COLUMNS for the rows that changed.

    Keys are packed into one int64 (jurisdiction | indicator, day, disaggregation) so every step is a numpy
    operation on integer arrays: no multi-column joins on the hot path of every submission.
    """
    if changes.empty:
        return pd.DataFrame(columns=KEY + STATE_COLUMNS)
    codec = _KeyCodec(state, changes)
    parent_of = _lookup(parents.fillna(-1).astype(np.int64))
    depth_of = _lookup(_depth_series(parents.fillna(-1).astype(np.int64)))

    st_keys = codec.encode(state) if len(state) else np.empty(0, np.int64)
    st_vals = state[STATE_COLUMNS].to_numpy(dtype=float) if len(state) else np.empty((0, 4))
    st_vals = np.vstack([st_vals, np.full((1, 4), np.nan)])
    st_index = pd.Index(st_keys)
    ch_keys = codec.encode(changes)
    ch_own = np.column_stack(
        [
            changes["own_all"].to_numpy(dtype=float),
            changes["own_pub"].to_numpy(dtype=float) if "own_pub" in changes else np.full(len(changes), np.nan),
        ]
    )
    ch_depth = depth_of(codec.jurisdiction(ch_keys))

    pend_keys = np.empty(0, np.int64)
    pend_delta = np.empty((0, 2))
    pend_present = np.empty((0, 2), dtype=bool)
    out_keys: list[npt.NDArray[np.int64]] = []
    out_vals: list[FloatArray] = []
    max_level = int(ch_depth.max())
    for level in range(max_level, -1, -1):
        at_ch = ch_depth == level
        at_p = depth_of(codec.jurisdiction(pend_keys)) == level
        keys = np.union1d(ch_keys[at_ch], pend_keys[at_p])
        if len(keys) == 0:
            continue
        pos = st_index.get_indexer(pd.Index(keys))
        old = st_vals[np.where(pos >= 0, pos, len(st_vals) - 1)]  # the last row is an all-NaN sentinel
        own_new = np.full((len(keys), 2), np.nan)
        own_new[np.searchsorted(keys, ch_keys[at_ch])] = ch_own[at_ch]
        delta = np.zeros((len(keys), 2))
        present = np.zeros((len(keys), 2), dtype=bool)
        idx = np.searchsorted(keys, pend_keys[at_p])
        delta[idx] = pend_delta[at_p]
        present[idx] = pend_present[at_p]
        new = old.copy()
        for k in (0, 1):  # 0 = all, 1 = public
            own_col, child_col = k, 2 + k
            old_child = old[:, child_col]
            new[:, child_col] = np.where(
                np.isnan(old_child), np.where(present[:, k], delta[:, k], np.nan), old_child + delta[:, k]
            )
            new[:, own_col] = np.where(np.isnan(own_new[:, k]), old[:, own_col], own_new[:, k])
        out_keys.append(keys)
        out_vals.append(new)
        pend_keys, pend_delta, pend_present = _push_up(keys, old, new, codec, parent_of)
    result_keys = np.concatenate(out_keys)
    frame = codec.decode(result_keys)
    values = np.concatenate(out_vals)
    for i, col in enumerate(STATE_COLUMNS):
        frame[col] = values[:, i]
    return frame


def _push_up(
    keys: npt.NDArray[np.int64],
    old: FloatArray,
    new: FloatArray,
    codec: _KeyCodec,
    parent_of: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.int64]],
) -> tuple[npt.NDArray[np.int64], FloatArray, npt.NDArray[np.bool_]]:
    """Each node's change of effective figure, summed per parent key."""
    parents = parent_of(codec.jurisdiction(keys))
    up = parents >= 0
    old_eff = np.column_stack([effective(old[:, 0], old[:, 2]), effective(old[:, 1], old[:, 3])])
    new_eff = np.column_stack([effective(new[:, 0], new[:, 2]), effective(new[:, 1], new[:, 3])])
    delta = np.nan_to_num(new_eff) - np.nan_to_num(old_eff)
    present = ~np.isnan(new_eff)
    parent_keys = codec.with_jurisdiction(keys[up], parents[up])
    uniq, inverse = np.unique(parent_keys, return_inverse=True)
    sums = np.zeros((len(uniq), 2))
    np.add.at(sums, inverse, delta[up])
    any_present = np.zeros((len(uniq), 2), dtype=bool)
    np.logical_or.at(any_present, inverse, present[up])
    return uniq, sums, any_present


class _KeyCodec:
    """Packs (jurisdiction, indicator, day, disaggregation) into one sortable int64."""

    DAY_BITS, DIS_BITS, IND_BITS = 24, 6, 10
    SLOT_BITS = DAY_BITS + DIS_BITS + IND_BITS

    def __init__(self, *frames: pd.DataFrame) -> None:
        labels = pd.unique(np.concatenate([f["disaggregation"].astype(object).to_numpy() for f in frames if len(f)]))
        self.dis_labels = np.asarray(labels, dtype=object)
        self.dis_code = {v: i for i, v in enumerate(self.dis_labels.tolist())}

    def encode(self, frame: pd.DataFrame) -> npt.NDArray[np.int64]:
        j = frame["jurisdiction_id"].to_numpy(dtype=np.int64)
        i = frame["indicator_id"].to_numpy(dtype=np.int64)
        day = pd.to_datetime(frame["date"]).to_numpy().astype("datetime64[D]").astype(np.int64) + (1 << 20)
        dis = frame["disaggregation"].astype(object).map(self.dis_code).to_numpy(dtype=np.int64)
        slot = (i << (self.DAY_BITS + self.DIS_BITS)) | (day << self.DIS_BITS) | dis
        packed: npt.NDArray[np.int64] = (j << self.SLOT_BITS) | slot
        return packed

    def jurisdiction(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return keys >> self.SLOT_BITS

    def with_jurisdiction(self, keys: npt.NDArray[np.int64], j: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return (j << self.SLOT_BITS) | (keys & ((1 << self.SLOT_BITS) - 1))

    def decode(self, keys: npt.NDArray[np.int64]) -> pd.DataFrame:
        slot = keys & ((1 << self.SLOT_BITS) - 1)
        day = ((slot >> self.DIS_BITS) & ((1 << self.DAY_BITS) - 1)) - (1 << 20)
        return pd.DataFrame(
            {
                "jurisdiction_id": keys >> self.SLOT_BITS,
                "indicator_id": slot >> (self.DAY_BITS + self.DIS_BITS),
                "date": pd.to_datetime(day.astype("datetime64[D]")),
                "disaggregation": pd.Series(self.dis_labels[slot & ((1 << self.DIS_BITS) - 1)], dtype=object),
            }
        )


def _lookup(series: pd.Series) -> Callable[[npt.NDArray[np.int64]], npt.NDArray[np.int64]]:
    """A vectorised id -> value map (value -1 for unknown ids)."""
    index = pd.Index(series.index.to_numpy(dtype=np.int64))
    values = series.to_numpy(dtype=np.int64)

    def get(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        pos = index.get_indexer(pd.Index(ids))
        return np.where(pos >= 0, values[np.maximum(pos, 0)], -1)

    return get


def _depth_series(parent_map: pd.Series) -> pd.Series:
    ids = parent_map.index.to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    pidx = pos.reindex(parent_map.to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    return pd.Series(_depths(pidx), index=ids)


def unallocated(own: FloatArray, child: FloatArray) -> FloatArray:
    """What a node reported beyond the sum of its children (NaN where either side is missing)."""
    return own - child
