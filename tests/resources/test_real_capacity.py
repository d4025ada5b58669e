"""Real data: the covid19scenarios bed and ICU tables imported into a tree of US states (names as the tables spell
them), the COVID Tracking Project census of those states submitted as surveillance reports, and the early warning
computed from both: New York's ICU census of 1 April 2020 was already above its ICU beds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.places import service as places
from accord.resources import capacity_import, early_warning, ledger_store
from accord.surveillance import service as surveillance

pytestmark = pytest.mark.shared_data
DAY = date(2020, 4, 1)


def _states(data_dir: Path) -> pd.DataFrame:
    census = pd.read_csv(
        data_dir / "hospital-capacity-covid19scenarios" / "us_states_covidtracking_cases_hosp_icu_daily.csv"
    )
    return census


def test_capacity_and_census_give_real_alerts(data_dir: Path, sqlite_engine: object) -> None:
    from accord.db import session_factory

    sessions: sessionmaker[Session] = session_factory(sqlite_engine)  # type: ignore[arg-type]
    census = _states(data_dir)
    names = sorted(census["state"].unique())
    tree = pd.DataFrame(
        [("US", "United States", "", "country", "", 0)]
        + [(f"US-{k:02d}", n.removeprefix("USA-"), "", "state", "US", 0) for k, n in enumerate(names)],
        columns=["code", "name", "local_name", "level", "parent_code", "population"],
    )
    with transaction(sessions) as s:
        places.import_places(s, tree)
    table = (data_dir / "hospital-capacity-covid19scenarios" / "populationData.tsv").read_text()
    with transaction(sessions) as s:
        result = capacity_import.import_capacity(
            s, SYSTEM, table, file="populationData.tsv", fmt="covid19scenarios", day=DAY, skip_unknown=True
        )
    assert result.rows >= 2 * 50  # beds and ICU beds of every state; the ~400 other regions are not in this tree
    ny = tree.loc[tree["name"] == "New York", "code"].item()
    with transaction(sessions) as s:
        stock = ledger_store.stock(s, ny, DAY).set_index("resource")["on_hand"]
    assert stock["beds"] == 52489 and stock["icu_beds"] == 1750  # the file's figures for USA-New York
    window = census[(census["date"] >= "2020-03-19") & (census["date"] <= DAY.isoformat())].dropna(
        subset=["icu", "hospitalized"]
    )
    code_of = dict(zip("USA-" + tree["name"], tree["code"], strict=False))
    rows = pd.concat(
        [
            pd.DataFrame(
                {
                    "jurisdiction": window["state"].map(code_of),
                    "date": window["date"],
                    "indicator": ind,
                    "value": window[col],
                }
            )
            for ind, col in (("hospitalised", "hospitalized"), ("icu_occupied", "icu"))
        ]
    )
    with transaction(sessions) as s:
        surveillance.submit(s, rows, actor=SYSTEM, source="covidtracking", now=datetime(2020, 4, 2, tzinfo=UTC))
    with transaction(sessions) as s:
        warn = early_warning.early_warning(s, "US", DAY, level="state", resource="icu_beds")
    ny_row = warn.set_index("jurisdiction").loc[ny]
    assert ny_row["days_of_supply"] == 0 and ny_row["level"] == "critical"  # 3,022 in ICU, 1,750 ICU beds
    assert warn.iloc[0]["days_of_supply"] == 0  # ranked worst first
    assert (warn["level"] == "ok").sum() > 10  # most states still had room on 1 April 2020
