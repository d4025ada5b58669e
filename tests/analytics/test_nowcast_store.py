"""Nowcasting from the store's revision history (SQLite and PostgreSQL): reports planned by the demo's reporting
module (late reports, corrections) are submitted at their own times; as of a day, the provisional figures of the
last days are incomplete, and the nowcast -- with the delay distribution measured from the revisions -- is closer
to the final values than they are."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import SMALL_TREE

from accord.analytics import service
from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.demo import reporting
from accord.errors import AccordError
from accord.places import service as places
from accord.surveillance import service as surveillance

START = dt.date(2026, 1, 1)
DAYS = 56
REPORTERS = ("AR-01-01-001", "AR-01-01-002", "AR-01-02", "AR-02-01")
AS_OF = dt.datetime.combine(START + dt.timedelta(days=DAYS), dt.time(), dt.UTC)


def truth() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = []
    for i, code in enumerate(REPORTERS):
        level = (5 + 3 * i) * np.exp(0.04 * np.arange(DAYS))
        for t, v in enumerate(rng.poisson(level)):
            rows.append((code, START + dt.timedelta(days=t), "new_confirmed", "", int(v)))
    return pd.DataFrame(rows, columns=["jurisdiction", "date", "indicator", "disaggregation", "value"])


def load(sessions: sessionmaker[Session], now: dt.datetime | None) -> pd.DataFrame:
    data = truth()
    plan = reporting.plan_reports(
        data,
        SMALL_TREE,
        seed=3,
        now=now,
        params=reporting.ReportingParams(
            late_probabilities=(0.3, 0.15, 0.1), gap_rate=0.0, corrections=4, replays=0, errors=0
        ),
    )
    with transaction(sessions) as s:
        places.import_places(s, SMALL_TREE, file="tree")
    for batch in reporting.merge_for_bulk(plan):
        frame = pd.DataFrame(batch.rows, columns=list(reporting.ROW_KEYS))
        with transaction(sessions) as s:
            surveillance.submit(s, frame, actor=SYSTEM, source="test", idempotency_key=batch.idempotency_key,
                                now=batch.submitted_at)  # fmt: skip
    return data


def test_nowcast_recovers_final_values_better_than_provisional(sessions: sessionmaker[Session]) -> None:
    data = load(sessions, AS_OF)
    final = data.groupby("date")["value"].sum().to_numpy(dtype=float)  # the country's final daily counts
    with sessions() as s:
        result = service.regional_nowcast(s, "AR", as_of=AS_OF, days=DAYS, max_delay=14)
    assert [u.code for u in result.units] == ["AR", "AR-01", "AR-02"]
    r = result.result
    # nothing is reported on the day itself; about half of the country's cases a day later
    assert r.completeness[0] == 0.0
    assert 0.3 < r.completeness[1] < 0.8
    assert r.completeness[4] > 0.97
    recent = slice(DAYS - 4, DAYS - 1)  # delays 3, 2, 1
    raw = np.abs(r.observed[0, recent] - final[recent]).sum()
    now = np.abs(r.mean[0, recent] - final[recent]).sum()
    assert now < 0.5 * raw, (r.observed[0, recent], r.mean[0, recent], final[recent])
    assert np.isnan(r.mean[0, -1])  # the day itself: no nowcast
    # days older than the longest delay are final (corrections came within 14 days)
    assert np.array_equal(r.observed[0, : DAYS - 15], final[: DAYS - 15])
    frame = result.frame(last=5)
    assert len(frame) == 15 and set(frame.columns) >= {"provisional", "nowcast", "lower", "upper", "completeness"}
    assert result.meta()["completeness_by_delay"][0] == 0.0


def test_nowcast_parameters_are_checked(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        places.import_places(s, SMALL_TREE, file="tree")
    with sessions() as s, pytest.raises(AccordError, match="invalid nowcast parameters"):
        service.regional_nowcast(s, "AR", days=0)
