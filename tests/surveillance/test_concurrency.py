"""Many reporters at once: the roll-up loses nothing under concurrent submissions, on SQLite and PostgreSQL.

Each reporter submits in its own transaction, as API requests do. Threads are released together by a barrier so
their reads and writes interleave; separate processes check the same across connections that share nothing.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.places import service as places
from accord.surveillance import integrity, rollup, service
from accord.surveillance.model import Figure

T0 = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
COMMUNITIES = [f"CC-01-01-{i:03d}" for i in range(1, 9)]
CONCURRENCY_TREE = pd.DataFrame(
    [
        ("CC", "Concordia", "", "country", "", 1_000_000),
        ("CC-01", "East", "", "province", "CC", 600_000),
        ("CC-02", "West", "", "province", "CC", 400_000),
        ("CC-01-01", "Harbour", "", "city", "CC-01", 350_000),
        ("CC-02-01", "Uplands", "", "city", "CC-02", 400_000),
        *[(code, f"Ward {i + 1}", "", "community", "CC-01-01", 10_000) for i, code in enumerate(COMMUNITIES)],
        *[(f"CC-02-01-{i:03d}", f"Ward W{i}", "", "community", "CC-02-01", 10_000) for i in range(1, 5)],
    ],
    columns=["code", "name", "local_name", "level", "parent_code", "population"],
)


@pytest.fixture
def tree(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(sessions) as s:
        places.import_places(s, CONCURRENCY_TREE)
    return sessions


def report(code: str, day: date, value: float, indicator: str = "new_confirmed", reason: str = "") -> pd.DataFrame:
    return pd.DataFrame(
        [{"jurisdiction": code, "date": day.isoformat(), "indicator": indicator, "value": value, "reason": reason}]
    )


def submit_in_own_transaction(sessions: sessionmaker[Session], frame: pd.DataFrame, key: str | None = None) -> None:
    with transaction(sessions) as s:
        service.submit(s, frame, actor=SYSTEM, source="reporter", idempotency_key=key, now=T0)


def run_together(jobs: list[Callable[[], None]]) -> list[BaseException]:
    """Start every job in its own thread, release them at once, and return what they raised."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def worker(job: Callable[[], None]) -> None:
        barrier.wait()
        try:
            job()
        except BaseException as exc:  # collected and asserted on by the caller
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def figure(sessions: sessionmaker[Session], code: str, day: date, view: str = "all") -> float | None:
    with transaction(sessions) as s:
        frame = service.series(s, code, "new_confirmed", view=view)
    hit = frame[frame["date"] == pd.Timestamp(day)]
    return None if hit.empty else float(hit["value"].iat[0])


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_reporters_of_one_city_are_all_counted(tree: sessionmaker[Session], round_: int) -> None:
    day = date(2026, 3, 1) - timedelta(days=round_)
    jobs = [lambda c=code: submit_in_own_transaction(tree, report(c, day, 1)) for code in COMMUNITIES]
    assert run_together(jobs) == []
    assert figure(tree, "CC-01-01", day) == len(COMMUNITIES)
    assert figure(tree, "CC-01", day) == len(COMMUNITIES)
    assert figure(tree, "CC", day) == len(COMMUNITIES)
    with transaction(tree) as s:
        assert integrity.check_rollup(s) == []


def test_concurrent_revisions_of_one_figure_keep_every_revision(tree: sessionmaker[Session]) -> None:
    day = date(2026, 3, 1)
    submit_in_own_transaction(tree, report(COMMUNITIES[0], day, 1))
    jobs = [
        lambda v=v: submit_in_own_transaction(tree, report(COMMUNITIES[0], day, v, reason=f"recount {v}"))
        for v in range(2, 8)
    ]
    assert run_together(jobs) == []
    with transaction(tree) as s:
        history = service.history(s, COMMUNITIES[0], "new_confirmed", day)
        assert integrity.check_rollup(s) == []
    assert history["revision"].tolist() == list(range(1, 8))
    # each revision records the value it replaced: the chain is unbroken whatever order they committed in
    assert history["previous_value"].iloc[1:].tolist() == history["value"].iloc[:-1].tolist()
    assert figure(tree, "CC", day) == history["value"].iat[-1]


