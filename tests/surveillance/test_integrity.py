"""The fact tables carry no foreign keys (bulk speed); the services must keep every reference valid."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.surveillance import service

ORPHANS = {
    "observation.jurisdiction": "SELECT COUNT(*) FROM observation o LEFT JOIN jurisdiction j ON j.id = "
    "o.jurisdiction_id WHERE j.id IS NULL",
    "observation.indicator": "SELECT COUNT(*) FROM observation o LEFT JOIN indicator i ON i.id = o.indicator_id "
    "WHERE i.id IS NULL",
    "observation.submission": "SELECT COUNT(*) FROM observation o LEFT JOIN submission s ON s.id = "
    "o.submission_id WHERE s.id IS NULL",
    "figure.jurisdiction": "SELECT COUNT(*) FROM figure f LEFT JOIN jurisdiction j ON j.id = f.jurisdiction_id "
    "WHERE j.id IS NULL",
    "figure.indicator": "SELECT COUNT(*) FROM figure f LEFT JOIN indicator i ON i.id = f.indicator_id "
    "WHERE i.id IS NULL",
    "figure without any revision": "SELECT COUNT(*) FROM figure f WHERE f.own_all IS NOT NULL AND NOT EXISTS "
    "(SELECT 1 FROM observation o WHERE o.jurisdiction_id = f.jurisdiction_id AND o.indicator_id = "
    "f.indicator_id AND o.date = f.date AND o.disaggregation = f.disaggregation)",
}


def test_no_dangling_references_after_a_working_day(small_tree: sessionmaker[Session]) -> None:
    t0 = datetime(2026, 3, 2, 20, tzinfo=UTC)
    frame = pd.DataFrame(
        [
            {"jurisdiction": c, "date": d, "indicator": i, "value": v}
            for c in ("AR-01-01-001", "AR-01-01-002", "AR-01-02", "AR-02-01")
            for d in ("2026-03-01", "2026-03-02")
            for i, v in (("new_confirmed", 4), ("new_deaths", 1), ("hospitalised", 7))
        ]
    )
    with transaction(small_tree) as s:
        service.submit(s, frame, actor=SYSTEM, source="t", now=t0)
        service.approve(s, SYSTEM, "AR-01-02", [date(2026, 3, 1)], now=t0)
    with transaction(small_tree) as s:
        fix = frame.iloc[:2].assign(value=9, reason="recount")
        service.submit(s, fix, actor=SYSTEM, source="t", now=t0 + timedelta(hours=3))
        service.publish_due(s, t0 + timedelta(days=3), 24)
    with transaction(small_tree) as s:
        for what, sql in ORPHANS.items():
            assert s.execute(text(sql)).scalar() == 0, what
        # the figure always equals the latest revision of its own reports
        mismatch = s.execute(
            text(
                "SELECT COUNT(*) FROM figure f JOIN observation o ON o.jurisdiction_id = f.jurisdiction_id AND "
                "o.indicator_id = f.indicator_id AND o.date = f.date AND o.disaggregation = f.disaggregation "
                "AND o.revision = f.revisions WHERE o.value <> f.own_all"
            )
        ).scalar()
        assert mismatch == 0
