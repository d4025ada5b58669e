"""Rt and hospital demand for every unit under a jurisdiction, from the store (SQLite and PostgreSQL): the
vectorised service equals the pure function on the same arrays and on each unit's own series; local, imported,
totals-only and unknown-origin cases; missing days; public vs provisional figures; parameter errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from analytics_data import BAYPORT_DAYS, DAYS, GAP_DAY, PUBLISHED_AT, START, load
from sqlalchemy.orm import Session, sessionmaker
from tests.conftest import SMALL_TREE, create_pg_database, drop_pg_database, migrated_sqlite

from accord.analytics import service
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.disclosure.suppression import SuppressionPolicy
from accord.epi import rt
from accord.epi import serial_interval as si
from accord.errors import AccordError, NotFound
from accord.places import service as places
from accord.surveillance import service as surveillance

SI = si.discretise_gamma(service.SI_MEAN, service.SI_SD)


Store = tuple[sessionmaker[Session], dict[str, dict[str, np.ndarray]]]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store per module and database (the tests only read it; provisional figures added by one test are
    invisible to the public view the others read)."""
    name = None
    if request.param == "sqlite":
        url = migrated_sqlite(tmp_path_factory.mktemp("analytics") / "accord.db")
    else:
        name, url = create_pg_database(request.getfixturevalue("pg_admin"), migrated=True)
    engine = make_engine(url)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, SMALL_TREE)
        data = load(s)
    yield sessions, data
    engine.dispose()
    if name:
        drop_pg_database(request.getfixturevalue("pg_admin"), name)


def test_children_in_one_call_equal_the_pure_function(store: Store) -> None:
    sessions, _ = store
    with sessions() as s:
        r = service.regional_rt(s, "AR", include_root=True)
    assert [u.code for u in r.units] == ["AR", "AR-01", "AR-02"]
    assert r.dates[0] == pd.Timestamp(START) and len(r.dates) == DAYS
    # the same arrays through the pure function: identical, cell by cell
    pure = rt.estimate_rt(r.local, SI, imported=r.imported, window=7)
    for name in ("mean", "lower", "upper", "sd", "cases_in_window"):
        np.testing.assert_array_equal(getattr(r.estimate, name), getattr(pure, name))
    # and each unit on its own series, from its first to its last reported day (as `accord rt` on a CSV)
    for i in range(len(r.units)):
        days = np.flatnonzero(r.reported[i])
        first, last = days[0], days[-1]
        own = rt.estimate_rt(r.local[i, first : last + 1], SI, imported=r.imported[i, first : last + 1], window=7)
        shown = np.flatnonzero(r.valid[i])
        assert shown[0] == first + 7 and shown[-1] == last
        np.testing.assert_allclose(r.estimate.mean[i, shown], own.mean[shown - first], rtol=1e-12)
        np.testing.assert_allclose(r.estimate.upper[i, shown], own.upper[shown - first], rtol=1e-12)
    frame = r.frame()
    assert list(frame.columns) == service.RT_COLUMNS
    assert (frame["date"] - frame["window_start"] == pd.Timedelta(days=6)).all()


def test_local_imported_and_totals_only_units(store: Store) -> None:
    sessions, data = store
    with sessions() as s:
        r = service.regional_rt(s, "AR", level="city")
    codes = [u.code for u in r.units]
    assert codes == ["AR-01-01", "AR-01-02", "AR-02-01"]
    riverton, hillside = codes.index("AR-01-01"), codes.index("AR-01-02")
    # parts: the sum of the communities' local and imported cases
    local = data["AR-01-01-001"]["local"] + data["AR-01-01-002"]["local"]
    imported = data["AR-01-01-001"]["imported"] + data["AR-01-01-002"]["imported"]
    np.testing.assert_array_equal(r.local[riverton], local)
    np.testing.assert_array_equal(r.imported[riverton], imported)
    # totals only: all local, and said so
    np.testing.assert_array_equal(r.local[hillside], data["AR-01-02"]["total"])
    assert not r.imported[hillside].any()
    assert r.origin == {"AR-01-01": "parts", "AR-01-02": "total as local", "AR-02-01": "parts"}
    assert any("AR-01-02" in n and "local" in n for n in r.notes)
    # independent check against the generated series, not the store's arrays
    own = rt.estimate_rt(local, SI, imported=imported, window=7)
    np.testing.assert_allclose(r.estimate.mean[riverton, 7:], own.mean[7:], rtol=1e-12)


