"""Reporting schedules make late and missing reports facts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.surveillance import schedule, service


def test_classify_pure() -> None:
    due = pd.Series(pd.to_datetime(["2026-03-02 10:00Z"] * 4))
    received = pd.Series(pd.to_datetime(["2026-03-02 09:00Z", "2026-03-02 11:00Z", None, None], utc=True))
    out = schedule.classify(due, received, datetime(2026, 3, 2, 12, tzinfo=UTC))
    assert out.tolist() == ["on_time", "late", "missing", "missing"]
    out = schedule.classify(due, received, datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    assert out.tolist()[2] == "pending"


def test_compliance_and_flags(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        assert (
            service.set_schedule(
                s,
                SYSTEM,
                "AR-01-01",
                ["new_confirmed"],
                level="community",
                active_from=date(2026, 3, 1),
                deadline_hour=10,
                due_days_after=1,
            )
            == 2
        )
        for day, at in (
            ("2026-03-01", datetime(2026, 3, 2, 8, tzinfo=UTC)),
            ("2026-03-02", datetime(2026, 3, 3, 15, tzinfo=UTC)),
        ):
            service.submit(
                s,
                pd.DataFrame([{"jurisdiction": "AR-01-01-001", "date": day, "indicator": "new_confirmed", "value": 1}]),
                actor=SYSTEM,
                source="t",
                now=at,
            )
    now = datetime(2026, 3, 4, 12, tzinfo=UTC)
    with transaction(small_tree) as s:
        comp = service.compliance(s, "AR", date(2026, 3, 1), date(2026, 3, 3), now)
        status = {(r.jurisdiction, str(r.date)[:10]): r.status for r in comp.itertuples()}
        assert status[("AR-01-01-001", "2026-03-01")] == "on_time"
        assert status[("AR-01-01-001", "2026-03-02")] == "late"
        assert status[("AR-01-01-002", "2026-03-01")] == "missing"
        assert status[("AR-01-01-001", "2026-03-03")] == "missing"
        added = service.record_reporting_flags(s, "AR", date(2026, 3, 1), date(2026, 3, 3), now)
        assert added == 5  # 1 late + 4 missing
        assert service.record_reporting_flags(s, "AR", date(2026, 3, 1), date(2026, 3, 3), now) == 0
