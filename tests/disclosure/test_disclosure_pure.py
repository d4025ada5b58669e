"""Pure disclosure logic: boundaries, map view, scorecard maths, bulletin text, codebook (microseconds each)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, shape

from accord.disclosure import boundaries, bulletin, codebook, mapview, scorecard
from accord.surveillance import indicators as ind


# ------------------------------------------------------------------------------------------ boundaries
def _places(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.uniform([100, 20], [110, 30], size=(n, 2))
    return pd.DataFrame({"code": [f"P{i}" for i in range(n)], "level": "city", "lon": xy[:, 0], "lat": xy[:, 1]})


def test_voronoi_cells_tile_the_box_and_contain_their_point() -> None:
    frame = _places(25)
    cells = boundaries.generate_voronoi_boundaries(frame)
    assert set(cells) == set(frame["code"])
    polys = [shape(cells[c]) for c in frame["code"]]
    x0, y0, x1, y1 = boundaries._bbox(frame[["lon", "lat"]].to_numpy())
    assert sum(p.area for p in polys) == pytest.approx((x1 - x0) * (y1 - y0), rel=1e-6)
    for poly, (lon, lat) in zip(polys, frame[["lon", "lat"]].to_numpy(), strict=True):
        assert poly.geom_type == "Polygon" and poly.buffer(1e-9).contains(Point(lon, lat))


def test_voronoi_per_level_one_point_duplicates_and_missing_coordinates() -> None:
    frame = pd.DataFrame(
        {
            "code": ["A", "B", "C", "D", "E"],
            "level": ["country", "province", "province", "province", "province"],
            "lon": [1.0, 1.0, 1.0, 2.0, np.nan],
            "lat": [1.0, 1.0, 1.0, 2.0, np.nan],
        }
    )
    cells = boundaries.generate_voronoi_boundaries(frame)
    assert set(cells) == {"A", "B", "C", "D"}  # no coordinates, no cell
    assert all(not shape(g).is_empty for g in cells.values())
    assert boundaries.generate_voronoi_boundaries(frame.iloc[0:0]) == {}


def test_check_geometry_names_the_problem() -> None:
    assert boundaries.check_geometry({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}) is None
    assert "Point" in (boundaries.check_geometry({"type": "Point", "coordinates": [0, 0]}) or "")
    assert "not a valid" in (boundaries.check_geometry({"type": "Polygon", "coordinates": "x"}) or "")


def test_grid_cartogram_gives_every_point_its_own_cell_in_rough_order() -> None:
    pts = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0), (10.0, 10.0), (float("nan"), float("nan"))]
    cells = boundaries.grid_cartogram(pts)
    assert len(set(cells)) == len(pts)
    # west stays west of east, north stays above south
    assert cells[0][0] < cells[1][0] and cells[2][1] < cells[0][1]
    assert boundaries.grid_cartogram([]) == []


def test_svg_path_projects_into_the_viewbox() -> None:
    geom = shape({"type": "Polygon", "coordinates": [[[100, 20], [110, 20], [110, 30], [100, 20]]]})
    proj = boundaries.projection_for([geom], 600)
    d = boundaries.svg_path(geom, proj)
    xs = [float(p.split(",")[0]) for p in d.strip("MZ").split()]
    assert d.startswith("M") and min(xs) == pytest.approx(0) and max(xs) == pytest.approx(600)


# ------------------------------------------------------------------------------------------- map view
def test_map_view_prefers_boundaries_and_falls_back_to_a_cartogram() -> None:
    poly = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    with_b = mapview.build([mapview.Item("A", "A", 3.0, poly, None, None)])
    assert with_b.kind == "choropleth" and with_b.shapes[0].path
    without = mapview.build([mapview.Item("A", "A", None, None, 1, 1), mapview.Item("B", "B", 300, None, 2, 2)])
    assert without.kind == "cartogram" and [s.colour for s in without.shapes] == [0, 6]
    assert mapview.build([]).kind == "none"
    assert [mapview.colour_class(v) for v in (None, 0, 0.5, 1, 49, 1000)] == [0, 1, 1, 2, 3, 6]


# ------------------------------------------------------------------------------------------- scorecard
def _compliance() -> pd.DataFrame:
    rows = [("U1", d, "on_time") for d in range(1, 6)]
    rows += [("U2", 1, "on_time"), ("U2", 2, "late"), ("U2", 3, "missing"), ("U2", 4, "late"), ("U2", 5, "missing")]
    rows += [("U3", 1, "pending")]
    return pd.DataFrame(rows, columns=["jurisdiction", "date", "status"])


def test_score_units_counts_shares_and_ranks_worst_first() -> None:
    revisions = pd.DataFrame({"jurisdiction": ["U1", "U2"], "revisions": [10, 10], "corrections": [0, 5]})
    flags = pd.DataFrame({"jurisdiction": ["U2"], "open": [3]})
    mism = pd.DataFrame({"jurisdiction": ["U1"], "mismatches": [2]})
    out = scorecard.score_units(_compliance(), revisions, flags, mism, {"U1": "community", "U2": "community"})
    u1, u2 = out.set_index("jurisdiction").loc["U1"], out.set_index("jurisdiction").loc["U2"]
    assert (u1["expected"], u1["received"], u1["timeliness"], u1["completeness"], u1["score"]) == (5, 5, 1, 1, 100)
    assert (u2["expected"], u2["received"], u2["on_time"]) == (5, 3, 1)
    assert u2["timeliness"] == pytest.approx(1 / 3, abs=1e-4) and u2["completeness"] == pytest.approx(0.6)
    assert u2["correction_rate"] == 0.5 and u2["open_flags"] == 3 and u1["mismatches"] == 2
    assert out["jurisdiction"].iloc[0] == "U2" and list(out["rank"]) == [1, 2]
    levels = scorecard.by_level(out)
    assert levels.loc[0, "expected"] == 10 and levels.loc[0, "completeness"] == pytest.approx(0.8)


def test_composite_ignores_a_component_with_nothing_expected() -> None:
    s = scorecard.composite(pd.Series([np.nan]), pd.Series([np.nan]), pd.Series([0.0]))
    assert s.iloc[0] == 100.0


def test_escalations_by_late_streak_and_outlier_days() -> None:
    outliers = pd.DataFrame({"jurisdiction": ["U1"], "days": [4]})
    esc = scorecard.escalations(_compliance(), outliers, days=3)
    assert dict(zip(esc["jurisdiction"], esc["reason"], strict=True)) == {
        "U2": "late or missing 4 days",
        "U1": "outliers on 4 days",
    }
    assert scorecard.late_streaks(_compliance()).to_dict() == {"U1": 0, "U2": 4}


# -------------------------------------------------------------------------------------------- bulletin
FACTS = bulletin.Facts(
    code="AR",
    name="Arcadia",
    name_zh="阿卡迪亚",
    day=date(2020, 2, 3),
    new_confirmed=12,
    imported=3,
    local=9,
    new_deaths=1,
    new_recovered=8,
    cum_confirmed=1200,
    cum_deaths=3,
    cum_recovered=80,
    severe=4,
    parts=(
        bulletin.Part("AR-01", "North", "北省", 7, 2, 5),
        bulletin.Part("AR-02", "South | <b>", None, 5, 1, 4),
        bulletin.Part("AR-03", "Quiet", "静省", 0, 0, 0),
    ),
    revisions=(
        bulletin.Revision("AR-01", "North", date(2020, 2, 1), "new_confirmed", 4, 5, "late lab results", "local"),
    ),
)


def test_english_bulletin_reads_like_a_commission_bulletin() -> None:
    b = bulletin.compose(FACTS, "en")
    text = " ".join(b.paragraphs)
    assert "reported 12 new confirmed cases, of which 3 imported and 9 local (North 7, South | <b> 5)" in text
    assert "1 new death;" in text and "8 recoveries" in text and "1,200 confirmed cases in total" in text
    assert "1,117 cases are active" in text and "4 patients were in intensive care" in text.lower()
    assert "Quiet" not in text  # no new cases: only in the table
    assert b.revisions == ["North 2020-02-01 New confirmed cases (local): 4 → 5 (late lab results)"]


def test_chinese_bulletin_uses_local_names_and_chinese_structure() -> None:
    b = bulletin.compose(FACTS, "zh")
    assert b.title == "阿卡迪亚2020年2月3日疫情通报"
    assert b.paragraphs[0].startswith(
        "2020年2月3日0—24时，阿卡迪亚报告新增确诊病例12例，其中境外输入病例3例，本土病例9例（北省7例"
    )
    assert "现有确诊病例1,117例" in b.paragraphs[-1]
    assert "新增确诊（本土）" in b.revisions[0]
    with pytest.raises(ValueError):
        bulletin.compose(FACTS, "fr")


def test_markdown_escapes_data_and_missing_numbers_are_dashes() -> None:
    md = bulletin.to_markdown(bulletin.compose(FACTS, "en"))
    assert md.startswith("# Arcadia: epidemic situation on 3 February 2020\n")
    assert "South \\| \\<b\\>" in md and "| North | 7 | 2 | 5 |" in md
    assert bulletin.n(None) == "-" and bulletin.n(1234.0) == "1,234"


# -------------------------------------------------------------------------------------------- codebook
def test_codebook_documents_every_stored_indicator_and_every_layout() -> None:
    book = codebook.codebook()
    layouts = {c.layout for c in book}
    assert set(codebook.LAYOUTS) <= layouts and "errata" in layouts
    documented = {c.column.split("=", 1)[1] for c in codebook.for_layout("csv") if c.column.startswith("indicator=")}
    assert documented == set(ind.STORED_CODES)
    assert all(c.meaning for c in book)
