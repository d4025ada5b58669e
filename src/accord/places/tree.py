"""Pure logic of the jurisdiction tree: depth, cycles and the closure of a parent array."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from accord.errors import Problem


def find_cycle(parent_of: Mapping[str, str | None]) -> list[str] | None:
    """Return the codes of a parent cycle if there is one (a node that is its own ancestor)."""
    state: dict[str, int] = {}
    for start in parent_of:
        path: list[str] = []
        node: str | None = start
        while node is not None and state.get(node, 0) == 0:
            state[node] = 1
            path.append(node)
            node = parent_of.get(node)
        if node is not None and state.get(node) == 1:
            return [*path[path.index(node) :], node]
        for p in path:
            state[p] = 2
    return None


def depths(parent_index: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Depth of every node given the index of its parent (-1 for roots); assumes no cycles."""
    n = len(parent_index)
    depth = np.full(n, -1, dtype=np.int64)
    depth[parent_index < 0] = 0
    for _ in range(n):
        todo = depth < 0
        if not todo.any():
            break
        parents = parent_index[todo]
        known = depth[parents] >= 0
        idx = np.flatnonzero(todo)[known]
        depth[idx] = depth[parent_index[idx]] + 1
    return depth


def closure_pairs(
    parent_index: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """All (ancestor, descendant, distance) index triples, including (node, node, 0).

    Vectorised by walking every node up one generation at a time: depth iterations, not n.
    """
    n = len(parent_index)
    anc = [np.arange(n)]
    desc = [np.arange(n)]
    dist = [np.zeros(n, dtype=np.int64)]
    current = np.arange(n)
    cur_desc = np.arange(n)
    k = 0
    while True:
        k += 1
        up = parent_index[current]
        keep = up >= 0
        if not keep.any():
            break
        current, cur_desc = up[keep], cur_desc[keep]
        anc.append(current)
        desc.append(cur_desc)
        dist.append(np.full(len(current), k, dtype=np.int64))
    return np.concatenate(anc), np.concatenate(desc), np.concatenate(dist)


def order_parents_first(codes: Sequence[str], parent_codes: Sequence[str | None]) -> list[int]:
    """Positions of rows so that each parent comes before its children (parents outside the list ignored)."""
    pos = {c: i for i, c in enumerate(codes)}
    order: list[int] = []
    seen: set[int] = set()
    for i in range(len(codes)):
        stack: list[int] = []
        j: int | None = i
        while j is not None and j not in seen:
            stack.append(j)
            seen.add(j)
            parent = parent_codes[j]
            j = pos.get(parent) if parent else None
        order.extend(reversed(stack))
    return order


def cycle_problem(cycle: list[str], file: str | None = None) -> Problem:
    return Problem(f"parent cycle {' -> '.join(cycle)}", file=file, field="parent_code", code="cycle")
