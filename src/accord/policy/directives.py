"""Directives down the tree (pure): which measure is in force at a place, and which new measures are allowed.

A measure issued at a jurisdiction applies to its whole subtree. For one indicator on one day, walk the path from
the root down to the place; the measure in force is carried down and a measure met on the way replaces it when

- it is **stricter** (a higher OxCGRT sub-index score: a higher level, or the same level general instead of
  targeted), or
- the measure in force **allows local relaxation** (then a lower jurisdiction may set a lower level for its own
  subtree).

Otherwise the stricter measure from above stays in force and the local one is overridden. A measure as strict
as the one in force does not replace it: the order came from above. Strictness is
:func:`accord.policy.indices.strictness`, so "stricter" means the same thing here as in the indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Step:
    """A measure in force at one node of a path."""

    measure_id: int
    depth: int  # depth of the issuing jurisdiction (root = 0)
    score: float  # strictness (sub-index score)
    allow_relaxation: bool


def replaces(current_score: float, current_allows: bool, new_score: float) -> bool:
    """Whether a measure met lower on the path replaces the one in force above it."""
    return new_score > current_score or (new_score < current_score and current_allows)


def effective_on_path(steps: Sequence[Step]) -> tuple[Step | None, list[Step]]:
    """The step in force at the bottom of the path and the steps it overrode (for one indicator and day).

    ``steps`` in any order; they are taken root first (by depth, then measure id).
    """
    current: Step | None = None
    overridden: list[Step] = []
    for step in sorted(steps, key=lambda s: (s.depth, s.measure_id)):
        if current is None:
            current = step
        elif replaces(current.score, current.allow_relaxation, step.score):
            if step.score > current.score:
                overridden.append(current)
            current = step
        else:
            overridden.append(step)
    return current, overridden


def forbidden_relaxation(ancestors: Sequence[Step], new_score: float) -> Step | None:
    """The measure above that forbids a new, less strict one, or None when the new one is allowed.

    ``ancestors``: the measures in force on the same indicator at the new measure's strict ancestors, at any
    day of its date range. The new measure is refused when it would be overridden by a stricter one that does
    not allow relaxation (it could never take effect: an order from above is not relaxed from below).
    """
    current, _ = effective_on_path(ancestors)
    if current is not None and new_score < current.score and not current.allow_relaxation:
        return current
    for step in ancestors:  # any stricter order forbidding relaxation, even if itself relaxed further up
        if new_score < step.score and not step.allow_relaxation:
            return step
    return None


def effective_on_tree(
    parent: IntArray, depth: IntArray, own_score: FloatArray, own_id: IntArray, own_allow: BoolArray
) -> tuple[FloatArray, IntArray]:
    """For every node of a tree at once: strictness and id of the measure in force (one indicator, one day).

    Arrays by node position: ``parent`` position (-1 for roots), ``depth``, and the node's own measure
    (``own_score`` NaN and ``own_id`` -1 when it has none). Returns (score, measure id), NaN / -1 where none.
    Vectorised per depth level: a tree of thousands of nodes and a handful of levels costs a few array passes.
    """
    n = len(parent)
    score = np.full(n, np.nan)
    mid = np.full(n, -1, dtype=np.int64)
    allow = np.zeros(n, dtype=bool)
    for d in range(int(depth.max()) + 1 if n else 0):
        at = np.flatnonzero(depth == d)
        p = parent[at]
        has_parent = p >= 0
        inh_score = np.where(has_parent, score[np.where(has_parent, p, 0)], np.nan)
        inh_id = np.where(has_parent, mid[np.where(has_parent, p, 0)], -1)
        inh_allow = np.where(has_parent, allow[np.where(has_parent, p, 0)], False)
        own = own_score[at]
        has_own = ~np.isnan(own)
        none_above = np.isnan(inh_score)
        with np.errstate(invalid="ignore"):
            take = has_own & (none_above | (own > inh_score) | ((own < inh_score) & inh_allow))
        score[at] = np.where(take, own, inh_score)
        mid[at] = np.where(take, own_id[at], inh_id)
        allow[at] = np.where(take, own_allow[at], inh_allow)
    return score, mid
