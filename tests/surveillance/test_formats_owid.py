"""Our World in Data long layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from accord.surveillance.formats import owid

SMALL = b"""iso_code,continent,location,date,total_cases,new_cases,total_deaths,new_deaths,new_tests,hosp_patients,\
icu_patients,population
CHN,Asia,China,2020-02-12,,14108,,97,,,,1439323774.0
CHN,Asia,China,2020-02-13,,15141,,254,,,,1439323774.0
ESP,Europe,Spain,2020-04-19,,-713,,410,1000.0,5000,700,46754783.0
OWID_WRL,,World,2020-02-12,,14200,,100,,,,
"""


def test_parse_maps_columns_and_codes() -> None:
    result = owid.parse(SMALL, "owid.csv")
    assert result.problems == []
    frame = result.frame
    spain = frame[frame["jurisdiction"] == "ES"].set_index("indicator")["value"].to_dict()
    assert spain == {
        "new_confirmed": -713.0,
        "new_deaths": 410.0,
        "new_tests": 1000.0,
        "hospitalised": 5000.0,
        "icu_occupied": 700.0,
    }
    negative = frame[frame["value"] < 0]
    assert negative["reason"].tolist() == ["negative daily count as published by OWID"]
    world = frame[frame["jurisdiction_name"] == "World"]
    assert set(world["jurisdiction"]) == {""} and len(world) == 2
    assert any("World" in n for n in result.notes)
    assert frame[frame["jurisdiction"] == "CN"]["line"].tolist() == [2, 2, 3, 3]
    assert (frame["reason"] == "").sum() == len(frame) - 1


def test_countries_option_skips_others_with_a_note() -> None:
    result = owid.parse(SMALL, "owid.csv", countries=["CN"])
    assert set(result.frame["jurisdiction"]) == {"CN"}
    assert "skipped 2 rows of 2 other locations" in result.notes


def test_bad_cells_and_missing_columns() -> None:
    data = (
        b"iso_code,location,date,new_cases\nCHN,China,2020-02-31,1\nCHN,China,2020-02-12,lots\nCHN,China,2020-02-12,2\n"
    )
    found = [(p.line, p.field, p.code) for p in owid.parse(data, "o.csv").problems]
    assert found == [(2, "date", "bad-date"), (3, "new_cases", "not-a-number"), (4, None, "duplicate")]
    [p] = owid.parse(b"iso_code,location,date,stringency_index\n", "o.csv").problems
    assert "none of the value columns" in p.message
    [p] = owid.parse(b"location,date,new_cases\n", "o.csv").problems
    assert p.code == "missing-column" and "iso_code" in p.message


def test_render_then_parse_gives_the_same_observations() -> None:
    frame = owid.parse(SMALL, "owid.csv").frame
    text = owid.render(frame.assign(population=1000.0))
    lines = text.decode().splitlines()
    assert lines[0] == ",".join(owid.RENDER_COLUMNS)
    assert "CHN,China,2020-02-13,29249,15141,351,254" in lines[2]
    again = owid.parse(text, "again.csv").frame
    key = ["jurisdiction", "jurisdiction_name", "date", "indicator"]
    pd.testing.assert_frame_equal(
        again.drop(columns="line").sort_values(key).reset_index(drop=True),
        frame.drop(columns="line").sort_values(key).reset_index(drop=True),
    )


@pytest.mark.shared_data
def test_real_owid_file(data_dir: Path) -> None:
    data = (data_dir / "owid-covid19-2020-05-28" / "owid-covid-data.csv").read_bytes()
    result = owid.parse(data, "owid-covid-data.csv")
    assert result.problems == []
    frame = result.frame
    assert len(frame[frame["indicator"] == "new_confirmed"]) == 20_338
    spain = frame[
        (frame["jurisdiction"] == "ES") & (frame["date"] == "2020-04-19") & (frame["indicator"] == "new_confirmed")
    ]
    assert spain["value"].tolist() == [-713.0] and str(spain["reason"].iat[0]).startswith("negative daily count")
    assert (frame["value"] < 0).sum() == (frame["reason"] != "").sum()
    assert set(frame.loc[frame["jurisdiction"] == "", "jurisdiction_name"]) == {"World", "International"}
    assert "XK" in set(frame["jurisdiction"])  # Kosovo's XKX
