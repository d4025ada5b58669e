"""A store for the web tests: the small tree, users, keys, a published trust list and a few statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from accord import migrate
from accord.auth import service as auth
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.healthcode import service
from accord.places import service as places
from tests.conftest import SMALL_TREE


def build(path: Path) -> dict[str, str]:
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    with transaction(session_factory(engine)) as s:
        places.import_places(s, SMALL_TREE)
        auth.add_user(s, "coord", "coordinator", "AR-01")
        auth.add_user(s, "south", "coordinator", "AR-02")
        auth.add_user(s, "analyst", "analyst", "AR")
        service.init_root(s, "AR", SYSTEM, now=now - timedelta(days=1))
        service.add_issuer(s, "AR-01", SYSTEM, now=now - timedelta(hours=1))
        service.add_issuer(s, "AR-02", SYSTEM, now=now - timedelta(hours=1))
        service.publish_trust_list(s, SYSTEM, now=now)
        frame = pd.DataFrame(
            {
                "person_id": ["p-green", "p-red", "p-yellow"],
                "case_status": [None, "confirmed", None],
                "residence_risk": ["low", "low", "high"],
                "jurisdiction": ["AR-01", "AR-01", "AR-01"],
                "initials": ["GA", "RB", "YC"],
                "birth_day": ["01-02", "03-04", "05-06"],
            }
        )
        service.refresh_statuses(s, frame, now)
    with transaction(session_factory(engine)) as s:
        tokens = {u: auth.issue_token(s, u) for u in ("coord", "south", "analyst")}
    engine.dispose()
    return tokens
