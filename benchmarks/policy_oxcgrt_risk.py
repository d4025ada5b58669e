"""Policy figures: OxCGRT index reproduction and import, risk-area classification of a large tree, in-force p99.

1. OxCGRT: read the legacy national panel (187 countries x 366 days), compute the four indices, compare with the
   published ones (flags unknown: all general; then the best flag set per region-day), beside a naive
   per-row pandas computation (the peer: what one writes without vectorising); import the per-indicator file and
   the stringency time series into a fresh SQLite store whose tree holds every OxCGRT country and the 31
   Chinese provinces.
2. Risk areas: 3,000 regions x 365 days (and their 3 x 3,000 smallest units) classified by the pure rule in one
   vectorised call, beside pandas groupby-rolling (the peer).
3. In force: p50 / p99 of ``in_force.in_force`` for random places and days on that store, with directives added.
4. Risk areas through the store: 3,000 communities with 60 days of reported cases; classify one day and 30 days
   (stored), then ``risk_levels`` of a day.

    uv run python benchmarks/policy_oxcgrt_risk.py [--regions 3000] [--days 365]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from accord import migrate
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction
from accord.places import service as places
from accord.policy import in_force, indices, measures, oxcgrt, oxcgrt_import, risk, risk_areas
from accord.policy.measures import MeasureInput
from accord.surveillance import service as surveillance
from common import print_table, say, shared_data, synthetic_tree, timed, write_results


def naive_indices(levels: pd.DataFrame) -> pd.Series:
    """Stringency index row by row (the peer)."""

    def row(r: pd.Series) -> float:
        total = 0.0
        for code in indices.INDEX_COMPONENTS["stringency_index"]:
            v = r[code]
            if pd.isna(v):
                return float("nan")
            total += 0.0 if v == 0 else 100.0 * v / indices.INDICATORS[code].max_level
        return total / 9

    return levels.apply(row, axis=1)


def oxcgrt_figures(data: Path) -> dict[str, object]:
    legacy = data / "oxcgrt-policy" / "oxcgrt_legacy_national_daily_2020_long.csv"
    with timed() as t_read:
        long = oxcgrt.read_oxcgrt(legacy)
        levels, flags = oxcgrt.wide(long)
    with timed() as t_idx:
        ours = indices.compute_indices(levels, flags)
    with timed() as t_naive:
        naive = naive_indices(levels)
    assert np.allclose(naive.to_numpy(), ours["stringency_index"].to_numpy(), equal_nan=True)
    pub = pd.read_csv(legacy)
    pub.index = pd.MultiIndex.from_arrays([pub["CountryCode"], pd.to_datetime(pub["Date"]).dt.date])
    pub = pub.reindex(levels.index)
    names = {
        "stringency_index": "StringencyIndex",
        "containment_health_index": "ContainmentHealthIndex",
        "government_response_index": "GovernmentResponseIndex",
        "economic_support_index": "EconomicSupportIndex",
    }
    has = pub["StringencyIndex"].notna()
    out: dict[str, object] = {
        "region_days": int(has.sum()),
        "read_seconds": t_read["seconds"],
        "indices_seconds": t_idx["seconds"],
        "naive_rowwise_seconds": t_naive["seconds"],
    }
    for k, col in names.items():
        diff = (ours[k] - pub[col]).abs()[has]
        out[f"{k}_max_abs_diff_flags_unknown"] = float(diff.max())
        out[f"{k}_share_within_0.005_flags_unknown"] = float((diff <= 0.005 + 1e-9).mean())
    return out


def import_figures(data: Path, tmp: Path) -> tuple[dict[str, object], Path]:
    src = data / "oxcgrt-policy"
    long = oxcgrt.read_oxcgrt(src / "oxcgrt_legacy_national_daily_2020_long.csv")
    countries = long.drop_duplicates("region")[["region", "region_name"]]
    rows = [(r, n, n, "country", "", None) for r, n in countries.itertuples(index=False)]
    rows += [(code, reg, reg, "province", "CHN", None) for reg, code in oxcgrt.CHINA_PROVINCES.items()]
    tree = pd.DataFrame(rows, columns=["code", "name", "local_name", "level", "parent_code", "population"])
    path = tmp / "policy.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        places.import_places(s, tree)
    out: dict[str, object] = {}
    for label, name in (
        ("measures", "oxcgrt_legacy_national_daily_2020_long.csv"),
        ("stringency", "OxCGRT_timeseries_StringencyIndex_v1.csv"),
        ("containment_health", "OxCGRT_timeseries_ContainmentHealthIndex_v1.csv"),
    ):
        with timed() as t, transaction(sessions) as s:
            result = oxcgrt_import.import_oxcgrt(s, SYSTEM, src / name, {})
        out[f"import_{label}_seconds"] = t["seconds"]
        out[f"import_{label}_rows"] = result.measures or result.index_values
        out[f"import_{label}_jurisdictions"] = len(result.regions)
    engine.dispose()
    return out, path


def in_force_figures(path: Path, n: int = 300) -> dict[str, object]:
    engine = make_engine(f"sqlite:///{path}")
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        # Hubei's own orders beside the national record imported from OxCGRT (which allows local variation)
        measures.add_measure(s, SYSTEM, MeasureInput("420000", "C6", 3, dt.date(2020, 1, 23), dt.date(2020, 4, 8)))
        measures.add_measure(s, SYSTEM, MeasureInput("420000", "C5", 2, dt.date(2020, 1, 23), dt.date(2020, 3, 25)))
        codes = list(places.load_index(s).by_code)
    rng = random.Random(5)
    times = []
    with transaction(sessions) as s:
        for _ in range(n):
            code = rng.choice(codes)
            day = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(366))
            t0 = time.perf_counter()
            in_force.in_force(s, code, day)
            times.append(time.perf_counter() - t0)
    engine.dispose()
    ms = np.array(times) * 1000
    return {
        "in_force_queries": n,
        "in_force_p50_ms": float(np.percentile(ms, 50)),
        "in_force_p99_ms": float(np.percentile(ms, 99)),
    }


def risk_figures(regions: int, days: int, units_per_region: int = 3) -> dict[str, object]:
    rng = np.random.default_rng(11)
    rate = rng.gamma(0.3, 2.0, size=(regions * units_per_region, 1))
    units = rng.poisson(rate * np.ones((1, days)))
    unit_region = np.repeat(np.arange(regions), units_per_region)
    region_daily = units.reshape(regions, units_per_region, days).sum(axis=1)
    rule = risk.DEFAULT_RULE
    with timed() as t_ours:
        levels, _, _ = risk.classify_series(region_daily, units, unit_region, rule)
    with timed() as t_peer:
        frame = pd.DataFrame(
            {
                "unit": np.repeat(np.arange(len(units)), days),
                "day": np.tile(np.arange(days), len(units)),
                "cases": units.ravel(),
            }
        )
        frame["region"] = unit_region[frame["unit"]]
        u14 = frame.groupby("unit")["cases"].rolling(rule.window_days, min_periods=1).sum().reset_index(drop=True)
        frame["cluster"] = u14.to_numpy() >= rule.cluster_cases
        per_region = frame.groupby(["region", "day"]).agg(cases=("cases", "sum"), cluster=("cluster", "any"))
        r14 = per_region.groupby(level="region")["cases"].rolling(rule.window_days, min_periods=1).sum()
        per_region["c14"] = r14.reset_index(level=0, drop=True)
        peer = np.where(
            (per_region["c14"] > rule.high_cases) & per_region["cluster"],
            "high",
            np.where(per_region["c14"] >= rule.medium_cases, "medium", "low"),
        )
    assert (peer.reshape(regions, days) == levels).all()
    counts = {k: int((levels == k).sum()) for k in risk.LEVELS}
    return {
        "regions": regions,
        "days": days,
        "units": len(units),
        "classify_seconds": t_ours["seconds"],
        "pandas_rolling_seconds": t_peer["seconds"],
        "ratio": t_peer["seconds"] / t_ours["seconds"],
        **counts,
    }


def service_figures(tmp: Path, communities: int, days: int, classify_days: int) -> dict[str, object]:
    """The whole path on a store: surveillance figures -> classification of every community -> stored history."""
    tree = synthetic_tree(10, max(1, communities // 100), communities)
    engine = make_engine(f"sqlite:///{tmp / 'risk.db'}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    rng = np.random.default_rng(3)
    leaves = tree.loc[tree["level"] == "community", "code"].to_numpy()
    start = dt.date(2020, 1, 1)
    rate = rng.gamma(0.3, 1.0, size=len(leaves))
    frame = pd.DataFrame(
        {
            "jurisdiction": np.repeat(leaves, days),
            "date": np.tile([(start + dt.timedelta(days=d)).isoformat() for d in range(days)], len(leaves)),
            "indicator": "new_confirmed",
            "value": rng.poisson(np.repeat(rate, days)),
        }
    )
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, tree)
    with timed() as t_load, transaction(sessions) as s:
        surveillance.submit(s, frame, actor=SYSTEM, source="bench", now=dt.datetime(2020, 6, 1, tzinfo=dt.UTC))
    last = start + dt.timedelta(days=days - 1)
    with timed() as t_one, transaction(sessions) as s:
        risk_areas.classify(s, SYSTEM, "BX", last)
    with timed() as t_many, transaction(sessions) as s:
        out = risk_areas.classify(s, SYSTEM, "BX", last - dt.timedelta(days=classify_days - 1), last)
    with timed() as t_read, transaction(sessions) as s:
        levels = risk_areas.risk_levels(s, last)
    engine.dispose()
    return {
        "communities": len(leaves),
        "observations_loaded": len(frame),
        "load_seconds": t_load["seconds"],
        "classify_one_day_seconds": t_one["seconds"],
        f"classify_{classify_days}_days_seconds": t_many["seconds"],
        "region_days_stored": len(out.frame),
        "risk_levels_read_seconds": t_read["seconds"],
        "risk_levels_entries": len(levels),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=3000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--store-communities", type=int, default=3000)
    args = parser.parse_args()
    load = os.getloadavg()
    results: dict[str, object] = {"load_average_at_start": load}
    data = shared_data()
    if data is None:
        say("../shared/data is absent: skipping the OxCGRT figures")
    else:
        say("OxCGRT: reading and computing indices ...")
        results["oxcgrt"] = ox = oxcgrt_figures(data)
        print_table(
            "OxCGRT indices vs the published ones (legacy national panel, 2020)",
            ["figure", "value"],
            [[k, v] for k, v in ox.items()],
        )
        with tempfile.TemporaryDirectory() as tmp:
            say("OxCGRT: importing into a fresh SQLite store ...")
            imp, path = import_figures(data, Path(tmp))
            imp.update(in_force_figures(path))
            results["import"] = imp
            print_table(
                "OxCGRT import (SQLite) and in-force queries", ["figure", "value"], [[k, v] for k, v in imp.items()]
            )
    say(f"risk areas through the store: {args.store_communities} communities ...")
    with tempfile.TemporaryDirectory() as tmp:
        results["risk_service"] = sv = service_figures(Path(tmp), args.store_communities, 60, 30)
    print_table("Risk classification through the store (SQLite)", ["figure", "value"], [[k, v] for k, v in sv.items()])
    say(f"risk areas: {args.regions} regions x {args.days} days ...")
    results["risk"] = rk = risk_figures(args.regions, args.days)
    print_table(
        "Risk classification, all regions and days at once", ["figure", "value"], [[k, v] for k, v in rk.items()]
    )
    results["load_average_at_end"] = os.getloadavg()
    say(f"written {write_results('policy_oxcgrt_risk', results)} (load average {load[0]:.1f} at start)")


if __name__ == "__main__":
    main()
