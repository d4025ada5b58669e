"""Bulk reads and writes of surveillance tables, through the session's own connection and transaction.

The ORM is right for single rows; a day's reports of a country are tens of thousands of rows, so the hot
paths speak to the driver directly: ``executemany`` on SQLite, ``COPY`` and batched upserts on PostgreSQL.
Same SQL semantics on both (``INSERT ... ON CONFLICT DO UPDATE``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

CHUNK = 900  # ids per IN list: far below SQLite's variable limit


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def raw_cursor(session: Session) -> Any:
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


def date_param(d: date, dialect_name: str) -> object:
    return d.isoformat() if dialect_name == "sqlite" else d


def insert_rows(session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    name = dialect(session)
    cur = raw_cursor(session)
    cols = ", ".join(columns)
    if name == "postgresql":
        with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


def upsert_rows(
    session: Session,
    table: str,
    key: Sequence[str],
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    update: Sequence[str] | None = None,
) -> None:
    """Insert or update by primary key; ``columns`` lists every column in each row tuple (key included);
    ``update`` the columns an existing row takes from the new one (default: all but the key).

    PostgreSQL: COPY into a temporary table, then one ``INSERT ... SELECT ... ON CONFLICT`` (a round trip per
    row would dominate a bulk load). SQLite: ``executemany`` in process.
    """
    if not rows:
        return
    name = dialect(session)
    cur = raw_cursor(session)
    cols = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in (update or [c for c in columns if c not in key]))
    conflict = f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    if name == "postgresql":
        stage = f"stage_{table}"
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS")
        cur.execute(f"DELETE FROM {stage}")
        insert_rows(session, stage, columns, rows)
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} {conflict}")
        return
    marks = ", ".join("?" for _ in columns)
    cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks}) {conflict}", rows)


# -------------------------------------------------------------------------------------------- write locks
#: advisory-lock namespaces (the first key of PostgreSQL's two-key advisory locks): 'AcFD', 'AcFK', 'AcFG'
_DAY_LOCKS, _KEY_LOCKS, _ALL_DAYS = 0x41634644, 0x4163464B, 0x41634647
#: beyond this many days a writer takes the one lock over every day instead (the lock table is finite)
MAX_DAY_LOCKS = 256


def lock_figure_days(session: Session, days: Sequence[date], idempotency_key: str | None = None) -> None:
    """Serialise every writer of the figures of ``days``, until the transaction ends.

    The roll-up reads its ancestors' current figures and writes new ones; two writers of the same day that both
    read before either wrote would each overwrite the other's share (a lost update). Every writer of ``figure``
    takes these locks *before* reading the state it will write from, so it reads what the last writer committed.

    SQLite has one writer at a time: the database write lock is taken now (``BEGIN IMMEDIATE``) instead of at the
    first write, so the reads that follow see the latest commit. PostgreSQL: transaction-scoped advisory locks,
    one per day in ascending order (no deadlock between two writers), all under a shared lock that a writer of more
    than :data:`MAX_DAY_LOCKS` days takes exclusively. Writers of other days proceed in parallel.
    """
    if dialect(session) == "sqlite":
        _sqlite_write_lock(session)
        return
    cur = raw_cursor(session)
    ordinals = sorted({d.toordinal() for d in days})
    if len(ordinals) > MAX_DAY_LOCKS:
        cur.execute("SELECT pg_advisory_xact_lock(%s, 0)", (_ALL_DAYS,))
    else:
        cur.execute("SELECT pg_advisory_xact_lock_shared(%s, 0)", (_ALL_DAYS,))
    if idempotency_key is not None:
        # two requests with one key at once: the second waits, then finds the first's batch and replays it
        digest = int.from_bytes(hashlib.blake2b(idempotency_key.encode(), digest_size=4).digest(), "big", signed=True)
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_KEY_LOCKS, digest))
    if len(ordinals) <= MAX_DAY_LOCKS:
        # unnest keeps the array's (ascending) order, so the locks are taken in that order
        cur.execute("SELECT count(pg_advisory_xact_lock(%s, d)) FROM unnest(%s::int[]) AS d", (_DAY_LOCKS, ordinals))


def _sqlite_write_lock(session: Session) -> None:
    session.flush()
    conn = session.connection().connection.driver_connection
    if conn is None:  # pragma: no cover - a live session always has its driver connection
        raise RuntimeError("no database connection")
    # in a transaction already means a write already ran in it, and SQLite's first write takes the write lock
    if not conn.in_transaction:
        conn.execute("BEGIN IMMEDIATE")


def to_db_dates(values: pd.Series, dialect_name: str) -> list[object]:
    """Days as the driver wants them; each distinct day is formatted once (a batch spans few days)."""
    days = pd.to_datetime(values).to_numpy().astype("datetime64[D]")
    distinct, inverse = np.unique(days, return_inverse=True)
    if dialect_name == "sqlite":
        formatted = np.array(np.datetime_as_string(distinct, unit="D"), dtype=object)
    else:
        formatted = distinct.astype(object)
    return list(formatted[inverse].tolist())


def py(values: np.ndarray | pd.Series) -> list[Any]:
    """numpy values -> Python scalars, NaN -> None (what DB drivers accept), without a Python loop."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        obj = arr.astype(object)
        obj[np.isnan(arr)] = None
        return obj.tolist()  # type: ignore[no-any-return]
    return arr.tolist()  # type: ignore[no-any-return]


