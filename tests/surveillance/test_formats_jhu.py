"""JHU CSSE time series: wide, cumulative, global and US layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from accord.surveillance.formats import jhu

GLOBAL = b"""Province/State,Country/Region,Lat,Long,1/22/20,1/23/20,1/24/20,1/25/20
Hubei,China,30.9756,112.2707,444,444,549,500
,Italy,41.87194,12.56738,0,,2,5
Diamond Princess,Canada,0,0,0,0,1,1
,Diamond Princess,0,0,0,1,1,1
"""
US = b"""UID,iso2,iso3,code3,FIPS,Admin2,Province_State,Country_Region,Lat,Long_,Combined_Key,Population,1/22/20,\
1/23/20
84001001,US,USA,840,1001.0,Autauga,Alabama,US,32.5,-86.6,"Autauga, Alabama, US",55869,0,2
16,AS,ASM,16,60.0,,American Samoa,US,-14.3,-170.1,"American Samoa, US",55641,0,0
84070002,US,USA,840,,Dukes and Nantucket,Massachusetts,US,41.4,-70.7,"Dukes and Nantucket, Massachusetts, US",0,1,1
"""


def series(frame: pd.DataFrame, name: str) -> list[float]:
    return frame[frame["jurisdiction_name"] == name].sort_values("date")["value"].tolist()


def test_global_layout_differences_each_row() -> None:
    result = jhu.parse(GLOBAL, "time_series_covid19_confirmed_global.csv")
    assert result.problems == []
    frame = result.frame
    assert set(frame["indicator"]) == {"new_confirmed"} and set(frame["jurisdiction"]) == {""}
    assert series(frame, "Hubei") == [444.0, 0.0, 105.0, -49.0]
    hubei = frame[frame["jurisdiction_name"] == "Hubei"]
    assert hubei["reason"].tolist()[-1] == "cumulative decreased from 549 to 500 as published by JHU CSSE"
    assert (hubei["reason"].iloc[:3] == "").all() and set(hubei["line"]) == {2}
    # an empty cell is a gap: no row, and the next day is diffed against the last known total
    assert series(frame, "Italy") == [0.0, 2.0, 3.0]
    # "Diamond Princess" is a country-level row and a province of Canada: names are disambiguated
    assert series(frame, "Diamond Princess, Canada") == [0.0, 0.0, 1.0, 0.0]
    assert series(frame, "Diamond Princess") == [0.0, 1.0, 0.0, 0.0]


def test_us_layout_uses_fips_codes() -> None:
    frame = jhu.parse(US, "time_series_covid19_deaths_US.csv").frame
    assert set(frame["indicator"]) == {"new_deaths"}
    codes = frame.drop_duplicates("jurisdiction_name").set_index("jurisdiction_name")["jurisdiction"].to_dict()
    assert codes == {"Autauga, Alabama": "01001", "American Samoa": "60", "Dukes and Nantucket, Massachusetts": ""}
    assert series(frame, "Autauga, Alabama") == [0.0, 2.0]


def test_indicator_option_and_inference() -> None:
    assert jhu.infer_indicator("time_series_covid19_recovered_global.csv") == "new_recovered"
    assert jhu.infer_indicator("series.csv") is None
    [p] = jhu.parse(GLOBAL, "series.csv").problems
    assert p.field == "indicator" and "pass indicator=" in p.message
    assert set(jhu.parse(GLOBAL, "series.csv", indicator="new_deaths").frame["indicator"]) == {"new_deaths"}


def test_bad_cells_columns_and_duplicates() -> None:
    data = GLOBAL.replace(b"549", b"5x9") + b",Italy,0,0,1,1,1,1\n"
    found = [(p.line, p.field, p.code) for p in jhu.parse(data, "confirmed.csv").problems]
    assert found == [(2, "1/24/20", "not-a-number"), (6, None, "duplicate")]
    [p] = jhu.parse(b"Province/State,Country/Region,Lat,Long,Notes,1/22/20\n", "confirmed.csv").problems
    assert p.code == "unknown-column" and p.field == "Notes"
    [p] = jhu.parse(b"Province/State,Country/Region,Lat,Long\n", "confirmed.csv").problems
    assert "no date columns" in p.message


def test_render_global_then_parse_gives_the_same_daily_counts() -> None:
    frame = jhu.parse(GLOBAL.replace(b",,2,5", b",0,2,5"), "confirmed_global.csv").frame
    text = jhu.render(frame, indicator="new_confirmed")
    assert text.decode().splitlines()[0] == "Province/State,Country/Region,Lat,Long,1/22/20,1/23/20,1/24/20,1/25/20"
    again = jhu.parse(text, "confirmed_global.csv").frame
    key = ["jurisdiction_name", "date"]
    pd.testing.assert_frame_equal(
        again.drop(columns="line").sort_values(key).reset_index(drop=True),
        frame.drop(columns="line").sort_values(key).reset_index(drop=True),
    )
    provinces = jhu.render(frame[frame["jurisdiction_name"] == "Hubei"], country="China").decode()
    assert provinces.splitlines()[1].startswith("Hubei,China,,,444,444,549,500")


@pytest.mark.shared_data
def test_real_files(data_dir: Path) -> None:
    folder = data_dir / "jhu-csse-covid19-timeseries"
    result = jhu.parse(
        (folder / "time_series_covid19_confirmed_US.csv").read_bytes(), "time_series_covid19_confirmed_US.csv"
    )
    assert result.problems == []
    frame = result.frame
    assert len(frame) == 3340 * 344
    assert set(frame.loc[frame["jurisdiction_name"] == "Autauga, Alabama", "jurisdiction"]) == {"01001"}
    # cumulative sum of the daily values gives back the published totals
    raw = pd.read_csv(folder / "time_series_covid19_confirmed_US.csv", dtype={"FIPS": str})
    totals = frame.groupby("line")["value"].sum().to_numpy()
    assert np.array_equal(totals, raw["12/30/20"].to_numpy(dtype=float))
    negative = frame[frame["value"] < 0]
    assert len(negative) > 0 and negative["reason"].str.startswith("cumulative decreased from").all()

    recovered = jhu.parse(
        (folder / "time_series_covid19_recovered_global.csv").read_bytes(), "time_series_covid19_recovered_global.csv"
    )
    assert recovered.problems == [] and set(recovered.frame["indicator"]) == {"new_recovered"}
