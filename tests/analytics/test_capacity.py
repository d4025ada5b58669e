"""Hospital demand from the model against capacity from the store: service on SQLite and PostgreSQL, the page with
its JSON and CSV twins, the API, bad input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from tests.analytics.analytics_data import DAYS, PUBLISHED_AT, START, T0, load
from tests.conftest import SMALL_TREE

import accord.app
from accord import migrate
from accord.analytics import capacity, capacity_pages
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.errors import AccordError
from accord.places import service as places
from accord.settings import Settings
from accord.surveillance import service as surveillance

CAPACITY = [("AR-01-01", 400, 20, 12), ("AR-02-01", 5000, 400, 300)]  # Riverton tight, Bayport ample


def add_capacity(session: Session) -> None:
    day = START + dt.timedelta(days=DAYS - 1)
    rows = []
    for code, beds, icu, vent in CAPACITY:
        rows += [(code, day, "beds_capacity", "", beds), (code, day, "icu_capacity", "", icu),
                 (code, day, "ventilators_capacity", "", vent)]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["jurisdiction", "date", "indicator", "disaggregation", "value"])
    surveillance.submit(session, frame, actor=SYSTEM, source="test:capacity", now=T0 + dt.timedelta(days=DAYS))
    surveillance.publish_due(session, PUBLISHED_AT, 1)


def test_outlook_uses_stored_capacity_and_model_census(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s:
        load(s)
        add_capacity(s)
    with transaction(small_tree) as s:
        out = capacity.capacity_outlook(s, "AR", level="city", horizon=60, r_default=1.5)
    t = out.table.set_index("jurisdiction")
    assert list(t.index) == ["AR-01-01", "AR-01-02", "AR-02-01"]
    assert t.loc["AR-01-01", "icu_capacity"] == 20 and np.isnan(t.loc["AR-01-02", "icu_capacity"])
    # Riverton reports 2 ICU patients and rising cases against 20 ICU beds: exceeded within the horizon
    assert not pd.isna(t.loc["AR-01-01", "icu_days_to_capacity"])
    assert pd.isna(t.loc["AR-02-01", "icu_days_to_capacity"])  # 400 ICU beds: ample
    assert pd.isna(t.loc["AR-01-02", "icu_days_to_capacity"])  # unknown capacity: never "exceeded"
    assert out.icu.shape == (3, 60) and np.all(out.icu >= 0)
    # the model starts from the reported census: Bayport's 5 ICU patients on day 0 (leaving at 1/9 a day)
    assert out.icu[2, 0] == pytest.approx(5, rel=0.3)
    assert set(t["rt_source"]) <= {"estimated", "default"}


def test_bad_parameters_are_named(small_tree: sessionmaker[Session]) -> None:
    with transaction(small_tree) as s, pytest.raises(AccordError) as err:
        capacity.capacity_outlook(s, "AR", horizon=0, reporting=2.0)
    fields = {p.field for p in err.value.problems}
    assert fields == {"horizon", "reporting"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path: Path = tmp_path_factory.mktemp("capacity-web")
    engine = make_engine(f"sqlite:///{path / 'accord.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, SMALL_TREE)
        places.import_places(s, pd.DataFrame([("AR-X", "<script>alert(1)</script>", None, "city", "AR-02", 10)],
                                             columns=["code", "name", "local_name", "level", "parent_code",
                                                      "population"]))  # fmt: skip
        load(s)
        add_capacity(s)
    engine.dispose()
    app = accord.app.create_app(Settings(data_dir=path))
    capacity_pages.install(app)  # as accord.app does
    with TestClient(app) as c:
        yield c


def test_page_twins_and_api(client: TestClient) -> None:
    page = client.get("/public/AR/capacity?level=city&horizon=45")
    assert page.status_code == 200
    assert "capacity-map" in page.text and "<script>alert(1)" not in page.text
    assert 'href="/public/AR/capacity.json?level=city&amp;horizon=45"' in page.text
    js = client.get("/public/AR/capacity.json?level=city&horizon=45").json()
    assert js["horizon"] == 45 and len(js["units"]) == 4
    csv = client.get("/public/AR/capacity.csv?level=city&horizon=45")
    assert csv.text.splitlines()[0].startswith("jurisdiction,jurisdiction_name")
    api = client.get("/api/v1/capacity?jurisdiction=AR&level=city&format=csv")
    assert api.status_code == 200 and "icu_days_to_capacity" in api.text
    assert client.get(SCRIPT := capacity_pages.SCRIPT).status_code == 200, SCRIPT


def test_page_errors(client: TestClient) -> None:
    bad = client.get("/public/AR/capacity.json?horizon=abc")
    assert bad.status_code == 400 and "horizon" in bad.json()["detail"]
    html = client.get("/public/AR/capacity?horizon=9999")
    assert html.status_code == 400 and "horizon" in html.text
    assert client.get("/public/NOPE/capacity.json").status_code == 404
