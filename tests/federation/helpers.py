"""Shared set-up of federation tests: a world hub and member countries, each its own store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from accord import migrate
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.federation import delivery, identity, peers, transport
from accord.federation.keys import DEV_KEK
from accord.places import service as places
from accord.surveillance import service as surveillance
from tests.conftest import migrated_sqlite

KEK = DEV_KEK.encode()

WORLD = pd.DataFrame(
    [("WORLD", "World", "", "world", "", None)],
    columns=["code", "name", "local_name", "level", "parent_code", "population"],
)


def country_tree(code: str, provinces: int = 2, cities: int = 2) -> pd.DataFrame:
    rows = [(code, f"Country {code}", "", "country", "", 1_000_000)]
    for p in range(1, provinces + 1):
        prov = f"{code}-{p:02d}"
        rows.append((prov, f"Province {prov}", "", "province", code, 500_000))
        for c in range(1, cities + 1):
            rows.append((f"{prov}-{c:02d}", f"City {prov}-{c:02d}", "", "city", prov, 250_000))
    return pd.DataFrame(rows, columns=["code", "name", "local_name", "level", "parent_code", "population"])


def new_store(path: Path | str, tree: pd.DataFrame) -> sessionmaker[Session]:
    """A store with the indicators and ``tree``: a new SQLite file at ``path``, or the database at a URL (migrated
    here unless it already is)."""
    url = path if isinstance(path, str) else migrated_sqlite(path)
    engine = make_engine(url)
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, tree)
    return sessions


def report(
    sessions: sessionmaker[Session], rows: list[tuple[str, str, str, float]], approve: bool = True, reason: str = ""
) -> None:
    """Submit (jurisdiction, date, indicator, value) rows as the local operator, and approve their days."""
    frame = pd.DataFrame(rows, columns=["jurisdiction", "date", "indicator", "value"]).assign(reason=reason)
    with transaction(sessions) as s:
        surveillance.submit(s, frame, actor=SYSTEM, source="test")
        if approve:
            for code, days in frame.groupby("jurisdiction")["date"]:
                dates = sorted({pd.Timestamp(d).date() for d in days})
                surveillance.approve(s, SYSTEM, str(code), dates)


def link(
    hub: sessionmaker[Session],
    country: sessionmaker[Session],
    code: str,
    url: str = "http://hub",
    config: dict[str, object] | None = None,
) -> None:
    """Identities on both sides, the hub registering the country and the country its parent (with the hub's
    key, which signs the hub's reads of the country's outbox)."""
    with transaction(hub) as s:
        hub_key = identity.init_identity(s, "WORLD", KEK).public_key
    with transaction(country) as s:
        me = identity.init_identity(s, code, KEK)
        peers.add_peer(s, "WORLD", "parent", url=url, public_key=hub_key, config=config or {"depth": 1})
    with transaction(hub) as s:
        peers.add_peer(s, code, "child", public_key=me.public_key, name=f"Country {code}")


def signer(sessions: sessionmaker[Session], receiver: str) -> transport.Signer:
    """What an instance signs its transport requests to ``receiver`` with."""
    with transaction(sessions) as s:
        return delivery.request_signer(s, KEK, receiver)
