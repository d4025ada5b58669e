"""Small-count suppression, pure: for random trees and values no withheld figure can be recovered from the
published ones, by subtracting shown children from a shown total or by any other linear combination."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.disclosure import suppression as sup
from accord.disclosure.suppression import COMPLEMENT, PRIMARY, SHOWN, SuppressionPolicy


@st.composite
def trees(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random tree (parents before children), its depths, and consistent values (a parent is the sum of its
    children) for a few columns (days); leaves mostly small counts, some zeros."""
    n = draw(st.integers(1, 22))
    parent = [-1]
    for i in range(1, n):
        parent.append(draw(st.integers(0, i - 1)))
    depth = [0] * n
    for i in range(1, n):
        depth[i] = depth[parent[i]] + 1
    columns = draw(st.integers(1, 3))
    values = np.zeros((n, columns))
    leaves = [i for i in range(n) if i not in parent]
    for j in range(columns):
        for i in leaves:
            values[i, j] = draw(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 7, 12, 40]))
    for i in sorted(range(n), key=lambda k: -depth[k]):
        if i not in leaves:
            values[i] = sum(values[k] for k in range(n) if parent[k] == i)
    return np.array(parent, dtype=np.int64), np.array(depth, dtype=np.int64), values


policies = st.builds(SuppressionPolicy, below=st.integers(2, 6), from_depth=st.integers(0, 3))


def equations(parent: np.ndarray) -> np.ndarray:
    """One row per parent: +1 for the parent, -1 for each child (each row sums to zero on consistent data)."""
    rows = []
    for p in sorted(set(parent.tolist()) - {-1}):
        row = np.zeros(len(parent))
        row[p] = 1
        row[parent == p] = -1
        rows.append(row)
    return np.array(rows).reshape(-1, len(parent))


def determined(a: np.ndarray, unknown: np.ndarray, cell: int) -> bool:
    """Whether the unknown ``cell`` follows from the equations once every known figure is substituted:
    it does exactly when its unit vector lies in the row space of the equations restricted to unknowns."""
    sub = a[:, unknown]
    if sub.size == 0:
        return False
    e = (np.flatnonzero(unknown) == cell).astype(float)[None, :]
    return bool(np.linalg.matrix_rank(np.vstack([sub, e])) == np.linalg.matrix_rank(sub))


@settings(max_examples=300, deadline=None)
@given(trees(), policies)
def test_no_withheld_figure_can_be_recovered(tree: tuple[np.ndarray, np.ndarray, np.ndarray], policy) -> None:
    parent, depth, values = tree
    status = sup.plan(parent, depth, values, policy)
    # every small count at a suppressed depth is withheld as primary
    small = (values >= 1) & (values < policy.below) & (depth >= policy.from_depth)[:, None]
    assert (status[small] == PRIMARY).all()
    assert set(np.unique(status)) <= {SHOWN, PRIMARY, COMPLEMENT}
    a = equations(parent)
    for j in range(values.shape[1]):
        hidden = status[:, j] != SHOWN
        # the brief's attack: a shown total minus its shown children never isolates one figure
        for p in sorted(set(parent.tolist()) - {-1}):
            kids = parent == p
            if not hidden[p]:
                assert hidden[kids].sum() != 1
        # and no linear combination of the equations does either
        for cell in np.flatnonzero(hidden):
            assert not determined(a, hidden, int(cell)), (parent.tolist(), values[:, j].tolist(), status[:, j])


@settings(max_examples=100, deadline=None)
@given(trees(), policies)
def test_off_and_deterministic(tree: tuple[np.ndarray, np.ndarray, np.ndarray], policy) -> None:
    parent, depth, values = tree
    assert (sup.plan(parent, depth, values, SuppressionPolicy()) == SHOWN).all()
    assert (sup.plan(parent, depth, values, policy) == sup.plan(parent, depth, values, policy)).all()


def test_smallest_sibling_is_the_complement_and_marks() -> None:
    # root 0 -> 1, 2, 3 (depth 1); child 1 has 3 cases: 2 is the smallest shown sibling
    parent = np.array([-1, 0, 0, 0])
    depth = np.array([0, 1, 1, 1])
    values = np.array([[3 + 9 + 20], [3], [9], [20]], dtype=float)
    policy = SuppressionPolicy(5, 1)
    status = sup.plan(parent, depth, values, policy)
    assert status[:, 0].tolist() == [SHOWN, PRIMARY, COMPLEMENT, SHOWN]
    assert policy.mark(PRIMARY) == "<5" and policy.mark(COMPLEMENT) == "x"
    # a single child equals its parent: the parent goes too, and then a sibling of the parent
    parent = np.array([-1, 0, 0, 1])
    depth = np.array([0, 1, 1, 2])
    values = np.array([[10], [2], [8], [2]], dtype=float)
    status = sup.plan(parent, depth, values, SuppressionPolicy(5, 2))
    assert status[:, 0].tolist() == [SHOWN, COMPLEMENT, COMPLEMENT, PRIMARY]


def test_sensitive_parts_and_time_windows() -> None:
    parent = np.array([-1, 0, 0])
    depth = np.array([0, 1, 1])
    values = np.array([[40, 40], [20, 20], [20, 20]], dtype=float)
    sensitive = np.array([[False, False], [True, False], [False, False]])  # e.g. 2 imported cases on day 0
    status = sup.plan(parent, depth, values, SuppressionPolicy(5, 1), sensitive)
    assert status[:, 0].tolist() == [SHOWN, PRIMARY, COMPLEMENT] and (status[:, 1] == SHOWN).all()
    runs = sup.hidden_runs(status)
    assert runs[:, -1].tolist() == [0, 1, 1]
    assert sup.window_hidden(status, 1, 1).tolist() == [False, False, False]
    assert sup.window_hidden(status, -6, 1).tolist() == [False, True, True]


def test_the_module_is_pure() -> None:
    tree = ast.parse(Path(sup.__file__).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "dataclasses", "numpy", "numpy.typing"}
