"""The demo extension: keys, trust list, statuses and codes for the sample population (tracing has none here)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from accord.db import transaction
from accord.demo.context import DemoContext
from accord.healthcode import codec, demo, service, trustlist
from accord.healthcode.model import PersonStatus
from accord.settings import Settings
from tests.conftest import SMALL_TREE


def test_extend_issues_codes_for_the_sample(sqlite_engine: object, tmp_path: Path) -> None:
    from accord.db import session_factory
    from accord.places import service as places

    sessions: sessionmaker[Session] = session_factory(sqlite_engine)  # type: ignore[arg-type]
    with transaction(sessions) as s:
        places.import_places(s, SMALL_TREE)
    now = dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC)
    geo = SMALL_TREE.assign(parent_code=SMALL_TREE["parent_code"])
    ctx = DemoContext(
        sessions,
        geo,
        pd.DataFrame(),
        now.date() - dt.timedelta(days=30),
        now,
        3,
        "AR",
        Settings(data_dir=tmp_path),
        Console(),
    )
    lines = demo.extend(ctx)
    assert lines[0].startswith("healthcode: 500 codes issued from a sample")
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(PersonStatus)) == 500
        colours = dict(s.execute(select(PersonStatus.colour, func.count()).group_by(PersonStatus.colour)).all())
        trust = trustlist.load_trust_list(service.current_trust_list(s).document).trust
        code, _ = service.issue_code(s, "sample-0001", now=now)
    assert colours["green"] > 300 and colours.get("red", 0) > 0 and colours.get("yellow", 0) > 0
    assert codec.verify(code, trust, now).valid
    assert "/public/healthcode/me/" in lines[2]
