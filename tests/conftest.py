"""Shared fixtures: a migrated store on SQLite and on PostgreSQL (a database created and dropped per test
module), the path of the shared real-world data, and a small jurisdiction tree."""

from __future__ import annotations

import os
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


def create_pg_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = f"accord_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'accord.db'}")
        name = None
    else:
        admin = request.getfixturevalue("pg_admin")
        name, url = create_pg_database(admin)
        eng = make_engine(url)
    migrate.upgrade(eng)
    with transaction(session_factory(eng)) as s:
        surveillance.seed_indicators(s)
    yield eng
    eng.dispose()
    if name:
        drop_pg_database(request.getfixturevalue("pg_admin"), name)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'accord.db'}")
    migrate.upgrade(eng)
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
