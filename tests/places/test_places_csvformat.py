"""The generic places CSV."""

from __future__ import annotations

import pandas as pd

from accord.places import csvformat
from accord.surveillance.formats.common import PLACE_COLUMNS

GOOD = """code,name,local_name,level,parent_code,population
CN,China,中国,country,,1400050000
420000,Hubei,湖北省,province,CN,59270000
420100,Wuhan,武汉市,city,420000,
420100-X-1,Arrivals,外地来汉,unallocated,420100,0
""".encode()


def problems(data: bytes) -> list[tuple[int | None, str | None, str]]:
    return [(p.line, p.field, p.code) for p in csvformat.parse(data, "places.csv").problems]


def test_parse_good_file() -> None:
    result = csvformat.parse(GOOD, "places.csv")
    assert result.problems == []
    assert tuple(result.places.columns) == PLACE_COLUMNS and result.frame is result.places
    places = result.places.set_index("code")
    assert places.loc["420000", "population"] == 59_270_000 and places["population"].isna()["420100"]
    assert places.loc["420100", "line"] == 4


def test_optional_columns_and_parents_outside_the_file() -> None:
    result = csvformat.parse(b"code,name,level,parent_code\n421100,Huanggang,city,420000\n", "p.csv")
    assert result.problems == []  # 420000 may already be in the tree: the service checks
    assert result.places["local_name"].tolist() == [""] and result.places["population"].isna().all()


def test_problems() -> None:
    data = b"""code,name,level,parent_code,population,colour
A,Alpha,x,B,10,
B,Beta,x,C,-5,
C,Gamma,x,A,1.5,
D,Delta,x,D,many,
,Nameless,x,,,
A,Again,x,,,
E,,x,A,,
F,Leaf,x,C,,
"""
    assert problems(data) == [
        (1, "colour", "unknown-column"),
        (2, "parent_code", "parent-cycle"),
        (3, "population", "bad-population"),
        (3, "parent_code", "parent-cycle"),
        (4, "population", "bad-population"),
        (4, "parent_code", "parent-cycle"),
        (5, "population", "not-a-number"),
        (5, "parent_code", "parent-cycle"),
        (6, "code", "empty-value"),
        (7, None, "duplicate"),
        (8, "name", "empty-value"),
    ]


def test_broken_files() -> None:
    assert problems(b"") == [(None, None, "empty")]
    assert problems(b"code,name\n") == [(1, "level,parent_code", "missing-column")]
    assert csvformat.parse(b"code,name,level,parent_code\n", "p.csv").notes == [
        "the file has a header but no data rows"
    ]


def test_render_then_parse() -> None:
    places = csvformat.parse(GOOD, "places.csv").places
    again = csvformat.parse(csvformat.render_places_csv(places), "again.csv").places
    pd.testing.assert_frame_equal(again, places)
