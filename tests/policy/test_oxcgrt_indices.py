"""OxCGRT indices computed as OxCGRT defines them, checked against the codebook's worked example and against the
indices published in the OxCGRT files (../shared/data/oxcgrt-policy)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from accord.errors import AccordError
from accord.policy import indices, oxcgrt

LEGACY = "oxcgrt-policy/oxcgrt_legacy_national_daily_2020_long.csv"
SI, CHI = indices.INDEX_COMPONENTS["stringency_index"], indices.INDEX_COMPONENTS["containment_health_index"]
GRI, ESI = indices.INDEX_COMPONENTS["government_response_index"], indices.INDEX_COMPONENTS["economic_support_index"]
NAMES = {
    "stringency_index": "StringencyIndex",
    "containment_health_index": "ContainmentHealthIndex",
    "government_response_index": "GovernmentResponseIndex",
    "economic_support_index": "EconomicSupportIndex",
}


def test_codebook_worked_example() -> None:
    """The example table of the codebook ("Example index calculation"), flags included."""
    levels = dict(C1=2, C2=0, C3=2, C4=2, C5=0, C6=1, C7=1, C8=3, E1=2, E2=2, H1=2, H2=3, H3=2, H6=2, H7=2, H8=2)
    flags = dict(C1=1, C3=0, C4=0, C6=0, C7=1, E1=0, H1=0, H6=0, H7=1, H8=1)
    lv = pd.DataFrame([levels])
    fl = pd.DataFrame([{c: flags.get(c, np.nan) for c in levels}])
    got = indices.compute_indices(lv, fl).iloc[0]
    assert got.round(2).to_dict() == {
        "stringency_index": 43.98,
        "containment_health_index": 52.86,
        "government_response_index": 57.19,  # the codebook prints 57.18: 915 / 16 = 57.1875, truncated there
        "economic_support_index": 87.50,
    }
    assert got["government_response_index"] == pytest.approx(915 / 16)
    assert indices.sub_index("C4", [2], [0])[0] == pytest.approx(37.5)
    assert indices.sub_index("C2", [0], [0])[0] == 0.0  # level 0 scores 0 whatever the flag
    assert np.isnan(indices.sub_index("C1", [np.nan])[0])


def test_level_checks() -> None:
    assert indices.check_level("C6", 3) is None
    assert "out of range" in (indices.check_level("C6", 4) or "")
    assert "unknown indicator" in (indices.check_level("C9", 1) or "")


@pytest.mark.shared_data
def test_reproduces_published_indices(data_dir: Path) -> None:
    """Every region-day of the legacy national panel (187 countries x 366 days of 2020), all four indices.

    The panel has levels but no flags. With every flag taken as general the result is an upper bound, equal to
    the published index where nothing was targeted. A targeted flag lowers one sub-index by exactly half a step,
    so each published index must be that bound minus the penalties of some set of flagged indicators with a
    non-zero level, and ONE set must explain all four indices at once (their components overlap). We check
    that such a set exists for every region-day, to OxCGRT's rounding (two decimals).
    """
    long = oxcgrt.read_oxcgrt(data_dir / LEGACY)
    levels, flags = oxcgrt.wide(long)
    published = pd.read_csv(data_dir / LEGACY, usecols=["CountryCode", "Date", *NAMES.values()])
    published.index = pd.MultiIndex.from_arrays(
        [published["CountryCode"], pd.to_datetime(published["Date"]).dt.date], names=["region", "date"]
    )
    published = published.reindex(levels.index)
    ours = indices.compute_indices(levels, flags)
    has = published["StringencyIndex"].notna().to_numpy()
    for name, column in NAMES.items():  # the same days have no index (a component missing)
        assert (ours[name].notna().to_numpy() == published[column].notna().to_numpy()).all()
    pub = {k: published[c].to_numpy()[has] for k, c in NAMES.items()}
    upper = {k: ours[k].to_numpy()[has] for k in NAMES}
    tol = 0.005 + 1e-9  # published to two decimals (ties such as 59.375 are printed either way)
    assert len(pub["stringency_index"]) == 67_710
    for k in NAMES:
        assert (pub[k] <= upper[k] + tol).all(), k  # the all-general value bounds the published one
    gap = np.max([np.abs(upper[k] - pub[k]) for k in NAMES], axis=0)
    exact_general = gap <= tol
    assert exact_general.mean() > 0.45  # about half the region-days: no targeted flag at all
    # one set of targeted flags explaining the four indices at once
    flagged = [c for c in GRI if indices.INDICATORS[c].has_flag]
    half = np.array([50.0 / indices.INDICATORS[c].max_level for c in flagged])
    v = levels[flagged].to_numpy()[has]
    members = {k: np.array([c in indices.INDEX_COMPONENTS[k] for c in flagged]) for k in NAMES}
    best = np.where(exact_general, gap, np.inf)
    todo = np.flatnonzero(~exact_general)
    # region-days repeat (the same levels and indices for weeks): solve each distinct case once
    names = list(NAMES)
    keys = np.column_stack([v[todo] > 0, *(upper[k][todo] for k in names), *(pub[k][todo] for k in names)])
    cases, inverse = np.unique(keys, axis=0, return_inverse=True)
    positive = cases[:, : len(flagged)].astype(bool)
    case_upper = {k: cases[:, len(flagged) + i] for i, k in enumerate(names)}
    case_pub = {k: cases[:, len(flagged) + len(names) + i] for i, k in enumerate(names)}
    case_best = np.full(len(cases), np.inf)
    for mask in range(1, 2 ** len(flagged)):
        chosen = np.array([(mask >> k) & 1 for k in range(len(flagged))], dtype=bool)
        usable = np.flatnonzero((positive | ~chosen).all(axis=1))
        if not len(usable):
            continue
        err = np.zeros(len(usable))
        for k, comp in indices.INDEX_COMPONENTS.items():
            value = case_upper[k][usable] - half[chosen & members[k]].sum() / len(comp)
            err = np.maximum(err, np.abs(value - case_pub[k][usable]))
        case_best[usable] = np.minimum(case_best[usable], err)
    best[todo] = case_best[inverse.ravel()]
    assert np.max(best) <= tol, f"{int((best > tol).sum())} region-days not reproduced"


COMPACT = """CountryName,CountryCode,RegionName,RegionCode,Jurisdiction,Date,C1M_School closing,C1M_Flag,\
C1NV_School closing,C8EV_International travel controls,E1_Income support,E1_Flag,H2_Testing policy
China,CHN,Hubei,CHN_HB,STATE_TOTAL,20200123,3,1,2,3,0,,1
China,CHN,Hubei,CHN_HB,STATE_TOTAL,20200124,3,0,2,3,1,1,
China,CHN,,,NAT_TOTAL,20200123,2,0,2,3,0,,1
China,CHN,Hubei,CHN_HB,STATE_WIDE,20200123,1,1,2,3,0,,1
"""


def test_read_compact_layout_with_flags() -> None:
    frame = oxcgrt.read_oxcgrt(io.StringIO(COMPACT))
    assert set(frame["indicator"]) == {"C1", "E1", "H2"}  # NV versions ignored; C8EV is not an 'everyone' column
    hb = frame[(frame["region"] == "CHN_HB") & (frame["indicator"] == "C1")]
    assert hb["level"].tolist() == [3, 3] and hb["flag"].tolist() == [1, 0]
    assert hb["region_name"].iloc[0] == "Hubei"
    nat = frame[(frame["region"] == "CHN") & (frame["indicator"] == "E1")]
    assert nat["level"].tolist() == [0] and nat["flag"].isna().all()
    h2 = frame[(frame["region"] == "CHN_HB") & (frame["indicator"] == "H2")]
    assert h2["level"].isna().tolist() == [False, True]
    assert oxcgrt.accord_code("CHN_HB") == "420000" and oxcgrt.accord_code("CHN", {"CHN": "CN"}) == "CN"
    assert len(oxcgrt.CHINA_PROVINCES) == 31


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("CountryCode,Date,C1_school_closing\nCHN,2020-01-01,4\n", "line 2, field 'C1_school_closing'"),
        ("CountryCode,Date,C1_school_closing\nCHN,2020-13-01,1\n", "line 2, field 'Date'"),
        ("CountryCode,Date,C1_school_closing\nCHN,2020-01-01,1.5\n", "not a level from 0 to 3"),
        ("CountryCode,Date,Foo\nCHN,2020-01-01,1\n", "no indicator columns"),
        ("Date,C1_school_closing\n2020-01-01,1\n", "missing column 'CountryCode'"),
        (
            "CountryCode,Date,Jurisdiction,C1_school_closing\nCHN,2020-01-01,STATE_WIDE,1\nCHN,2020-01-01,NAT_TOTAL,5\n",
            "line 3, field 'C1_school_closing'",
        ),
    ],
)
def test_bad_files_are_refused_with_place(text: str, fragment: str) -> None:
    with pytest.raises(AccordError) as err:
        oxcgrt.read_oxcgrt(io.StringIO(text))
    assert fragment in str(err.value)


def test_runs_compress_days_into_measures() -> None:
    text = "CountryCode,Date,C6_Stay at home,C6_Flag\n" + "\n".join(
        f"CHN,2020-02-{d:02d},{lv},{fl}"
        for d, lv, fl in [(1, 0, ""), (2, 2, 1), (3, 2, 1), (4, 2, 0), (5, 0, ""), (7, 2, 0)]
    )
    runs = oxcgrt.runs(oxcgrt.read_oxcgrt(io.StringIO(text)))
    cols = (runs["start"].astype(str), runs["end"].astype(str), runs["level"].astype(int), runs["flag"].astype(int))
    got = zip(*cols, strict=True)
    assert list(got) == [
        ("2020-02-02", "2020-02-03", 2, 1),
        ("2020-02-04", "2020-02-04", 2, 0),
        ("2020-02-07", "2020-02-07", 2, 0),
    ]


@pytest.mark.shared_data
def test_read_index_timeseries_china_provinces(data_dir: Path) -> None:
    frame = oxcgrt.read_index_timeseries(data_dir / "oxcgrt-policy/OxCGRT_timeseries_StringencyIndex_v1.csv")
    china = frame[(frame["country"] == "CHN") & (frame["jurisdiction"] == "STATE_TOTAL")]
    assert china["region"].nunique() == 31
    assert set(china["region"]) == set(oxcgrt.CHINA_PROVINCES)
    assert (frame["index"] == "stringency_index").all()
    hubei = china[china["region"] == "CHN_HB"].set_index("date")["value"]
    assert hubei.max() <= 100 and hubei.index.min().isoformat() == "2020-01-01"