_NAMED = re.compile(r"(?<!:):([a-zA-Z_][a-zA-Z0-9_]*)")


def read_frame(session: Session, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run a read on the raw driver cursor: building frames from plain tuples is ~10x faster than from
    ORM rows. SQL uses ``:name`` parameters on both dialects."""
    session.flush()
    cur = raw_cursor(session)
    if dialect(session) == "postgresql":
        sql = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
    cur.execute(sql, params or {})
    columns = [d[0] for d in cur.description]
    return pd.DataFrame.from_records(cur.fetchall(), columns=columns)


def in_chunks(ids: Sequence[int]) -> list[list[int]]:
    ids = list(ids)
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


STAGE_COLUMNS = (
    "jurisdiction_id",
    "indicator_id",
    "date",
    "disaggregation",
    "value",
    "revision",
    "previous_value",
    "reason",
    "locked",
)


def stage_revisions(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """Load a batch of new revisions into a temporary table of this connection.

    From there one ``INSERT ... SELECT`` writes the revision log and one writes the current figures, both
    inside the database engine: binding each value once instead of twice is most of the cost of a bulk load.
    """
    name = dialect(session)
    cur = raw_cursor(session)
    if name == "postgresql":
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS stage_revision (jurisdiction_id integer, indicator_id smallint, "
            "date date, disaggregation varchar(40), value double precision, revision smallint, "
            "previous_value double precision, reason text, locked smallint) ON COMMIT DELETE ROWS"
        )
    else:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS stage_revision (jurisdiction_id INTEGER, indicator_id INTEGER, "
            "date DATE, disaggregation TEXT, value REAL, revision INTEGER, previous_value REAL, reason TEXT, "
            "locked INTEGER)"
        )
    cur.execute("DELETE FROM stage_revision")
    insert_rows(session, "stage_revision", STAGE_COLUMNS, rows)


def stage_fresh_values(session: Session, rows: list[tuple[Any, ...]]) -> None:
    """First reports of values, not locked, without reason: five columns (the rest default in the SELECT)."""
    insert_rows(session, "stage_revision", STAGE_COLUMNS[:5], rows)


def apply_staged_revisions(session: Session, submission_id: int, recorded_at: object) -> None:
    """Append the staged revisions to the log and make them the jurisdictions' own current figures."""
    name = dialect(session)
    cur = raw_cursor(session)
    mark = "?" if name == "sqlite" else "%s"
    cur.execute(
        "INSERT INTO observation (jurisdiction_id, indicator_id, date, disaggregation, revision, submission_id, "
        f"value, previous_value, reason, recorded_at) SELECT jurisdiction_id, indicator_id, date, disaggregation, "
        f"COALESCE(revision, 1), {mark}, value, previous_value, reason, {mark} FROM stage_revision",
        (submission_id, recorded_at),
    )
    # own figures only: the roll-up writes the children's sums of the rows that have children
    cur.execute(
        "INSERT INTO figure (jurisdiction_id, indicator_id, date, disaggregation, own_all, own_pub, child_all, "
        "child_pub, revisions) SELECT jurisdiction_id, indicator_id, date, disaggregation, value, "
        "CASE WHEN locked = 1 THEN value END, NULL, NULL, COALESCE(revision, 1) FROM stage_revision WHERE true "
        "ON CONFLICT (jurisdiction_id, indicator_id, date, disaggregation) DO UPDATE SET "
        "own_all = excluded.own_all, own_pub = COALESCE(excluded.own_pub, figure.own_pub), "
        "revisions = excluded.revisions"
    )