def test_unknown_origin_of_a_roll_up_counts_as_local(store: Store) -> None:
    sessions, data = store
    with sessions() as s:
        r = service.regional_rt(s, "AR")
    north = [u.code for u in r.units].index("AR-01")
    # AR-01's parts come from Riverton's communities; Hillside's totals have no origin
    np.testing.assert_array_equal(r.unknown_origin[north], data["AR-01-02"]["total"])
    communities = data["AR-01-01-001"]["local"] + data["AR-01-01-002"]["local"]
    np.testing.assert_array_equal(r.local[north], communities + data["AR-01-02"]["total"])
    assert any("unknown origin" in n for n in r.notes)
    assert (r.frame().query("jurisdiction == 'AR-01'")["unknown_origin_in_window"] > 0).all()


def test_missing_days_are_flagged_and_estimates_stop_at_the_last_report(
    store: Store,
) -> None:
    sessions, _ = store
    with sessions() as s:
        r = service.regional_rt(s, "AR")
    south = [u.code for u in r.units].index("AR-02")
    assert not r.reported[south, GAP_DAY] and r.local[south, GAP_DAY] == 0
    shown = np.flatnonzero(r.valid[south])
    assert shown[-1] == BAYPORT_DAYS - 1  # nothing after the last report
    flagged = shown[r.missing_days[south, shown] > 0]
    assert flagged[0] == GAP_DAY  # the window holding the gap ...
    assert (r.warning[south, flagged]).all()
    # ... and every later estimate whose window or serial-interval reach holds it
    reach = 7 + SI.size - 1
    assert flagged[-1] == min(GAP_DAY + reach - 1, BAYPORT_DAYS - 1)
    latest = r.latest().set_index("jurisdiction")
    assert latest.loc["AR-02", "date"] == pd.Timestamp(START + dt.timedelta(days=BAYPORT_DAYS - 1))


def test_public_view_leaves_out_provisional_figures(store: Store) -> None:
    sessions, _ = store
    later = START + dt.timedelta(days=DAYS)
    frame = pd.DataFrame(
        [("AR-01-02", later, "new_confirmed", "", 500)],
        columns=["jurisdiction", "date", "indicator", "disaggregation", "value"],
    )
    with transaction(sessions) as s:
        surveillance.submit(s, frame, actor=SYSTEM, source="test:late", now=PUBLISHED_AT + dt.timedelta(days=1))
    with sessions() as s:
        public = service.regional_rt(s, "AR", level="city")
        everything = service.regional_rt(s, "AR", level="city", view="all")
    assert public.dates[-1] == pd.Timestamp(START + dt.timedelta(days=DAYS - 1))
    assert everything.dates[-1] == pd.Timestamp(later)
    hill = [u.code for u in everything.units].index("AR-01-02")
    assert everything.local[hill, -1] == 500 and everything.valid[hill, -1]


def test_parameter_and_jurisdiction_errors(store: Store) -> None:
    sessions, _ = store
    with sessions() as s:
        with pytest.raises(AccordError) as bad:
            service.regional_rt(s, "AR", window=0, si_mean=0.5, view="secret")
        assert bad.value.status == 400 and {p.field for p in bad.value.problems} == {"window", "si_mean", "view"}
        with pytest.raises(NotFound):
            service.regional_rt(s, "NOPE")
        with pytest.raises(NotFound, match="level 'district'"):
            service.regional_rt(s, "AR", level="district")
        with pytest.raises(AccordError, match="needs more than 30 days") as short:
            service.regional_rt(s, "AR", window=30)
        assert short.value.kind == "not-enough-data"
        # a leaf has no children: with itself included, it is estimated alone
        leaf = service.regional_rt(s, "AR-01-02", include_root=True)
        assert [u.code for u in leaf.units] == ["AR-01-02"] and leaf.valid.any()


