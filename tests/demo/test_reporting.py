"""How communities report: delays, gaps, corrections, replays and deliberate errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

import pandas as pd
import pytest

from accord.demo.country import generate_country
from accord.demo.outbreak import simulate_outbreak
from accord.demo.reporting import (
    DUPLICATE,
    ERROR_CODES,
    KINDS,
    LATE_LAB,
    TEST_TALLY,
    ReportBatch,
    ReportingParams,
    describe_plan,
    expected_store,
    merge_for_bulk,
    plan_reports,
)

LOCAL = dt.timezone(dt.timedelta(hours=8))
DAYS = 60


@pytest.fixture(scope="module")
def places() -> pd.DataFrame:
    return generate_country(seed=5, provinces=3, cities=14, communities=200)


@pytest.fixture(scope="module")
def truth(places: pd.DataFrame) -> pd.DataFrame:
    return simulate_outbreak(places, days=DAYS, seed=5)


@pytest.fixture(scope="module")
def plan(truth: pd.DataFrame, places: pd.DataFrame) -> list[ReportBatch]:
    return plan_reports(truth, places, seed=5)


def reports(plan: list[ReportBatch]) -> list[ReportBatch]:
    return [b for b in plan if b.kind in ("daily", "late")]


def day_of(batch: ReportBatch) -> dt.date:
    dates = {row["date"] for row in batch.rows}
    assert len(dates) == 1
    return dt.date.fromisoformat(dates.pop())


def test_batches_are_sorted_utc_and_well_formed(plan: list[ReportBatch]) -> None:
    times = [b.submitted_at for b in plan]
    assert times == sorted(times)
    assert all(t.utcoffset() == dt.timedelta(0) for t in times)
    kinds = {b.kind for b in plan}
    assert kinds <= set(KINDS) and {"daily", "late", "correction", "replay", "deliberate_error"} <= kinds
    for b in plan:
        assert b.rows
        for row in b.rows:
            assert set(row) == {"jurisdiction", "date", "indicator", "disaggregation", "value", "reason"}
            assert row["jurisdiction"] == b.jurisdiction
            assert (row["reason"] != "") == (b.kind == "correction")


def test_one_batch_per_reported_community_day_with_all_indicators(plan: list[ReportBatch], truth: pd.DataFrame) -> None:
    regular = reports(plan)
    keys = [b.idempotency_key for b in regular]
    assert len(keys) == len(set(keys))
    per_day = truth.groupby(["jurisdiction", "date"]).size().iloc[0]
    assert all(len(b.rows) == per_day for b in regular)
    assert all(isinstance(row["value"], int) for b in regular for row in b.rows)


def test_delays_are_one_to_four_days_mostly_the_next_evening(plan: list[ReportBatch]) -> None:
    regular = reports(plan)
    delays: Counter[int] = Counter()
    for b in regular:
        local = b.submitted_at.astimezone(LOCAL)
        delay = (local.date() - day_of(b)).days
        delays[delay] += 1
        if b.kind == "daily":
            assert delay == 1 and 18 <= local.hour < 22
        else:
            assert 2 <= delay <= 4
    assert set(delays) <= {1, 2, 3, 4}
    assert 0.9 < delays[1] / len(regular) < 0.97


def test_about_two_percent_of_community_days_are_never_reported(plan: list[ReportBatch], truth: pd.DataFrame) -> None:
    expected = truth[["jurisdiction", "date"]].drop_duplicates().shape[0]
    gap_share = 1 - len(reports(plan)) / expected
    assert 0.01 < gap_share < 0.03


def test_no_report_is_for_a_day_after_its_submission(plan: list[ReportBatch]) -> None:
    future = [b for b in plan if day_of(b) >= b.submitted_at.astimezone(LOCAL).date()]
    assert [b.expected_error for b in future] == ["future_date"]
    assert all(day_of(b) < b.submitted_at.date() for b in plan if b.expected_error != "future_date")


def test_deliberate_errors_say_what_must_reject_them(plan: list[ReportBatch], places: pd.DataFrame) -> None:
    errors = [b for b in plan if b.kind == "deliberate_error"]
    assert len(errors) == 5
    assert {b.expected_error for b in errors} == set(ERROR_CODES)
    assert all(b.expected_error is None for b in plan if b.kind != "deliberate_error")
    known = set(places["code"])
    for b in errors:
        assert len(b.rows) == 1
        row = b.rows[0]
        if b.expected_error == "negative_count":
            assert row["value"] < 0
        elif b.expected_error == "future_date":
            assert dt.date.fromisoformat(row["date"]) > b.submitted_at.astimezone(LOCAL).date()
        elif b.expected_error == "unknown_jurisdiction":
            assert b.jurisdiction not in known and row["jurisdiction"] not in known
        elif b.expected_error == "non_integer_count":
            assert row["value"] != int(row["value"])
        if b.expected_error != "unknown_jurisdiction":
            assert b.jurisdiction in known
    keys = [b.idempotency_key for b in errors]
    assert len(set(keys)) == len(keys)


def test_replays_repeat_an_earlier_batch_exactly(plan: list[ReportBatch]) -> None:
    first = {b.idempotency_key: b for b in plan if b.kind != "replay"}
    replays = [b for b in plan if b.kind == "replay"]
    assert len(replays) == ReportingParams().replays
    for r in replays:
        original = first[r.idempotency_key]
        assert original.rows == r.rows and original.jurisdiction == r.jurisdiction
        assert original.submitted_at < r.submitted_at
    keys = Counter(b.idempotency_key for b in plan)
    assert {k for k, n in keys.items() if n > 1} == {r.idempotency_key for r in replays}


def test_corrections_follow_days_later_and_restore_the_truth(plan: list[ReportBatch], truth: pd.DataFrame) -> None:
    corrections = [b for b in plan if b.kind == "correction"]
    assert 5 <= len(corrections) <= ReportingParams().corrections
    assert {row["reason"] for b in corrections for row in b.rows} <= {LATE_LAB, DUPLICATE, TEST_TALLY}
    originals = {(b.jurisdiction, day_of(b)): b for b in reports(plan)}
    for c in corrections:
        original = originals[(c.jurisdiction, day_of(c))]
        assert c.submitted_at - original.submitted_at >= dt.timedelta(days=2)
        before = {(r["indicator"], r["disaggregation"]): r["value"] for r in original.rows}
        assert any(before[(r["indicator"], r["disaggregation"])] != r["value"] for r in c.rows)

    # after every accepted batch, the store holds the truth on every reported community-day
    store = expected_store(plan)
    t = truth.assign(date=truth["date"].map(dt.date.isoformat))
    merged = store.merge(t, on=["jurisdiction", "date", "indicator", "disaggregation"], how="left")
    assert merged["value_y"].notna().all()
    assert (merged["value_x"] == merged["value_y"]).all()


def test_describe_plan_counts_by_kind(plan: list[ReportBatch]) -> None:
    summary = describe_plan(plan)
    assert summary["batches"] == len(plan)
    assert sum(summary[k] for k in KINDS) == len(plan)
    assert summary["deliberate_error"] == 5
    assert summary["unique_keys"] == len(plan) - summary["replay"]
    assert summary["rows"] == sum(len(b.rows) for b in plan)


def test_now_leaves_out_what_is_not_yet_submitted(truth: pd.DataFrame, places: pd.DataFrame) -> None:
    now = dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.UTC)
    partial = plan_reports(truth, places, seed=5, now=now)
    assert partial and all(b.submitted_at <= now for b in partial)
    with pytest.raises(ValueError):
        plan_reports(truth, places, seed=5, now=dt.datetime(2026, 2, 1))


def test_deterministic_and_streams_independent(
    plan: list[ReportBatch], truth: pd.DataFrame, places: pd.DataFrame
) -> None:
    sample = truth[truth["date"] < dt.date(2026, 1, 26)]
    a = plan_reports(sample, places, seed=5)
    assert a == plan_reports(sample, places, seed=5)
    more_gaps = plan_reports(sample, places, seed=5, params=ReportingParams(gap_rate=0.1))
    times = {b.idempotency_key: b.submitted_at for b in a if b.kind in ("daily", "late")}
    common = [b for b in more_gaps if b.kind in ("daily", "late") and b.idempotency_key in times]
    assert len(common) < len(times)
    assert all(times[b.idempotency_key] == b.submitted_at for b in common)
    assert plan_reports(sample, places, seed=6) != a


def test_merge_for_bulk_keeps_what_the_store_ends_with(plan: list[ReportBatch], places: pd.DataFrame) -> None:
    merged = merge_for_bulk(plan)
    summary = describe_plan(merged)
    assert summary["daily"] == summary["late"] == 0
    before = describe_plan(plan)
    for kind in ("correction", "replay", "deliberate_error"):
        assert summary[kind] == before[kind]
    bulk = [b for b in merged if b.kind == "bulk"]
    days = [b.submitted_at.date() for b in bulk]
    assert len(days) == len(set(days))
    # submitted by the common ancestor of its communities: the country on all but a few trailing days
    for b in bulk:
        assert all(r["jurisdiction"].startswith(b.jurisdiction + "-") for r in b.rows)
    assert sum(b.jurisdiction == "AR" for b in bulk) >= len(bulk) - 4
    assert sum(len(b.rows) for b in bulk) == sum(len(b.rows) for b in reports(plan))
    assert [b.submitted_at for b in merged] == sorted(b.submitted_at for b in merged)
    bulk_keys = {b.idempotency_key for b in bulk}
    assert all(b.idempotency_key in bulk_keys for b in merged if b.kind == "replay")
    pd.testing.assert_frame_equal(expected_store(merged), expected_store(plan))
    with pytest.raises(ValueError):
        merge_for_bulk(plan, by="hour")


def test_batches_are_frozen(plan: list[ReportBatch]) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan[0].kind = "late"  # type: ignore[misc]
