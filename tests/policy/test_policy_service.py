"""The measures registry, directives down the tree, inboxes and risk areas on a real store (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from accord.auth import service as auth
from accord.auth.roles import SYSTEM, Role
from accord.db import transaction
from accord.errors import AccordError, Conflict, Forbidden
from accord.policy import in_force, measures, oxcgrt_import, risk, risk_areas
from accord.policy.measures import MeasureInput
from accord.policy.model import Measure, Notice, RiskArea
from accord.surveillance import service as surveillance

D = dt.date(2020, 1, 23)
NOW = dt.datetime(2020, 4, 1, 12, tzinfo=dt.UTC)


def _add(
    s: Session, code: str, ind: str, level: int, start: dt.date = D, end: dt.date | None = None, **kw: object
) -> Measure:
    return measures.add_measure(s, SYSTEM, MeasureInput(code, ind, level, start, end, **kw))  # type: ignore[arg-type]


def _count(s: Session, model: type) -> int:
    return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_directive_applies_down_the_tree_and_local_may_go_stricter(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        national = _add(s, "AR", "C6", 2, notes="national stay-at-home order", source="Decree 1")
        local = _add(s, "AR-01-01", "C6", 3, D + dt.timedelta(days=3), D + dt.timedelta(days=20))
        national_id, local_id = national.id, local.id
    with transaction(small_tree) as s:
        at_leaf = {f.indicator: f for f in in_force.in_force(s, "AR-01-01-001", D + dt.timedelta(days=5))}
        assert at_leaf["C6"].level == 3 and at_leaf["C6"].measure["id"] == local_id
        assert at_leaf["C6"].measure["jurisdiction"] == "AR-01-01"
        assert [o["id"] for o in at_leaf["C6"].overridden] == [national_id]
        # elsewhere, and before the local measure starts: the national order, and who ordered it
        south = in_force.in_force(s, "AR-02-01", D + dt.timedelta(days=5))
        assert [(f.indicator, f.level, f.as_dict()["ordered_by"]) for f in south] == [("C6", 2, "AR")]
        before = in_force.in_force(s, "AR-01-01-001", D + dt.timedelta(days=1))
        assert before[0].measure["id"] == national_id
        assert in_force.in_force(s, "AR", D - dt.timedelta(days=1)) == []
        # inboxes: the national directive reached all 8 places, the local one its 3
        assert len(measures.inbox(s, SYSTEM, "AR-01-01-002")) == 2
        assert len(measures.inbox(s, SYSTEM, "AR-02")) == 1
        assert measures.mark_read(s, SYSTEM, "AR-02") == 1
        assert measures.inbox(s, SYSTEM, "AR-02", unread_only=True) == []
        assert _count(s, Notice) == 8 + 3


def test_forbidden_relaxation_is_refused_and_allowed_one_takes_effect(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        strict = _add(s, "AR", "C1", 3)
        _add(s, "AR", "C2", 3, allow_relaxation=True)
        strict_id = strict.id
    with pytest.raises(Conflict) as err, transaction(small_tree) as s:
        _add(s, "AR-01", "C1", 1, D + dt.timedelta(days=10))
    assert f"measure {strict_id} (C1 level 3 general at 'AR'" in str(err.value)
    assert "does not allow a lower level" in str(err.value)
    with transaction(small_tree) as s:
        assert _count(s, Measure) == 2  # nothing half-applied
        _add(s, "AR-01", "C2", 1, D + dt.timedelta(days=10))  # relaxation the directive allows
        _add(s, "AR-01", "C1", 3, D + dt.timedelta(days=10), notes="restating the order is fine")
    with pytest.raises(Conflict), transaction(small_tree) as s:
        _add(s, "AR-01-01", "C1", 3, D, targeted=True)  # half a step lower: a relaxation too
    with transaction(small_tree) as s:
        forced = {f.indicator: f for f in in_force.in_force(s, "AR-01-01", D + dt.timedelta(days=12))}
        assert forced["C2"].level == 1 and forced["C2"].measure["jurisdiction"] == "AR-01"
        assert forced["C1"].level == 3 and forced["C1"].measure["jurisdiction"] == "AR"  # the order came from above


def test_overlap_at_the_same_jurisdiction_is_refused_naming_the_record(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        first = _add(s, "AR-01", "C4", 2, D, D + dt.timedelta(days=9))
        first_id = first.id
    with pytest.raises(Conflict) as err, transaction(small_tree) as s:
        _add(s, "AR-01", "C4", 4, D + dt.timedelta(days=9))
    assert f"overlaps measure {first_id} (C4 level 2 general at 'AR-01', 2020-01-23 to 2020-02-01)" in str(err.value)
    with transaction(small_tree) as s:
        _add(s, "AR-01", "C4", 4, D + dt.timedelta(days=10))  # the day after: fine
        _add(s, "AR-02", "C4", 1, D)  # another jurisdiction: fine


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (MeasureInput("AR", "C9", 1, D), "field 'indicator': unknown indicator code 'C9'"),
        (MeasureInput("AR", "C6", 4, D), "field 'level': level 4 is out of range for C6"),
        (MeasureInput("AR", "C6", 2, D, D - dt.timedelta(days=1)), "field 'end'"),
        (MeasureInput("AR", "C8", 2, D, targeted=True), "C8 has no targeted/general flag"),
        (MeasureInput("XX", "C6", 2, D), "no jurisdiction with code 'XX'"),
    ],
)
def test_bad_measures_are_refused(small_tree: sessionmaker[Session], data: MeasureInput, fragment: str) -> None:
    with pytest.raises(AccordError) as err, transaction(small_tree) as s:
        measures.add_measure(s, SYSTEM, data)
    assert fragment in str(err.value)


def test_scope_and_role(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        auth.add_user(s, "north", Role.COORDINATOR, "AR-01")
        auth.add_user(s, "clerk", Role.REPORTER, "AR-01")
    with transaction(small_tree) as s:
        north = auth.actor_for(s, "north")
        measures.add_measure(s, north, MeasureInput("AR-01-01", "C3", 2, D))
        with pytest.raises(Forbidden):
            measures.add_measure(s, north, MeasureInput("AR-02", "C3", 2, D))
        with pytest.raises(Forbidden):
            measures.add_measure(s, auth.actor_for(s, "clerk"), MeasureInput("AR-01", "C3", 2, D))


def test_indices_from_the_registry(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        _add(s, "AR", "C1", 3)
        _add(s, "AR-01", "C6", 1, targeted=True)
    with transaction(small_tree) as s:
        series = in_force.index_series(s, "AR-01-01", D, D)
        si = series[series["index"] == "stringency_index"]["computed"].iloc[0]
        assert si == pytest.approx((100 + 100 * 0.5 / 3) / 9)


def _cases(sessions: sessionmaker[Session], rows: list[tuple[str, dt.date, int]]) -> None:
    frame = pd.DataFrame(
        [{"jurisdiction": c, "date": d.isoformat(), "indicator": "new_confirmed", "value": v} for c, d, v in rows]
    )
    with transaction(sessions) as s:
        surveillance.submit(s, frame, actor=SYSTEM, source="test", now=NOW)


def test_risk_areas_classified_daily_with_history(small_tree: sessionmaker[Session]) -> None:
    day = dt.date(2020, 3, 1)
    # Old Town: 60 cases over the window, 5 on one day (a cluster); Mill End: 1 case 20 days ago
    _cases(small_tree, [("AR-01-01-001", day - dt.timedelta(days=k), 5) for k in range(12)])
    _cases(small_tree, [("AR-01-01-002", day - dt.timedelta(days=20), 1)])
    with transaction(small_tree) as s:
        out = risk_areas.classify(s, SYSTEM, "AR", day - dt.timedelta(days=7), day)
        frame = out.frame.set_index(["jurisdiction", "date"])
        assert frame.loc[("AR-01-01-001", day), "level"] == "high"
        assert frame.loc[("AR-01-01-001", day), "cases_14d"] == 60
        assert frame.loc[("AR-01-01-001", day - dt.timedelta(days=7)), "level"] == "medium"  # 25 cases then
        assert frame.loc[("AR-01-01-002", day), "level"] == "low"
        assert frame.loc[("AR-01-01-002", day - dt.timedelta(days=7)), "level"] == "medium"  # 13 days after it
    with transaction(small_tree) as s:
        assert risk_areas.risk_levels(s, day) == {"AR-01-01-001": "high", "AR-01-01-002": "low"}
        # a stricter rule as a new version, classified at city level: history keeps both
        strict = risk.RiskRule(version="strict-v2", level="city", high_cases=20)
        risk_areas.publish_rule(s, SYSTEM, strict)
        risk_areas.classify(s, SYSTEM, "AR", day)
        risk_areas.classify(s, SYSTEM, "AR", day)  # a re-run appends
    with transaction(small_tree) as s:
        assert risk_areas.risk_levels(s, day) == {"AR-01-01": "high", "AR-01-02": "low", "AR-02-01": "low"}
        assert len(risk_areas.risk_history(s, "AR-01-01")) == 2
        table = risk_areas.risk_table(s, day, "cn-2020-v1")
        assert table.set_index("jurisdiction")["level"].to_dict()["AR-01-01-001"] == "high"
        assert _count(s, RiskArea) == 2 * 8 + 3 * 2
        with pytest.raises(Conflict):
            risk_areas.publish_rule(s, SYSTEM, risk.RiskRule(version="strict-v2", high_cases=5))


def test_risk_levels_computed_when_not_stored(small_tree: sessionmaker[Session]) -> None:
    day = dt.date(2020, 3, 1)
    _cases(small_tree, [("AR-01-01-002", day, 3)])
    with transaction(small_tree) as s:
        assert risk_areas.risk_levels(s, day) == {"AR-01-01-001": "low", "AR-01-01-002": "medium"}
        assert _count(s, RiskArea) == 0


def test_oxcgrt_import_measures_and_indices(small_tree: sessionmaker[Session], tmp_path: Path) -> None:
    per_indicator = tmp_path / "OxCGRT_latest.csv"
    per_indicator.write_text(
        "CountryName,CountryCode,RegionName,RegionCode,Jurisdiction,Date,C6_Stay at home requirements,C6_Flag,"
        "C8_International travel controls\n"
        + "".join(
            f"Arcadia,CHN,,,NAT_TOTAL,202003{d:02d},{lv},{fl},3\n"
            for d, lv, fl in [(1, 0, ""), (2, 2, 0), (3, 2, 0), (4, 2, 1)]
        )
        + "Xland,XXX,,,NAT_TOTAL,20200301,1,1,1\n"
    )
    series = tmp_path / "OxCGRT_timeseries_StringencyIndex_v1.csv"
    series.write_text(
        "CountryCode,CountryName,RegionCode,RegionName,CityCode,CityName,Jurisdiction,01Mar2020,02Mar2020,03Mar2020\n"
        'CHN,Arcadia,"","","","",NAT_TOTAL,33.33,,37.5\n'
    )
    with transaction(small_tree) as s:
        result = oxcgrt_import.import_oxcgrt(s, SYSTEM, per_indicator, {"CHN": "AR"})
        assert (result.measures, result.regions, result.skipped) == (3, ["AR"], ["XXX"])
        again = oxcgrt_import.import_oxcgrt(s, SYSTEM, per_indicator, {"CHN": "AR"})
        assert again.replaced == 3 and _count(s, Measure) == 3  # a re-import replaces, never doubles
        idx = oxcgrt_import.import_oxcgrt(s, SYSTEM, series, {"CHN": "AR"})
        assert (idx.kind, idx.index_values) == ("indices", 2)
        assert _count(s, Notice) == 0  # recorded history is not notified
    with transaction(small_tree) as s:
        c6 = {f.indicator: f for f in in_force.in_force(s, "AR-01-01-001", dt.date(2020, 3, 3))}["C6"]
        assert (c6.level, c6.targeted, c6.measure["kind"], c6.as_dict()["ordered_by"]) == (2, True, "recorded", "AR")
        both = in_force.index_series(s, "AR", dt.date(2020, 3, 1), dt.date(2020, 3, 3))
        si = both[both["index"] == "stringency_index"].set_index("date")
        first = si.loc[[dt.date(2020, 3, 1)]].iloc[0]
        assert first["published"] == 33.33
        assert first["computed"] == pytest.approx(75 / 9)  # C8 3 of 4 only
        # a directive after the recorded history; a longer version of the file then overlaps it: refused
        measures.add_measure(s, SYSTEM, MeasureInput("AR", "C6", 3, dt.date(2020, 3, 5)))
    longer = tmp_path / "v2" / per_indicator.name
    longer.parent.mkdir()
    longer.write_text(per_indicator.read_text() + "Arcadia,CHN,,,NAT_TOTAL,20200305,2,1,3\n")
    with pytest.raises(Conflict, match="overlaps measure"), transaction(small_tree) as s:
        oxcgrt_import.import_oxcgrt(s, SYSTEM, longer, {"CHN": "AR"})
    with transaction(small_tree) as s:
        assert _count(s, Measure) == 4  # the refused import changed nothing
