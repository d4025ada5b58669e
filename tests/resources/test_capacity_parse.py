"""Parsing capacity reports (pure): SANER-like CSV long and wide, census measures skipped, problems located by
file, line and field; the covid19scenarios tables as published (real files when present)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from accord.resources import capacity_reports, catalog

CODES = {r.code for r in catalog.DEFAULT_CATALOG}


def test_wide_and_long_saner() -> None:
    wide = (
        "date,jurisdiction,numTotBeds,numbeds,numICUBeds,numVent,numC19HospPats,gowns\n"
        "2026-03-01,AR-01,420,400,20,12,88,1000\n"
    )
    parsed = capacity_reports.parse_saner(wide, CODES, "w.csv")
    assert parsed.problems == []
    got = dict(zip(parsed.rows["resource"], parsed.rows["quantity"], strict=True))
    assert got == {"beds": 400, "icu_beds": 20, "ventilators": 12, "gowns": 1000}  # staffed beds win over total
    assert parsed.skipped == {"numC19HospPats": 1, "numTotBeds": 1}
    long = "date,jurisdiction,measure,value,unit\n2026-03-01,AR-01,n95,20,box of 50\n2026-03-02,AR-01,oxygen,500,L\n"
    rows = capacity_reports.parse_saner(long, CODES, "l.csv").rows
    assert list(rows["unit"]) == ["box of 50", "L"] and list(rows["line"]) == [2, 3]


def test_saner_problems_name_file_line_and_field() -> None:
    text = "date,jurisdiction,n95,unobtainium\n2026-03-01,AR-01,-3,1\n2026-13-01,AR-02,x,\n"
    parsed = capacity_reports.parse_saner(text, CODES, "bad.csv")
    sentences = sorted(p.sentence() for p in parsed.problems)
    assert "bad.csv, line 2, field 'n95': -3 is negative" in sentences
    assert "bad.csv, line 3, field 'n95': 'x' is not a number" in sentences
    assert any("unknown measure or resource 'unobtainium'" in s for s in sentences)
    assert capacity_reports.parse_saner("jurisdiction,n95\nAR,1\n", CODES, "h.csv").problems[0].sentence() == (
        "h.csv, line 1, field 'date': the header has no 'date' column"
    )


@pytest.mark.shared_data
def test_covid19scenarios_tables_as_published(data_dir: Path) -> None:
    folder = data_dir / "hospital-capacity-covid19scenarios"
    pop = capacity_reports.parse_covid19scenarios(
        (folder / "populationData.tsv").read_text(), date(2020, 4, 1), "populationData.tsv"
    )
    assert pop.problems == []
    china = pop.rows[pop.rows["jurisdiction"] == "China"].set_index("resource")["quantity"]
    assert china["beds"] == 5_494_778 and china["icu_beds"] == 49_453  # the README's figures
    icu = capacity_reports.parse_covid19scenarios(
        (folder / "ICU_capacity.tsv").read_text(), date(2020, 4, 1), "ICU_capacity.tsv"
    )
    austria = icu.rows[icu.rows["jurisdiction"] == "Austria"].set_index("resource")["quantity"]
    assert austria["icu_beds"] == 1833 and austria["beds"] == 48446  # padded cells ("188 ") are read as numbers
    assert capacity_reports.name_candidates("USA-New York") == ["USA-New York", "New York"]
