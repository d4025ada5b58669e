"""The jurisdiction tree on SQLite and PostgreSQL: closure, moves, deletes, refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.errors import AccordError, Conflict
from accord.places import service
from accord.places.model import JurisdictionClosure
from accord.surveillance import service as surveillance


def codes(items: list) -> list[str]:  # type: ignore[type-arg]
    return [j.code if not isinstance(j, tuple) else j[0].code for j in items]


def closure_is_consistent(session: Session) -> None:
    """Every stored pair equals the pairs derived by walking parents: the closure never drifts."""
    index = service.load_index(session)
    expected = set()
    parent = dict(zip(index.ids.tolist(), index.parent_ids.tolist(), strict=True))
    for node in index.ids.tolist():
        cur, dist = node, 0
        while cur >= 0:
            expected.add((cur, node, dist))
            cur, dist = parent[cur], dist + 1
    stored = set(
        session.execute(
            select(JurisdictionClosure.ancestor_id, JurisdictionClosure.descendant_id, JurisdictionClosure.distance)
        ).all()
    )
    assert stored == expected


def test_subtree_and_path_at_any_depth(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        node = service.get(s, "AR-01-01-002")
        assert codes(service.ancestors(s, node.id)) == ["AR", "AR-01", "AR-01-01", "AR-01-01-002"]
        root = service.get(s, "AR")
        assert set(codes(service.subtree(s, root.id, level="city"))) == {"AR-01-01", "AR-01-02", "AR-02-01"}
        assert len(service.subtree(s, root.id)) == 8
        assert node.depth == 3
        assert [j.code for j in service.search(s, "磨坊")] == ["AR-01-01-002"]
        closure_is_consistent(s)


def test_reimport_updates_names_and_adds_a_level(small_tree: sessionmaker[Session]) -> None:
    extra = pd.DataFrame(
        [
            ("AR-01-01-001", "Old Town Centre", "老城", "community", "AR-01-01", 210_000),
            ("AR-01-01-001-A", "Grid cell A", "网格A", "grid", "AR-01-01-001", 5_000),
        ],
        columns=["code", "name", "local_name", "level", "parent_code", "population"],
    )
    with transaction(small_tree) as s:
        result = service.import_places(s, extra)
        assert (result.created, result.updated) == (1, 1)
        grid = service.get(s, "AR-01-01-001-A")
        assert grid.depth == 4 and codes(service.ancestors(s, grid.id))[0] == "AR"
        closure_is_consistent(s)


def test_move_without_data_keeps_the_closure_right(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        city = service.get(s, "AR-01-01")
        service.move(s, city, service.get(s, "AR-02").id)
        closure_is_consistent(s)
        assert codes(service.ancestors(s, service.get(s, "AR-01-01-001").id))[:3] == ["AR", "AR-02", "AR-01-01"]


def test_move_or_delete_with_data_is_refused(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        surveillance.submit(
            s,
            pd.DataFrame(
                [{"jurisdiction": "AR-01-01-001", "date": "2026-03-01", "indicator": "new_confirmed", "value": 3}]
            ),
            actor=SYSTEM,
            source="test",
            now=datetime(2026, 3, 2, tzinfo=UTC),
        )
    with transaction(small_tree) as s, pytest.raises(Conflict, match="holds reported data"):
        service.move(s, service.get(s, "AR-01-01"), service.get(s, "AR-02").id)
    with transaction(small_tree) as s, pytest.raises(Conflict, match="holds reported data"):
        service.delete_place(s, "AR-01-01-001")
    with transaction(small_tree) as s, pytest.raises(Conflict, match="child jurisdictions"):
        service.delete_place(s, "AR-02")
    with transaction(small_tree) as s:
        service.delete_place(s, "AR-02-01")  # no data, no children: allowed
        closure_is_consistent(s)


def test_cycles_and_unknown_parents_are_refused_whole(small_tree: sessionmaker[Session]) -> None:
    bad = pd.DataFrame(
        [
            ("X1", "One", "", "a", "X2", None),
            ("X2", "Two", "", "a", "X1", None),
            ("X3", "Three", "", "a", "NOWHERE", None),
        ],
        columns=["code", "name", "local_name", "level", "parent_code", "population"],
    )
    with transaction(small_tree) as s, pytest.raises(AccordError) as info:
        service.import_places(s, bad, file="places.csv")
    kinds = {p.code for p in info.value.problems}
    assert kinds == {"cycle", "unknown_parent"}
    with transaction(small_tree) as s:
        assert service.load_index(s).id_of("X3") is None