def test_the_same_idempotency_key_at_once_stores_one_batch(tree: sessionmaker[Session]) -> None:
    day = date(2026, 3, 1)
    frame = report(COMMUNITIES[0], day, 5)
    assert run_together([lambda: submit_in_own_transaction(tree, frame, key="k-1") for _ in range(6)]) == []
    assert figure(tree, "CC", day) == 5
    with transaction(tree) as s:
        assert len(service.history(s, COMMUNITIES[0], "new_confirmed", day)) == 1


def test_approval_racing_a_submission_publishes_what_was_stored(tree: sessionmaker[Session]) -> None:
    day = date(2026, 3, 1)
    for code in COMMUNITIES:
        submit_in_own_transaction(tree, report(code, day, 1))

    def approve(code: str) -> Callable[[], None]:
        def run() -> None:
            with transaction(tree) as s:
                service.approve(s, SYSTEM, code, [day], now=T0)

        return run

    other = "CC-02-01-001"
    jobs = [approve(code) for code in COMMUNITIES]
    jobs.append(lambda: submit_in_own_transaction(tree, report(other, day, 3)))
    assert run_together(jobs) == []
    assert figure(tree, "CC", day, view="public") == len(COMMUNITIES)
    assert figure(tree, "CC", day) == len(COMMUNITIES) + 3
    with transaction(tree) as s:
        assert integrity.check_rollup(s) == []


def _process_reporter(url: str, codes: list[str], days: list[str], start: multiprocessing.synchronize.Event) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    start.wait()
    for day in days:
        for code in codes:
            submit_in_own_transaction(sessions, report(code, date.fromisoformat(day), 1))
    engine.dispose()


