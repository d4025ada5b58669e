"""Submissions, roll-up, revisions, approval and as-of queries on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.errors import AccordError, Conflict
from accord.surveillance import service
from accord.surveillance.model import Flag, Observation

T0 = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


def rows(*items: tuple[str, str, str, float] | tuple[str, str, str, float, str]) -> pd.DataFrame:
    out = []
    for it in items:
        code, day, indicator, value, *rest = it
        out.append(
            {
                "jurisdiction": code,
                "date": day,
                "indicator": indicator,
                "value": value,
                "reason": rest[0] if rest else "",
            }
        )
    return pd.DataFrame(out)


def submit(sessions: sessionmaker[Session], frame: pd.DataFrame, now: datetime = T0, key: str | None = None):
    with transaction(sessions) as s:
        return service.submit(s, frame, actor=SYSTEM, source="test", idempotency_key=key, now=now)


def value(sessions: sessionmaker[Session], code: str, day: str, view: str = "all", **kw: object) -> float | None:
    with transaction(sessions) as s:
        frame = service.series(s, code, kw.pop("indicator", "new_confirmed"), view=view, **kw)  # type: ignore[arg-type]
    hit = frame[frame["date"] == pd.Timestamp(day)]
    return None if hit.empty else float(hit["value"].iat[0])


def test_rollup_sums_children_up_every_level(small_tree: sessionmaker[Session]) -> None:
    submit(
        small_tree,
        rows(
            ("AR-01-01-001", "2026-03-01", "new_confirmed", 5),
            ("AR-01-01-002", "2026-03-01", "new_confirmed", 7),
            ("AR-01-02", "2026-03-01", "new_confirmed", 3),
            ("AR-02-01", "2026-03-01", "new_confirmed", 11),
        ),
    )
    assert value(small_tree, "AR-01-01", "2026-03-01") == 12
    assert value(small_tree, "AR-01", "2026-03-01") == 15
    assert value(small_tree, "AR", "2026-03-01") == 26
    # a revision propagates its delta, not its value
    submit(
        small_tree,
        rows(("AR-01-01-001", "2026-03-01", "new_confirmed", 8, "late lab results")),
        now=T0 + timedelta(hours=2),
    )
    assert value(small_tree, "AR", "2026-03-01") == 29


def test_own_total_wins_and_unallocated_is_shown(small_tree: sessionmaker[Session]) -> None:
    submit(
        small_tree,
        rows(("AR-01-01-001", "2026-03-01", "new_confirmed", 5), ("AR-01", "2026-03-01", "new_confirmed", 9)),
    )
    with transaction(small_tree) as s:
        frame = service.series(s, "AR-01", "new_confirmed", view="all")
    row = frame.iloc[0]
    assert (row["value"], row["own"], row["children"], row["unallocated"]) == (9, 9, 5, 4)
    assert value(small_tree, "AR", "2026-03-01") == 9  # the province's own report counts upward


def test_children_exceeding_parent_is_flagged(small_tree: sessionmaker[Session]) -> None:
    submit(small_tree, rows(("AR-01", "2026-03-01", "new_confirmed", 3)))
    result = submit(small_tree, rows(("AR-01-01-001", "2026-03-01", "new_confirmed", 5)), now=T0 + timedelta(minutes=5))
    assert any(w["code"] == "children_exceed_parent" for w in result.warnings)


def test_replayed_batch_is_a_no_op_and_reused_key_with_other_content_conflicts(
    small_tree: sessionmaker[Session],
) -> None:
    frame = rows(("AR-01-02", "2026-03-01", "new_deaths", 1))
    first = submit(small_tree, frame, key="k1")
    again = submit(small_tree, frame, key="k1", now=T0 + timedelta(hours=1))
    assert again.replayed and again.submission_id == first.submission_id
    with transaction(small_tree) as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 1
    with pytest.raises(Conflict):
        submit(small_tree, rows(("AR-01-02", "2026-03-01", "new_deaths", 2)), key="k1")


def test_half_valid_batch_is_rejected_whole_with_line_numbers(small_tree: sessionmaker[Session]) -> None:
    bad = rows(
        ("AR-01-02", "2026-03-01", "new_confirmed", 4),
        ("AR-01-02", "2026-03-01", "new_deaths", -1),
        ("NOPE", "2026-03-01", "new_confirmed", 1),
        ("AR-01-02", "2030-01-01", "new_confirmed", 1),
        ("AR-01-02", "2026-03-02", "new_confirmed", 1.5),
    )
    with pytest.raises(AccordError) as info:
        submit(small_tree, bad)
    codes = [p.code for p in info.value.problems]
    assert codes == ["unknown_jurisdiction", "future_date", "non_integer_count", "negative_count"] or set(codes) == {
        "negative_count",
        "unknown_jurisdiction",
        "future_date",
        "non_integer_count",
    }
    lines = {p.code: p.line for p in info.value.problems}
    assert lines["negative_count"] == 3 and lines["unknown_jurisdiction"] == 4
    with transaction(small_tree) as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 0


def test_approval_publishes_and_locks(small_tree: sessionmaker[Session]) -> None:
    submit(
        small_tree,
        rows(("AR-01-01-001", "2026-03-01", "new_confirmed", 5), ("AR-01-01-002", "2026-03-01", "new_confirmed", 7)),
    )
    assert value(small_tree, "AR", "2026-03-01", view="public") is None  # provisional: not public
    with transaction(small_tree) as s:
        assert service.approve(s, SYSTEM, "AR-01-01-001", [date(2026, 3, 1)]) == 1
    assert value(small_tree, "AR", "2026-03-01", view="public") == 5
    assert value(small_tree, "AR", "2026-03-01", view="all") == 12
    with pytest.raises(AccordError, match="needs a reason"):
        submit(small_tree, rows(("AR-01-01-001", "2026-03-01", "new_confirmed", 6)), now=T0 + timedelta(hours=1))
    submit(
        small_tree,
        rows(("AR-01-01-001", "2026-03-01", "new_confirmed", 6, "duplicate removed")),
        now=T0 + timedelta(hours=1),
    )
    assert value(small_tree, "AR", "2026-03-01", view="public") == 6  # the correction is public at once


def test_auto_publication_after_delay_unless_held(small_tree: sessionmaker[Session]) -> None:
    submit(
        small_tree, rows(("AR-01-02", "2026-03-01", "new_confirmed", 2), ("AR-02-01", "2026-03-01", "new_confirmed", 3))
    )
    with transaction(small_tree) as s:
        service.set_hold(s, SYSTEM, "AR-02-01", [date(2026, 3, 1)], hold=True)
        assert service.publish_due(s, T0 + timedelta(hours=1), 24) == 0
        assert service.publish_due(s, T0 + timedelta(hours=25), 24) == 1
    assert value(small_tree, "AR", "2026-03-01", view="public") == 2


def test_as_of_returns_what_was_known_then(small_tree: sessionmaker[Session]) -> None:
    submit(small_tree, rows(("AR-01-01-001", "2026-03-01", "new_confirmed", 5)))
    submit(
        small_tree, rows(("AR-01-01-001", "2026-03-01", "new_confirmed", 9, "late results")), now=T0 + timedelta(days=1)
    )
    before = T0 + timedelta(hours=1)
    assert value(small_tree, "AR", "2026-03-01", as_of=before) == 5
    assert value(small_tree, "AR", "2026-03-01") == 9
    with transaction(small_tree) as s:
        hist = service.history(s, "AR-01-01-001", "new_confirmed", date(2026, 3, 1))
    assert hist["value"].tolist() == [5, 9] and hist["reason"].tolist()[1] == "late results"


def test_cumulative_is_derived_and_decrease_is_kept_and_flagged(small_tree: sessionmaker[Session]) -> None:
    submit(
        small_tree,
        rows(
            ("AR-01-02", "2026-03-01", "new_recovered", 10),
            ("AR-01-02", "2026-03-02", "new_recovered", -3, "cumulative decreased from 10 to 7"),
        ),
    )
    with transaction(small_tree) as s:
        frame = service.series(s, "AR-01-02", "cum_recovered", view="all")
        flags = s.scalars(select(Flag.code)).all()
    assert frame["value"].tolist() == [10, 7]
    assert "cumulative_decrease" in flags


def test_imported_and_local_parts_roll_up_separately(small_tree: sessionmaker[Session]) -> None:
    frame = pd.DataFrame(
        [
            {
                "jurisdiction": "AR-01-02",
                "date": "2026-03-01",
                "indicator": "new_confirmed",
                "disaggregation": d,
                "value": v,
            }
            for d, v in (("", 5), ("imported", 2), ("local", 3))
        ]
    )
    submit(small_tree, frame)
    assert value(small_tree, "AR", "2026-03-01", disaggregation="imported") == 2
    assert value(small_tree, "AR", "2026-03-01") == 5