def test_hospital_demand_against_capacity(store: Store) -> None:
    sessions, data = store
    capacity = service.read_capacity("jurisdiction,beds,icu_beds\nAR-01-01,120,\nAR-02-01,10,9\nELSEWHERE,1,1\n")
    with sessions() as s:
        h = service.hospital_demand(s, "AR", level="city", capacity=capacity)
        bare = service.hospital_demand(s, "AR", level="city")
    t = h.table.set_index("jurisdiction")
    river = data["AR-01-01"]["hospitalised"]
    assert t.loc["AR-01-01", "hospitalised"] == river[-1] and t.loc["AR-01-01", "beds"] == 120
    assert t.loc["AR-01-01", "beds_occupancy"] == pytest.approx(river[-1] / 120)
    # growing 5% a day: the projection crosses 120 beds at the day the trend says
    growth = t.loc["AR-01-01", "hospitalised_growth"]
    assert growth == pytest.approx(0.05, abs=0.01)
    expected = int(np.argmax((river[-1] + 1) * np.exp(growth * np.arange(29)) - 1 > 120))
    assert t.loc["AR-01-01", "days_to_beds_capacity"] == expected > 0
    assert pd.isna(t.loc["AR-01-01", "days_to_icu_capacity"])  # capacity unknown
    assert t.loc["AR-02-01", "days_to_beds_capacity"] == 0  # over capacity now
    assert pd.isna(t.loc["AR-01-02", "hospitalised"])  # reports no census
    assert bare.table["beds"].isna().all() and any("no capacity" in n for n in bare.notes)


def test_capacity_file_errors_name_the_line() -> None:
    with pytest.raises(AccordError, match="line 3, field 'beds'"):
        service.read_capacity("jurisdiction,beds\nA,1\nB,-2\n")
    with pytest.raises(AccordError, match="appears twice"):
        service.read_capacity("jurisdiction,icu_beds\nA,1\nA,2\n")
    with pytest.raises(AccordError, match="needs a 'jurisdiction' column"):
        service.read_capacity("code,beds\nA,1\n")


def test_pure_helpers_split_origin_coverage_and_suppression() -> None:
    nan = np.nan
    total = np.array([[5.0, nan, 7.0, nan]])
    local = np.array([[3.0, 2.0, nan, nan]])
    imported = np.array([[1.0, 1.0, nan, nan]])
    loc, imp, unknown, reported, parts = service.split_origin(total, local, imported)
    np.testing.assert_array_equal(loc, [[4.0, 2.0, 7.0, 0.0]])  # 5 - 3 - 1 = 1 of unknown origin; totals as local
    np.testing.assert_array_equal(unknown, [[1.0, 0.0, 7.0, 0.0]])
    np.testing.assert_array_equal(imp, [[1.0, 1.0, 0.0, 0.0]])
    assert reported.tolist() == [[True, True, True, False]] and parts.tolist() == [[True, True, False, False]]
    rep = np.array([[False, True, True, False, True, True, True, False]])
    valid, missing = service.coverage(rep, window=2, si_length=2)
    assert valid.tolist() == [[False, False, False, True, True, True, True, False]]
    assert missing.tolist() == [[0, 0, 0, 1, 1, 1, 0, 0]]


def test_suppression_withholds_estimates_that_depend_on_small_counts(
    store: Store,
) -> None:
    sessions, _ = store
    with sessions() as s:
        r = service.regional_rt(s, "AR-01-01", include_root=True)
    off = service.withheld_cells(r, SuppressionPolicy())
    assert not off.any()
    on = service.withheld_cells(r, SuppressionPolicy(below=5, from_depth=3))
    assert not on[0].any()  # the city (depth 2) is above the suppressed depth
    small = (r.local[1:] >= 1) & (r.local[1:] < 5) | (r.imported[1:] >= 1) & (r.imported[1:] < 5)
    assert on[1:][small].all()
    frame = r.frame(on)
    assert frame.loc[frame["withheld"], "mean"].isna().all() and frame.loc[~frame["withheld"], "mean"].notna().all()
