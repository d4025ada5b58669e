"""Pareto frontier of scenarios that trade one cost against another (health vs economy): both minimised.

A scenario is *dominated* when another is no worse on both costs and strictly better on at least one. The frontier
is the set of scenarios nobody dominates; pages show the dominated ones greyed. Pure: numpy only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def non_dominated(health: ArrayLike, economy: ArrayLike) -> NDArray[np.bool_]:
    """True for the scenarios on the frontier (minimising both). Sort by the first cost (ties by the second), then
    a scenario is on the frontier when its second cost is below every earlier one's; exact duplicates both stay.
    O(n log n)."""
    h = np.asarray(health, dtype=np.float64)
    e = np.asarray(economy, dtype=np.float64)
    if h.shape != e.shape or h.ndim != 1:
        raise ValueError("health and economic costs are two vectors of the same length")
    if not (np.all(np.isfinite(h)) and np.all(np.isfinite(e))):
        raise ValueError("costs must be finite")
    order = np.lexsort((e, h))
    hs, es = h[order], e[order]
    # earlier points in this order have h <= this h; one of them dominates iff its e <= this e and it is not the
    # very same point: compare with the best e before the first copy of this point
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], es[:-1]]))
    new_point = np.concatenate([[True], (hs[1:] != hs[:-1]) | (es[1:] != es[:-1])])
    first_copy = np.maximum.accumulate(np.where(new_point, np.arange(len(hs)), 0))
    keep = best_before[first_copy] > es
    out = np.zeros(len(h), dtype=bool)
    out[order] = keep
    return out


def frontier_order(health: ArrayLike, economy: ArrayLike) -> NDArray[np.int64]:
    """Indices of the frontier's scenarios from the least health cost to the least economic cost."""
    h = np.asarray(health, dtype=np.float64)
    mask = non_dominated(h, economy)
    idx = np.flatnonzero(mask)
    return np.asarray(idx[np.argsort(h[idx], kind="stable")], dtype=np.int64)
