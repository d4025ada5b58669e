"""A small published store for the disclosure tests: a generated country with 30 days of reports from its
communities, everything published, one correction after publication and one province total above its
children (unallocated). Built through the real services in about a second."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from accord import migrate
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.demo import country
from accord.disclosure import boundaries
from accord.places import service as places
from accord.surveillance import service as surveillance

START = dt.date(2020, 1, 20)
DAYS = 30
LAST = START + dt.timedelta(days=DAYS - 1)
T0 = dt.datetime(2020, 1, 20, 12, tzinfo=dt.UTC)


def build_store(path: Path) -> tuple[sessionmaker[Session], pd.DataFrame]:
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    geo = country.generate_country(seed=3, provinces=3, cities=8, communities=40)
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, geo)
        # provinces and cities get generated maps; communities are left without, for the cartogram
        cells = boundaries.generate_voronoi_boundaries(geo[geo["level"].isin(["country", "province", "city"])])
        places.set_boundaries(s, cells)
        surveillance.set_schedule(s, SYSTEM, "AR", ["new_confirmed"], level="community", active_from=START)
    comms = geo[geo["level"] == "community"]["code"].tolist()
    rng = np.random.default_rng(5)
    rows = []
    for i in range(DAYS):
        day = START + dt.timedelta(days=i)
        for c in comms:
            imported, local = int(rng.poisson(0.3)), int(rng.poisson(0.2 + i * 0.15))
            rows += [
                (c, day, "new_confirmed", "", imported + local),
                (c, day, "new_confirmed", "imported", imported),
                (c, day, "new_confirmed", "local", local),
                (c, day, "new_deaths", "", int(rng.poisson(0.05))),
                (c, day, "new_recovered", "", int(rng.poisson(0.1 + i * 0.05))),
                (c, day, "new_tests", "", int(rng.poisson(20))),
            ]
    frame = pd.DataFrame(rows, columns=["jurisdiction", "date", "indicator", "disaggregation", "value"])
    with transaction(sessions) as s:
        surveillance.submit(s, frame, actor=SYSTEM, source="test:reports", now=T0 + dt.timedelta(days=DAYS))
    with transaction(sessions) as s:
        surveillance.publish_due(s, T0 + dt.timedelta(days=DAYS + 2), 1)
    # after publication: a correction with a reason (errata) and a province total above its children
    first = comms[0]
    province = geo.loc[geo["level"] == "province", "code"].iloc[0]
    fix = pd.DataFrame(
        [
            (first, LAST, "new_confirmed", "", 99, "late lab results added"),
            (first, LAST, "new_confirmed", "local", 99, "late lab results added"),
            (province, LAST, "new_confirmed", "", 5000, ""),
        ],
        columns=["jurisdiction", "date", "indicator", "disaggregation", "value", "reason"],
    )
    with transaction(sessions) as s:
        surveillance.submit(s, fix.iloc[:2], actor=SYSTEM, source="test:fix", now=T0 + dt.timedelta(days=DAYS + 3))
        surveillance.submit(s, fix.iloc[2:], actor=SYSTEM, source="test:province", now=T0 + dt.timedelta(days=DAYS + 3))
    with transaction(sessions) as s:
        surveillance.publish_due(s, T0 + dt.timedelta(days=DAYS + 5), 1)
    return sessions, geo
