"""Helpers shared by the benchmarks: a synthetic tree of any size, fresh stores on SQLite and PostgreSQL,
timing, tables and JSON results (in ``benchmarks/results/``, git-ignored)."""

from __future__ import annotations

import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from accord import migrate
from accord.db import make_engine, session_factory, transaction
from accord.surveillance import service as surveillance

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    env = os.environ.get("ACCORD_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def synthetic_tree(provinces: int, cities_per_province: int, communities: int, seed: int = 1) -> pd.DataFrame:
    """country -> provinces -> cities -> communities, communities spread unevenly over cities."""
    rng = np.random.default_rng(seed)
    rows = [("BX", "Benchland", "country", "", 0)]
    cities = []
    for p in range(provinces):
        pcode = f"BX-{p:02d}"
        rows.append((pcode, f"Province {p}", "province", "BX", 0))
        for c in range(cities_per_province):
            ccode = f"{pcode}-{c:03d}"
            cities.append(ccode)
            rows.append((ccode, f"City {p}.{c}", "city", pcode, 0))
    owner = rng.choice(len(cities), size=communities)
    for i, k in enumerate(owner):
        rows.append(
            (f"{cities[k]}-{i:05d}", f"Community {i}", "community", cities[k], int(rng.integers(2_000, 30_000)))
        )
    return pd.DataFrame(rows, columns=["code", "name", "level", "parent_code", "population"]).assign(local_name="")


@contextmanager
def timed() -> Iterator[dict[str, float]]:
    """Wall seconds, and CPU seconds of this process (the machine is shared: CPU time is the steadier figure
    for in-process work; it leaves out the PostgreSQL server's share)."""
    out: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    yield out
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0


def written_bytes() -> int | None:
    """Bytes this process has caused to be written to storage so far (Linux /proc; None elsewhere)."""
    try:
        lines = Path("/proc/self/io").read_text().splitlines()
    except OSError:
        return None
    found = [int(x.split()[1]) for x in lines if x.startswith("write_bytes:")]
    return found[0] if found else None


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------ stores
RESULTS = REPO / "benchmarks" / "results"
PG_ADMIN_URL = os.environ.get("ACCORD_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass
class Store:
    """A migrated, seeded database of one backend, made for one benchmark run."""

    backend: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    path: Path | None = None

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())

    def size_mib(self) -> float:
        if self.path is not None:
            files = [self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm"))]
            return sum(f.stat().st_size for f in files if f.exists()) / 2**20
        with self.engine.connect() as conn:
            return float(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()) / 2**20


def pg_problem() -> str | None:
    """Why PostgreSQL cannot be used (None when it can)."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # the benchmarks then skip PostgreSQL with this reason
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


def _migrated(backend: str, url: str, path: Path | None) -> Store:
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
    return Store(backend, url, engine, sessions, path)


@contextmanager
def fresh_store(backend: str, sqlite_path: Path, *, keep: bool = False) -> Iterator[Store]:
    """A new empty store: an SQLite file at ``sqlite_path`` (replaced if present) or a new PostgreSQL
    database (dropped afterwards unless ``keep``)."""
    if backend == "sqlite":
        for f in (sqlite_path, *(sqlite_path.with_name(sqlite_path.name + s) for s in ("-wal", "-shm"))):
            f.unlink(missing_ok=True)
        store = _migrated(backend, f"sqlite:///{sqlite_path}", sqlite_path)
        try:
            yield store
        finally:
            store.engine.dispose()
            if not keep:
                sqlite_path.unlink(missing_ok=True)
        return
    name = f"accord_bench_{uuid.uuid4().hex[:10]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    store = _migrated(backend, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", None)
    try:
        yield store
    finally:
        store.engine.dispose()
        if not keep:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def open_store(url: str) -> Store:
    """An existing store (e.g. the one ``ingest.py --keep`` left behind)."""
    engine = make_engine(url)
    path = Path(url.split("///", 1)[1]) if url.startswith("sqlite") else None
    return Store(engine.dialect.name, url, engine, session_factory(engine), path)


# ------------------------------------------------------------------------------------------- dask
def dask_worker_environ(top_pad_mib: int = 64) -> int | None:
    """Give the worker processes of a Dask ``LocalCluster`` started after this call ``MALLOC_TOP_PAD_`` (MiB; 0:
    glibc's default). Dask runs tasks in worker threads and trims their heaps eagerly; without a pad the models'
    numpy temporaries make a task about twice as slow (docs/scenarios.md, Performance). Returns the pad set."""
    if not top_pad_mib:
        return None
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ["MALLOC_TOP_PAD_"] = str(top_pad_mib * 2**20)
    dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
    return top_pad_mib


# ----------------------------------------------------------------------------------------- output


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    meta = {"machine": machine(), "code": code_version(), "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    out.write_text(json.dumps({**meta, **payload}, indent=2, default=str) + "\n")
    return out


def code_version() -> dict[str, Any]:
    """The commit measured, and whether src/ had uncommitted changes (read-only git calls)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or None
    return {"commit": commit, "src_dirty": bool(git("status", "--porcelain", "src"))}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for row in rows:  # short rows are padded with "-"
        table.add_row(*(fmt(v) for v in row), *["-"] * (len(columns) - len(row)))
    Console(width=max(Console().width, 150)).print(table)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ observations
#: the nine values reported per community and day: (indicator, disaggregation)
SERIES: list[tuple[str, str]] = [
    ("new_confirmed", ""),
    ("new_confirmed", "imported"),
    ("new_confirmed", "local"),
    ("new_suspected", ""),
    ("new_deaths", ""),
    ("new_recovered", ""),
    ("new_tests", ""),
    ("hospitalised", ""),
    ("icu_occupied", ""),
]


def synthetic_values(populations: np.ndarray, days: int, seed: int = 2) -> np.ndarray:
    """Whole-number values (communities x days x SERIES) of one epidemic wave, consistent with each other
    (total = imported + local, ICU within hospital) so validation has nothing to reject."""
    rng = np.random.default_rng(seed)
    n = len(populations)
    t = np.arange(days)
    peak = rng.uniform(0.3, 0.7, size=(n, 1)) * days
    wave = np.exp(-(((t - peak) / (days / 8)) ** 2))
    rate = populations[:, None] / 1e4 * (0.2 + 6 * wave)
    total = rng.poisson(rate)
    imported = rng.binomial(total, 0.1)
    hospital = rng.poisson(3 * rate + 1)
    parts = [
        total,
        imported,
        total - imported,
        rng.poisson(0.5 * rate + 1),
        rng.binomial(total, 0.02),
        rng.poisson(0.8 * rate),
        rng.poisson(20 + populations[:, None] / 1000, size=(n, days)),
        hospital,
        rng.binomial(hospital, 0.1),
    ]
    return np.stack(parts, axis=2).astype(np.int32)


def observation_frame(codes: np.ndarray, dates: pd.DatetimeIndex, values: np.ndarray) -> pd.DataFrame:
    """The long submission frame of ``values`` (len(codes) x len(dates) x SERIES)."""
    n, d, k = values.shape
    indicator = np.array([s[0] for s in SERIES], dtype=object)
    disaggregation = np.array([s[1] for s in SERIES], dtype=object)
    return pd.DataFrame(
        {
            "jurisdiction": np.repeat(codes, d * k),
            "date": np.tile(np.repeat(dates.to_numpy(), k), n),
            "indicator": np.tile(indicator, n * d),
            "disaggregation": np.tile(disaggregation, n * d),
            "value": values.reshape(-1),
        }
    )
