"""A busy database is a 503 with Retry-After and a problem document, never a bare 500, and a submission either
commits before its answer or not at all: a failed commit is the error answer, nothing is stored, and a retry with
the same idempotency key stores the batch exactly once. On SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from tests.conftest import SMALL_TREE

from accord.app import create_app
from accord.auth import service as auth
from accord.db import busy_reason, session_factory, transaction
from accord.places import service as places
from accord.settings import Settings
from accord.surveillance.model import Observation, Submission

BATCH = {
    "observations": [
        {"jurisdiction": "AR-01-01-001", "date": "2026-03-01", "indicator": "new_confirmed", "value": 4},
        {"jurisdiction": "AR-01-01-002", "date": "2026-03-01", "indicator": "new_confirmed", "value": 6},
    ]
}
QUICK = {"db_lock_timeout_seconds": 0.2, "db_pool_timeout_seconds": 0.2}


def make_client(engine: Engine, tmp_path: Path, **settings: Any) -> tuple[TestClient, dict[str, str]]:
    url = engine.url.render_as_string(hide_password=False)
    with transaction(session_factory(engine)) as s:
        places.import_places(s, SMALL_TREE)
        auth.add_user(s, "reporter", "reporter", "AR-01-01")
    with transaction(session_factory(engine)) as s:
        token = auth.issue_token(s, "reporter")
    app = create_app(Settings(database_url=url, data_dir=tmp_path, **settings))
    return TestClient(app, raise_server_exceptions=False), {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    c, headers = make_client(engine, tmp_path, **QUICK)
    with c:
        yield c, headers


def stored(engine: Engine) -> tuple[int, int]:
    with transaction(session_factory(engine)) as s:
        return (
            int(s.scalar(select(func.count()).select_from(Submission)) or 0),
            int(s.scalar(select(func.count()).select_from(Observation)) or 0),
        )


def assert_busy(r: httpx.Response, *words: str) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["retry-after"]) > 0
    body = r.json()
    assert body["title"] == "the database is busy" and "nothing was changed" in body["detail"]
    for word in words:
        assert word in body["detail"]


def busy_error(engine: Engine) -> OperationalError:
    """What the driver raises when the database stays locked, as SQLAlchemy wraps it."""
    if engine.dialect.name == "sqlite":
        return OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))
    return OperationalError("COMMIT", {}, psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"))


def test_a_failed_commit_is_the_answer_and_a_retry_stores_the_batch_once(
    client: tuple[TestClient, dict[str, str]], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, headers = client
    headers = {**headers, "Idempotency-Key": "batch-1"}
    commit = Session.commit
    failures: list[str] = []

    def commit_fails_once(self: Session) -> None:
        if not failures:
            failures.append("commit")
            raise busy_error(engine)
        commit(self)

    monkeypatch.setattr(Session, "commit", commit_fails_once)
    assert_busy(c.post("/api/v1/submissions", headers=headers, json=BATCH))
    assert failures == ["commit"]
    assert stored(engine) == (0, 0)  # the answer says "not stored", and nothing is

    first = c.post("/api/v1/submissions", headers=headers, json=BATCH)
    assert first.status_code == 201 and first.json()["replayed"] is False
    again = c.post("/api/v1/submissions", headers=headers, json=BATCH)
    assert again.status_code == 201 and again.json()["replayed"] is True
    assert stored(engine) == (1, 2)


def test_a_database_locked_by_another_writer_is_a_503_then_the_retry_succeeds(
    client: tuple[TestClient, dict[str, str]], engine: Engine
) -> None:
    c, headers = client
    with engine.connect() as other:
        hold_write_lock(other)
        assert_busy(c.post("/api/v1/submissions", headers=headers, json=BATCH))
        other.rollback()
    assert stored(engine) == (0, 0)
    assert c.post("/api/v1/submissions", headers=headers, json=BATCH).status_code == 201
    assert stored(engine) == (1, 2)


def hold_write_lock(conn: Connection) -> None:
    """Take what a submission needs and keep it: SQLite's write lock, or PostgreSQL's lock on the tree table."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(text("LOCK TABLE jurisdiction IN ACCESS EXCLUSIVE MODE"))


def test_a_read_waiting_on_a_lock_is_a_503(client: tuple[TestClient, dict[str, str]], engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite in WAL mode lets readers run beside a writer")
    c, _ = client
    with engine.connect() as other:
        hold_write_lock(other)
        assert_busy(c.get("/api/v1/jurisdictions/AR"), "lock")
        other.rollback()
    assert c.get("/api/v1/jurisdictions/AR").status_code == 200


def test_an_exhausted_connection_pool_is_a_503(client: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = client
    engine: Engine = c.app.state.engine  # type: ignore[attr-defined]
    held = []
    try:
        while True:
            held.append(engine.connect())
    except PoolTimeout:
        pass
    try:
        assert_busy(c.get("/api/v1/jurisdictions/AR"), "connection")
    finally:
        for conn in held:
            conn.close()
    assert c.get("/api/v1/jurisdictions/AR").status_code == 200


@pytest.mark.postgres
def test_postgres_timeouts_and_conflicts_count_as_busy(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with engine.connect() as conn, pytest.raises(OperationalError) as caught:
        conn.execute(text("SET statement_timeout = 50"))
        conn.execute(text("SELECT pg_sleep(2)"))
    assert busy_reason(caught.value) == "a statement ran past its time limit"
    with engine.connect() as conn, pytest.raises(Exception) as other:
        conn.execute(text("SELECT 1/0"))
    assert busy_reason(other.value) is None  # a bug stays a 500, never disguised as "busy"


def test_busy_errors_are_recognised_raw_or_wrapped() -> None:
    raw_sqlite = sqlite3.OperationalError("database is locked")
    raw_postgres = psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")
    assert busy_reason(raw_sqlite) == busy_reason(OperationalError("BEGIN", {}, raw_sqlite)) is not None
    assert busy_reason(raw_postgres) == busy_reason(OperationalError("SELECT", {}, raw_postgres)) is not None
    assert busy_reason(sqlite3.OperationalError("no such table: x")) is None
    assert busy_reason(psycopg.errors.UndefinedTable("x")) is None
    assert busy_reason(ValueError("database is locked")) is None


def test_the_server_engine_has_the_settings_time_limits(engine: Engine, tmp_path: Path) -> None:
    c, _ = make_client(engine, tmp_path, db_lock_timeout_seconds=1.5, db_statement_timeout_seconds=7)
    server: Engine = c.app.state.engine  # type: ignore[attr-defined]
    with server.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1500
        else:
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "1500ms"
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "7s"
    server.dispose()
