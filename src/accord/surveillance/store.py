"""Bulk reads and writes of surveillance tables, through the session's own connection and transaction.

The ORM is right for single rows; a day's reports of a country are tens of thousands of rows, so the hot
paths speak to the driver directly: ``executemany`` on SQLite, ``COPY`` and batched upserts on PostgreSQL.
Same SQL semantics on both (``INSERT ... ON CONFLICT DO UPDATE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
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


def upsert_rows(session: Session, table: str, key: Sequence[str], columns: Sequence[str],
                rows: list[tuple[Any, ...]]) -> None:
    """Insert or update by primary key; ``columns`` lists every column in each row tuple (key included)."""
    if not rows:
        return
    name = dialect(session)
    cur = raw_cursor(session)
    cols = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    mark = "?" if name == "sqlite" else "%s"
    marks = ", ".join(mark for _ in columns)
    sql = (f"INSERT INTO {table} ({cols}) VALUES ({marks}) "
           f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")
    cur.executemany(sql, rows)


def to_db_dates(values: pd.Series, dialect_name: str) -> list[object]:
    days = pd.to_datetime(values).dt.date
    if dialect_name == "sqlite":
        return [d.isoformat() for d in days]
    return list(days)


def py(values: np.ndarray | pd.Series) -> list[Any]:
    """numpy scalars -> Python scalars, NaN -> None (what DB drivers accept)."""
    arr = np.asarray(values, dtype=object)
    out = arr.tolist()
    return [None if (isinstance(v, float) and v != v) else v for v in out]


def read_frame(session: Session, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    result = session.execute(text(sql), params or {})
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def in_chunks(ids: Sequence[int]) -> list[list[int]]:
    ids = list(ids)
    return [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
