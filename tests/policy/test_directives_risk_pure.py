"""The pure rules: strictest on the path (with relaxation), on a path and on a whole tree; the risk rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.policy import directives, risk
from accord.policy.directives import Step


def test_strictest_on_path_unless_relaxation_allowed() -> None:
    national = Step(1, 0, 100.0, False)
    province = Step(2, 1, 50.0, False)
    current, overridden = directives.effective_on_path([province, national])
    assert current == national and overridden == [province]
    relaxable = Step(1, 0, 100.0, True)
    current, overridden = directives.effective_on_path([relaxable, province])
    assert current == province and overridden == []
    city = Step(3, 2, 100.0, False)  # as strict as the one in force: the order from above stays
    assert directives.effective_on_path([national, city])[0] == national
    assert directives.effective_on_path([]) == (None, [])


def test_forbidden_relaxation() -> None:
    national = Step(1, 0, 100.0, False)
    assert directives.forbidden_relaxation([national], 50.0) == national
    assert directives.forbidden_relaxation([national], 100.0) is None
    assert directives.forbidden_relaxation([Step(1, 0, 100.0, True)], 50.0) is None
    # a relaxable order below a stricter one that is not: still refused
    assert directives.forbidden_relaxation([Step(1, 0, 60.0, False), Step(2, 1, 90.0, True)], 30.0) == Step(
        1, 0, 60.0, False
    )


@st.composite
def trees(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 40))
    parent = np.array([-1] + [draw(st.integers(0, i - 1)) for i in range(1, n)], dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        depth[i] = depth[parent[i]] + 1
    has = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    score = np.array(draw(st.lists(st.sampled_from([0.0, 25.0, 50.0, 75.0, 100.0]), min_size=n, max_size=n)))
    allow = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return parent, depth, np.where(has, score, np.nan), np.where(has, np.arange(n), -1), allow


@settings(max_examples=150, deadline=None)
@given(trees())
def test_tree_agrees_with_path_walk(tree: tuple[np.ndarray, ...]) -> None:
    parent, depth, score, ids, allow = tree
    got_score, got_id = directives.effective_on_tree(parent, depth, score, ids, allow)
    for node in range(len(parent)):
        path = []
        p = node
        while p >= 0:
            if ids[p] >= 0:
                path.append(Step(int(ids[p]), int(depth[p]), float(score[p]), bool(allow[p])))
            p = parent[p]
        current, _ = directives.effective_on_path(path)
        assert got_id[node] == (current.measure_id if current else -1)
        # invariant: without relaxation allowed anywhere, nothing is less strict than any order above it
        if current is not None and not allow.any():
            assert got_score[node] == max(s.score for s in path)


def test_risk_rule_defaults_like_china_2020() -> None:
    levels = risk.classify([0, 1, 50, 51, 51, 200], [False, False, True, True, False, True])
    assert levels.tolist() == ["low", "medium", "medium", "high", "medium", "high"]
    loose = risk.RiskRule(version="count-only", high_needs_cluster=False, high_cases=10)
    assert risk.classify([11], [False], loose).tolist() == ["high"]
    with pytest.raises(AccordError, match="field 'high_cases'"):
        risk.RiskRule(version="bad", high_cases=0, medium_cases=1)
    with pytest.raises(AccordError, match="unknown parameter"):
        risk.RiskRule.from_dict({"version": "x", "threshold": 3})
    assert "more than 50 new cases in 14 days with a cluster" in risk.DEFAULT_RULE.describe()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 20), st.integers(1, 60), st.integers(0, 2**31 - 1))
def test_window_sums_and_series_match_a_naive_loop(window: int, days: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    daily = rng.poisson(1.5, size=(3, days))
    sums = risk.window_sums(daily, window)
    for t in range(days):
        assert (sums[:, t] == daily[:, max(0, t - window + 1) : t + 1].sum(axis=1)).all()
    rule = risk.RiskRule(version="t", window_days=window, high_cases=5, cluster_cases=3)
    units = rng.poisson(0.7, size=(6, days))
    unit_region = np.array([0, 0, 1, 1, -1, 2])
    levels, cases, cluster = risk.classify_series(daily, units, unit_region, rule)
    usum = risk.window_sums(units, window)
    for r in range(3):
        mine = usum[unit_region == r]
        expect_cluster = (mine >= 3).any(axis=0) if len(mine) else np.zeros(days, dtype=bool)
        assert (cluster[r] == expect_cluster).all()
    assert set(levels.ravel()) <= {"low", "medium", "high"}
    assert ((levels == "high") == ((cases > 5) & cluster)).all()
