"""Shared fixtures: a migrated store on SQLite and on PostgreSQL (a database created and dropped per test
module), the path of the shared real-world data, and a small jurisdiction tree.

Running the migrations costs a test about 0.3 s of CPU on SQLite and 2 s on PostgreSQL (DDL and commits), so each
test process runs them once per backend, into a template, and every fresh store is a copy of that template: a file
copy on SQLite, ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL. A copy holds what the migrations built (tables,
rows they insert, Alembic revision), so ``test_schema_migrations.py`` still checks their real output."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from accord import migrate
from accord.db import make_engine, session_factory, transaction
from accord.places import service as places
from accord.surveillance import service as surveillance

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist starts its workers with COLUMNS=80; a rich console made at import (accord.clikit) would keep
    # that width and wrap the command output the CLI tests read. A worker sees what a plain run sees.
    os.environ.pop("COLUMNS", None)
PG_ADMIN_URL = os.environ.get("ACCORD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def shared_data() -> Path | None:
    env = os.environ.get("ACCORD_SHARED_DATA")
    path = Path(env) if env else ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data()
    if path is None:
        pytest.skip("real third-party data (../shared/data) is not present on this machine")
    return path


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except Exception as exc:  # pragma: no cover - depends on the machine
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_admin() -> str:
    problem = _pg_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {problem}")
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {problem}")
    return PG_ADMIN_URL


def _admin_execute(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


#: this process's templates, migrated to head once: SQLite file, and PostgreSQL database name per admin URL
_TEMPLATES: dict[str, str] = {}


def _pg_template(admin_url: str) -> str:
    if admin_url not in _TEMPLATES:
        name, url = create_pg_database(admin_url)
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()  # a template must have no connections while it is copied
        _TEMPLATES[admin_url] = name
    return _TEMPLATES[admin_url]


def create_pg_database(admin_url: str, *, migrated: bool = False) -> tuple[str, str]:
    """A new database (name, URL): empty, or with ``migrated`` a copy of this process's template at head."""
    name = f"accord_test_{uuid.uuid4().hex[:10]}"
    template = f' TEMPLATE "{_pg_template(admin_url)}"' if migrated else ""
    _admin_execute(admin_url, f'CREATE DATABASE "{name}"{template}')
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(admin_url: str, name: str) -> None:
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated_sqlite(path: Path) -> str:
    """A new SQLite store at ``path``, a copy of this process's template at head; its URL."""
    if "sqlite" not in _TEMPLATES:
        template = Path(tempfile.mkdtemp(prefix="accord-template-")) / "accord.db"
        engine = make_engine(f"sqlite:///{template}")
        migrate.upgrade(engine)
        with engine.connect() as conn:  # everything into the main file, so copying that file copies the store
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        _TEMPLATES["sqlite"] = str(template)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATES["sqlite"], path)
    return f"sqlite:///{path}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    for key, template in _TEMPLATES.items():
        if key == "sqlite":
            shutil.rmtree(Path(template).parent, ignore_errors=True)
        else:
            drop_pg_database(key, template)
    _TEMPLATES.clear()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(migrated_sqlite(tmp_path / "accord.db"))
        name = None
    else:
        name, url = create_pg_database(request.getfixturevalue("pg_admin"), migrated=True)
        eng = make_engine(url)
    with transaction(session_factory(eng)) as s:
        surveillance.seed_indicators(s)
    yield eng
    eng.dispose()
    if name:
        drop_pg_database(request.getfixturevalue("pg_admin"), name)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(migrated_sqlite(tmp_path / "accord.db"))
    with transaction(session_factory(eng)) as s:
        surveillance.seed_indicators(s)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


SMALL_TREE = pd.DataFrame(
    [
        ("AR", "Arcadia", "阿卡迪亚", "country", "", 1_000_000),
        ("AR-01", "North", "北省", "province", "AR", 600_000),
        ("AR-02", "South", "南省", "province", "AR", 400_000),
        ("AR-01-01", "Riverton", "河城", "city", "AR-01", 350_000),
        ("AR-01-02", "Hillside", "山城", "city", "AR-01", 250_000),
        ("AR-02-01", "Bayport", "湾城", "city", "AR-02", 400_000),
        ("AR-01-01-001", "Old Town", "老城", "community", "AR-01-01", 200_000),
        ("AR-01-01-002", "Mill End", "磨坊", "community", "AR-01-01", 150_000),
    ],
    columns=["code", "name", "local_name", "level", "parent_code", "population"],
)


@pytest.fixture
def small_tree(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(sessions) as s:
        places.import_places(s, SMALL_TREE)
    return sessions
