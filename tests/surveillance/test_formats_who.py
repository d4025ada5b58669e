"""WHO COVID-19 global data layout."""

from __future__ import annotations

import pandas as pd

from accord.surveillance.formats import who

DATA = """\ufeffDate_reported,Country_code,Country,WHO_region,New_cases,Cumulative_cases,New_deaths,Cumulative_deaths
2020-02-11,CN,China,WPRO,2022,42708,103,1017
2020-02-12T00:00:00Z,CN,China,WPRO,1820,44528,98,1115
2020-02-13,CN,China,WPRO,-1,44527,,1115
2020-02-12,IT,Italy,EURO,0,3,0,0
""".encode()


def test_parse_reads_daily_columns_only() -> None:
    result = who.parse(DATA, "WHO-COVID-19-global-data.csv")
    assert result.problems == []
    frame = result.frame
    china = frame[frame["jurisdiction"] == "CN"]
    assert china[china["indicator"] == "new_confirmed"]["value"].tolist() == [2022.0, 1820.0, -1.0]
    assert china[china["indicator"] == "new_deaths"]["value"].tolist() == [103.0, 98.0]  # empty cell: no report
    assert china["date"].iloc[2] == pd.Timestamp("2020-02-12")
    assert frame.loc[frame["value"] < 0, "reason"].tolist() == ["negative daily count as published by WHO"]
    assert who.parse(DATA, "w.csv", countries=["IT"]).notes == ["skipped 3 rows of 1 other countries"]


def test_problems() -> None:
    data = (
        b"Date_reported,Country_code,Country,New_cases,New_deaths\n2020/02/12,CN,China,1,1\n"
        b"2020-02-12,CN,China,n/a,1\n2020-02-12,CN,China,1,1\n"
    )
    found = [(p.line, p.field, p.code) for p in who.parse(data, "w.csv").problems]
    assert found == [(2, "Date_reported", "bad-date"), (3, "New_cases", "not-a-number"), (4, None, "duplicate")]


def test_render_then_parse() -> None:
    frame = who.parse(DATA, "w.csv").frame
    text = who.render(frame, regions={"CN": "WPRO"}).decode()
    lines = text.splitlines()
    assert lines[0] == ",".join(who.COLUMNS)
    assert lines[1] == "2020-02-11,CN,China,WPRO,2022,2022,103,103"
    assert lines[3] == "2020-02-13,CN,China,WPRO,-1,3841,,"
    again = who.parse(text.encode(), "w.csv").frame
    key = ["jurisdiction", "date", "indicator"]
    pd.testing.assert_frame_equal(
        again.drop(columns="line").sort_values(key).reset_index(drop=True),
        frame.drop(columns="line").sort_values(key).reset_index(drop=True),
    )
