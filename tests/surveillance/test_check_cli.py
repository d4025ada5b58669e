"""``accord report check`` as a coordinator runs it: finds a broken roll-up, flags it, exits 1, repairs it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, update
from tests.conftest import SMALL_TREE
from typer.testing import CliRunner

from accord import migrate
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.places import service as places
from accord.settings import get_settings
from accord.surveillance import cli, service
from accord.surveillance.model import Figure, Flag

DAY = date(2026, 3, 1)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    engine = make_engine(f"sqlite:///{tmp_path / 'accord.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        places.import_places(s, SMALL_TREE)
        frame = pd.DataFrame(
            {
                "jurisdiction": ["AR-01-01-001", "AR-01-01-002", "AR-02-01"],
                "date": DAY.isoformat(),
                "indicator": "new_confirmed",
                "value": [5, 7, 3],
            }
        )
        service.submit(s, frame, actor=SYSTEM, source="test", now=datetime(2026, 3, 2, tzinfo=UTC))
    engine.dispose()
    monkeypatch.setenv("ACCORD_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _break_city(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    with transaction(session_factory(engine)) as s:
        city = places.get(s, "AR-01-01").id
        s.execute(update(Figure).where(Figure.jurisdiction_id == city, Figure.date == DAY).values(child_all=5.0))
    engine.dispose()


def _flags(path: Path) -> list[str]:
    """The open roll-up flags."""
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    with transaction(session_factory(engine)) as s:
        query = select(Flag.message).where(Flag.code == "rollup_mismatch", Flag.resolved_at.is_(None))
        out = list(s.scalars(query))
    engine.dispose()
    return out


def test_a_consistent_store_passes(store: Path) -> None:
    result = CliRunner().invoke(cli.app, ["check", "AR"])
    assert result.exit_code == 0, result.output
    assert "0 roll-up mismatch(es)" in result.output


def test_a_lost_update_is_found_flagged_and_repaired(store: Path) -> None:
    _break_city(store)
    found = CliRunner().invoke(cli.app, ["check", "AR"])
    assert found.exit_code == 1
    assert "AR-01-01 new_confirmed on 2026-03-01" in found.output
    assert "--repair" in found.output
    # the city counts too few, so the province above it (whose stored sum is right) now looks too high
    assert len(_flags(store)) == 2
    outside = CliRunner().invoke(cli.app, ["check", "AR-02"])
    assert outside.exit_code == 0, outside.output
    repaired = CliRunner().invoke(cli.app, ["check", "AR", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "repaired" in repaired.output
    assert _flags(store) == []
    again = CliRunner().invoke(cli.app, ["check", "AR", "--start", "2026-03-01", "--end", "2026-03-01"])
    assert again.exit_code == 0, again.output
