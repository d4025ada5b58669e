"""The engine and sessions. SQLite (WAL) by default, PostgreSQL (psycopg 3) when the URL says so."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from accord.settings import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are UTC everywhere: aware in Python, timestamptz on PostgreSQL, naive UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: SQLite result codes of a busy database: SQLITE_BUSY (another connection holds the lock past busy_timeout)
#: and SQLITE_LOCKED (a table locked within the same connection)
_SQLITE_BUSY_CODES = frozenset({5, 6})
#: PostgreSQL SQLSTATEs that mean "busy, try again", with what the client is told
_PG_BUSY_STATES = {
    "55P03": "a lock could not be had in time",  # lock_not_available (lock_timeout, NOWAIT)
    "57014": "a statement ran past its time limit",  # query_canceled (statement_timeout)
    "40001": "a concurrent transaction conflicted with this one",  # serialization_failure
    "40P01": "a concurrent transaction deadlocked with this one",  # deadlock_detected
    "53300": "the database has no free connection",  # too_many_connections
    "57P03": "the database is starting up or shutting down",  # cannot_connect_now
}


def busy_reason(exc: BaseException) -> str | None:
    """Why ``exc`` means the database is busy (retrying later may well succeed), or None for any other error.

    Busy: the connection pool timed out, SQLite stayed locked past its busy timeout, or PostgreSQL gave up on a
    lock, a statement timeout, a serialisation conflict or a connection slot."""
    if isinstance(exc, sa_exc.TimeoutError):
        return "every database connection is in use"
    # SQLAlchemy wraps the driver's error; code that runs SQL on the driver connection gets it raw
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if code in _SQLITE_BUSY_CODES or "database is locked" in str(orig):
            return "the database is locked by another writer"
        return None
    if isinstance(orig, psycopg.Error):
        return _PG_BUSY_STATES.get(orig.sqlstate or "")
    return None


def utcnow() -> datetime:
    return datetime.now(UTC)


def db_timestamp(value: datetime, dialect_name: str) -> object:
    """A timestamp as the raw driver wants it (bulk paths bypass the ORM types)."""
    value = value.astimezone(UTC)
    if dialect_name == "sqlite":
        # exactly SQLAlchemy's SQLite storage format, so text comparisons order correctly
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # bigger pages: fewer B-tree splits for the clustered (WITHOUT ROWID) fact tables; only takes effect on
    # a new database file, before WAL is switched on
    cur.execute("PRAGMA page_size=16384")
    # WAL lets readers (the API) run beside the writer (a submission); NORMAL is durable in WAL mode.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-131072")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def normalise_url(url: str) -> str:
    """Let users write ``postgresql://``; we always speak psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, echo: bool = False, waits: DatabaseWaits | None = None) -> Engine:
    url = normalise_url(url)
    waits = waits or DatabaseWaits()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # an in-memory database lives in one connection (SingletonThreadPool): no pool to wait for
        pooled = {"pool_timeout": waits.pool_s} if path and path != ":memory:" else {}
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False}, **pooled)
        event.listen(engine, "connect", _sqlite_pragmas)
        if waits.lock_s is not None:
            busy_ms = max(1, round(waits.lock_s * 1000))
            event.listen(engine, "connect", lambda conn, _record: conn.execute(f"PRAGMA busy_timeout={busy_ms}"))
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=waits.pool_s,
        connect_args={"options": waits.postgres_options()} if waits.postgres_options() else {},
    )


@dataclass(frozen=True)
class DatabaseWaits:
    """How long a connection waits before giving up with a "busy" error (None: the driver's default).

    The server sets all three (ACCORD_DB_*_TIMEOUT_SECONDS) so that a busy database becomes a 503 the client
    can retry, never a request that hangs; the CLI and the demo keep the defaults."""

    lock_s: float | None = None
    statement_s: float | None = None
    pool_s: float = 30.0

    def postgres_options(self) -> str:
        options = []
        if self.lock_s is not None:
            options.append(f"-c lock_timeout={max(1, round(self.lock_s * 1000))}")
        if self.statement_s is not None:
            options.append(f"-c statement_timeout={max(1, round(self.statement_s * 1000))}")
        return " ".join(options)


def engine_from_settings(settings: Settings, *, server: bool = False) -> Engine:
    """The engine of ``settings``; ``server=True`` adds the request time limits of the settings."""
    waits = (
        DatabaseWaits(
            settings.db_lock_timeout_seconds, settings.db_statement_timeout_seconds, settings.db_pool_timeout_seconds
        )
        if server
        else None
    )
    return make_engine(settings.effective_database_url, waits=waits)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error (never half-applied)."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