def test_reporters_in_separate_processes(tree: sessionmaker[Session], engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    days = [(date(2026, 3, 1) - timedelta(days=i)).isoformat() for i in range(3)]
    ctx = multiprocessing.get_context("spawn")  # nothing inherited: each process opens its own connections
    start = ctx.Event()
    groups = [COMMUNITIES[i::4] for i in range(4)]
    procs = [ctx.Process(target=_process_reporter, args=(url, g, days, start)) for g in groups]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    for day in days:
        assert figure(tree, "CC", date.fromisoformat(day)) == len(COMMUNITIES)
    with transaction(tree) as s:
        assert integrity.check_rollup(s) == []


# ------------------------------------------------------------------------------------ the check finds faults
def test_check_finds_repairs_and_flags_a_broken_rollup(tree: sessionmaker[Session]) -> None:
    day = date(2026, 3, 1)
    for code in COMMUNITIES[:3]:
        submit_in_own_transaction(tree, report(code, day, 2))
    with transaction(tree) as s:
        ids = service.indicator_ids(s)
        ancestors = [places.get(s, code).id for code in ("CC-01-01", "CC-01", "CC")]
        # what a lost update leaves behind: the city and everything above it count one community less
        s.execute(
            update(Figure)
            .where(
                Figure.jurisdiction_id.in_(ancestors), Figure.indicator_id == ids["new_confirmed"], Figure.date == day
            )
            .values(child_all=4.0)
        )
    with transaction(tree) as s:
        found = integrity.check_rollup(s)
        assert [(m.jurisdiction, m.view, m.stored, m.expected) for m in found] == [("CC-01-01", "all", 4.0, 6.0)]
        assert "CC-01-01 new_confirmed on 2026-03-01" in found[0].sentence()
        assert integrity.flag_mismatches(s, found) == 1
        assert integrity.flag_mismatches(s, found) == 0  # once per figure
        assert integrity.check_rollup(s, root_code="CC-02") == []  # another subtree is not concerned
        assert integrity.check_rollup(s, start=day + timedelta(days=1)) == []
    with transaction(tree) as s:
        assert integrity.repair_rollup(s, integrity.find_mismatches(s)) >= 1
    with transaction(tree) as s:
        assert integrity.check_rollup(s) == []
    assert figure(tree, "CC-01-01", day) == 6
    assert figure(tree, "CC", day) == 6


# ------------------------------------------------------------- concurrent interleavings, explored by Hypothesis
LEAVES = [*COMMUNITIES[:4], "CC-02-01-001", "CC-02-01-002"]
CITIES = ["CC-01-01", "CC-02-01"]


class ConcurrentReporting(RuleBasedStateMachine):
    """Groups of reporters (and approvers) act at once; after each group the store equals a full recomputation
    of what was reported, and the check finds nothing."""

    sessions: sessionmaker[Session]
    days_used = 0

    def __init__(self) -> None:
        super().__init__()
        # every example works on days of its own, so one store serves every example of the test
        ConcurrentReporting.days_used += 3
        self.days = [date(2025, 1, 1) + timedelta(days=ConcurrentReporting.days_used + i) for i in range(3)]
        self.own: dict[tuple[str, date], float] = {}

    @rule(
        data=st.data(),
        size=st.integers(2, 5),
    )
    def reporters_at_once(self, data: st.DataObject, size: int) -> None:
        places_ = LEAVES + CITIES
        picks = data.draw(
            st.lists(
                st.tuples(st.sampled_from(places_), st.sampled_from(self.days), st.integers(0, 40)),
                min_size=size,
                max_size=size,
                unique_by=lambda t: (t[0], t[1]),
            )
        )
        jobs = [
            lambda c=code, d=day, v=value: submit_in_own_transaction(
                self.sessions, report(c, d, float(v), reason="recount" if (c, d) in self.own else "")
            )
            for code, day, value in picks
        ]
        assert run_together(jobs) == []
        for code, day, value in picks:
            self.own[(code, day)] = float(value)

    @rule(data=st.data())
    def approve_while_reporting(self, data: st.DataObject) -> None:
        reported = sorted(k for k in self.own if k[0] in LEAVES)
        if not reported:
            return
        code, day = data.draw(st.sampled_from(reported))
        other = data.draw(st.sampled_from([c for c in LEAVES if c != code]))
        value = float(data.draw(st.integers(0, 40)))

        def approve() -> None:
            with transaction(self.sessions) as s:
                service.approve(s, SYSTEM, code, [day], now=T0)

        reason = "recount" if (other, day) in self.own else ""
        jobs = [approve, lambda: submit_in_own_transaction(self.sessions, report(other, day, value, reason=reason))]
        assert run_together(jobs) == []
        self.own[(other, day)] = value

    @invariant()
    def store_equals_full_recomputation(self) -> None:
        with transaction(self.sessions) as s:
            assert integrity.check_rollup(s) == []
            index = places.load_index(s)
        parent_row = pd.Index(index.ids).get_indexer(index.parent_ids)
        row_of = {code: i for i, code in enumerate(index.codes.tolist())}
        for day in self.days:
            own = np.full(len(index.ids), np.nan)
            for (code, d), v in self.own.items():
                if d == day:
                    own[row_of[code]] = v
            _, eff = rollup.full_rollup(np.asarray(parent_row, dtype=np.int64), own)
            expected = eff[row_of["CC"]]
            assert figure(self.sessions, "CC", day) == (None if np.isnan(expected) else expected)


def test_concurrent_interleavings(tree: sessionmaker[Session]) -> None:
    ConcurrentReporting.sessions = tree
    run_state_machine_as_test(
        ConcurrentReporting,
        settings=settings(max_examples=8, stateful_step_count=5, deadline=None, derandomize=True),
    )
