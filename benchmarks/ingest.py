"""Ingest ~10 million observations with roll-up into SQLite and PostgreSQL, beside a pandas baseline.

Shape (the issue's "1,000 communities x 365 days x ~27 values, or equivalent"): 10 provinces x 20 cities,
3,000 communities spread over the cities, 365 days, 9 values per community-day (new confirmed total +
imported + local, new suspected, new deaths, new recovered, tests, hospitalised, ICU occupied) = 9.855M.

Two ingest shapes, each into a fresh store, each batch one ``surveillance.service.submit`` in its own
transaction (validation, revisions, incremental roll-up to every ancestor, report days, flags):
- backfill: batches of ``--batch`` communities' whole year, communities in code order;
- live: one batch per day holding every community.

The pandas baseline is the same roll-up in memory: the leaf rows joined to every ancestor (self included)
through the closure, then ``groupby(ancestor, date, indicator, disaggregation).sum()``.

    uv run python benchmarks/ingest.py            # SQLite backfill in full, the rest in part: ~40 min
    uv run python benchmarks/ingest.py --live-days 365 --pg-communities 3000 --pg-live-days 365   # all in full
    uv run python benchmarks/ingest.py --small    # smoke check, under a minute
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.places import service as places
from accord.surveillance import service
from common import (
    SERIES,
    Store,
    code_version,
    fresh_store,
    observation_frame,
    peak_rss_mib,
    pg_problem,
    print_table,
    say,
    synthetic_tree,
    synthetic_values,
    timed,
    write_results,
    written_bytes,
)

START = pd.Timestamp("2020-01-01")
TARGET_SQLITE = 100_000  # observations/s, from the issue


@dataclass
class Scenario:
    tree: pd.DataFrame
    codes: np.ndarray  # communities, sorted by code
    values: np.ndarray  # communities x days x SERIES
    dates: pd.DatetimeIndex

    @property
    def observations(self) -> int:
        return int(self.values.size)


def make_scenario(provinces: int, cities: int, communities: int, days: int) -> Scenario:
    tree = synthetic_tree(provinces, cities, communities)
    leaves = tree[tree["level"] == "community"].sort_values("code")
    values = synthetic_values(leaves["population"].to_numpy(dtype=float), days)
    return Scenario(tree, leaves["code"].to_numpy(), values, pd.date_range(START, periods=days))


# ---------------------------------------------------------------------------------------------- ingest
@dataclass
class Tally:
    seconds: list[float]
    cpu_seconds: float = 0.0
    rows: int = 0
    written: list[int] | None = None  # bytes written to storage per batch (SQLite: in this process)

    def submit(self, store: Store, frame: pd.DataFrame, now: datetime) -> float:
        """One batch in its own transaction; returns its wall seconds."""
        before = written_bytes()
        with timed() as t, transaction(store.sessions) as s:
            service.submit(s, frame, actor=SYSTEM, source="benchmark", now=now)
        after = written_bytes()
        if before is not None and after is not None:
            self.written = [*(self.written or []), after - before]
        self.seconds.append(t["seconds"])
        self.cpu_seconds += t["cpu_seconds"]
        self.rows += len(frame)
        return t["seconds"]


def _load_places(store: Store, tree: pd.DataFrame) -> float:
    with timed() as t, transaction(store.sessions) as s:
        places.import_places(s, tree)
    return t["seconds"]


def _summary(shape: str, store: Store, tally: Tally, **extra: Any) -> dict[str, Any]:
    total, seconds = sum(tally.seconds), tally.seconds
    return {
        "shape": shape,
        "backend": store.backend,
        "observations": tally.rows,
        "batches": len(seconds),
        "seconds": total,
        "rows_per_s": tally.rows / total if total else 0.0,
        "cpu_seconds_client": tally.cpu_seconds,
        "rows_per_cpu_s_client": tally.rows / tally.cpu_seconds if tally.cpu_seconds else 0.0,
        "batch_seconds_median": float(np.median(seconds)) if seconds else 0.0,
        "batch_seconds_max": max(seconds, default=0.0),
        "warnings": store.count("flag"),
        "written_bytes_per_obs": sum(tally.written) / tally.rows if tally.written and tally.rows else None,
        "db_mib": store.size_mib(),
        "peak_rss_mib": peak_rss_mib(),
        **extra,
    }


def backfill(store: Store, sc: Scenario, communities: int, batch: int) -> dict[str, Any]:
    place_s = _load_places(store, sc.tree)
    now = datetime.combine(sc.dates[-1].date() + timedelta(days=1), datetime.min.time(), UTC)
    tally = Tally([])
    for lo in range(0, communities, batch):
        hi = min(lo + batch, communities)
        frame = observation_frame(sc.codes[lo:hi], sc.dates, sc.values[lo:hi])
        s = tally.submit(store, frame, now)
        say(f"  {store.backend} backfill {hi:>5,}/{communities:,} communities: {len(frame) / s:,.0f} obs/s")
    check = _check_country(store, sc, slice(0, communities), slice(None))
    extra = {"places_seconds": place_s, "communities": communities, **check}
    return _summary("backfill", store, tally, **extra)


def live(store: Store, sc: Scenario, days: int) -> dict[str, Any]:
    place_s = _load_places(store, sc.tree)
    tally = Tally([])
    for d in range(days):
        day = sc.dates[d : d + 1]
        frame = observation_frame(sc.codes, day, sc.values[:, d : d + 1])
        now = datetime.combine(day[0].date() + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=9)
        s = tally.submit(store, frame, now)
        if (d + 1) % 30 == 0 or d + 1 == days:
            say(f"  {store.backend} live day {d + 1:>3}/{days}: {len(frame) / s:,.0f} obs/s")
    check = _check_country(store, sc, slice(None), slice(0, days))
    per_day = len(sc.codes) * len(SERIES)
    windows = [per_day * len(w) / sum(w) for w in (tally.seconds[i : i + 30] for i in range(0, days, 30))]
    extra = {"places_seconds": place_s, "days": days, "rows_per_s_by_30_days": windows}
    if tally.written:  # write amplification: bytes per observation on the last day of each window
        extra["written_bytes_per_obs_by_30_days"] = [
            tally.written[min(i + 29, days - 1)] / per_day for i in range(0, days, 30)
        ]
    return _summary("live", store, tally, **extra | check)


def _check_country(store: Store, sc: Scenario, communities: slice, days: slice) -> dict[str, Any]:
    """The country's stored roll-up of new_confirmed (total) against the sum of what was submitted."""
    expected = float(sc.values[communities, days, 0].sum())
    with store.engine.connect() as conn:
        got = conn.execute(
            text(
                "SELECT SUM(COALESCE(f.own_all, f.child_all)) FROM figure f JOIN jurisdiction j "
                "ON j.id = f.jurisdiction_id JOIN indicator i ON i.id = f.indicator_id "
                "WHERE j.parent_id IS NULL AND i.code = 'new_confirmed' AND f.disaggregation = ''"
            )
        ).scalar_one()
    return {"check_country_new_confirmed": float(got or 0), "check_ok": float(got or 0) == expected}


# -------------------------------------------------------------------------------------- pandas baseline
def pandas_baseline(sc: Scenario) -> dict[str, Any]:
    """The same roll-up in memory: leaf rows -> every ancestor (self included) -> groupby sum."""
    ids = pd.Series(np.arange(len(sc.tree)), index=sc.tree["code"].to_numpy())
    closure = _closure(sc.tree, ids)
    n, d, k = sc.values.shape
    leaf = pd.DataFrame(
        {
            "jurisdiction_id": np.repeat(ids.reindex(sc.codes).to_numpy(), d * k),
            "date": np.tile(np.repeat(sc.dates.to_numpy(), k), n),
            "indicator": _categorical([s[0] for s in SERIES], n * d),
            "disaggregation": _categorical([s[1] for s in SERIES], n * d),
            "value": sc.values.reshape(-1).astype(np.float64),
        }
    )
    with timed() as t:
        joined = leaf.merge(closure, left_on="jurisdiction_id", right_on="descendant_id")
        rolled = joined.groupby(["ancestor_id", "date", "indicator", "disaggregation"], observed=True)["value"].sum()
    country = ids[str(sc.tree.loc[sc.tree["parent_code"] == "", "code"].iat[0])]
    check = float(rolled.loc[(country, slice(None), "new_confirmed", "")].sum())
    return {
        "observations": len(leaf),
        "joined_rows": len(joined),
        "output_rows": len(rolled),
        "seconds": t["seconds"],
        "rows_per_s": len(leaf) / t["seconds"],
        "cpu_seconds": t["cpu_seconds"],
        "check_country_new_confirmed": check,
        "peak_rss_mib": peak_rss_mib(),
    }


def _categorical(labels: list[str], repeats: int) -> pd.Categorical[str]:
    """``labels`` tiled ``repeats`` times, built from integer codes (no 10M Python strings)."""
    categories = sorted(set(labels))
    codes = np.array([categories.index(x) for x in labels], dtype=np.int8)
    return pd.Categorical.from_codes(np.tile(codes, repeats), categories=pd.Index(categories))


def _closure(tree: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    parent = ids.reindex(tree["parent_code"].to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    node = ids.reindex(tree["code"].to_numpy()).to_numpy(dtype=np.int64)
    parent_of = np.full(len(ids), -1, dtype=np.int64)
    parent_of[node] = parent
    pairs, cur = [(node, node)], node
    while (cur >= 0).any():
        cur = np.where(cur >= 0, parent_of[np.maximum(cur, 0)], -1)
        keep = cur >= 0
        pairs.append((node[keep], cur[keep]))
    return pd.DataFrame(
        {"descendant_id": np.concatenate([p[0] for p in pairs]), "ancestor_id": np.concatenate([p[1] for p in pairs])}
    )


# ---------------------------------------------------------------------------------------------- driver
def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="smoke-check sizes (under a minute)")
    p.add_argument("--communities", type=int, default=3000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--batch", type=int, default=100, help="communities per backfill batch")
    p.add_argument("--live-days", type=int, default=120, help="days of the live shape on SQLite")
    p.add_argument("--pg-communities", type=int, default=1000, help="communities of the PostgreSQL backfill")
    p.add_argument("--pg-live-days", type=int, default=60, help="days of the live shape on PostgreSQL")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--shapes", default="backfill,live")
    p.add_argument("--no-pandas", action="store_true")
    p.add_argument("--keep-db", type=Path, default=None, help="keep the SQLite backfill store at this path")
    p.add_argument("--workdir", type=Path, default=None, help="where the SQLite files go (default: a temp dir)")
    args = p.parse_args()
    if args.small:
        args.communities, args.days, args.batch = 200, 30, 100
        args.pg_communities, args.pg_live_days = 100, 10
    return args


def _sizes(args: argparse.Namespace, backend: str) -> dict[str, int]:
    if backend == "sqlite":
        return {"communities": args.communities, "days": min(args.live_days, args.days)}
    return {"communities": min(args.pg_communities, args.communities), "days": min(args.pg_live_days, args.days)}


def run_backend(args: argparse.Namespace, sc: Scenario, backend: str, workdir: Path) -> list[dict[str, Any]]:
    sizes, out = _sizes(args, backend), []
    for shape in args.shapes.split(","):
        keep = backend == "sqlite" and shape == "backfill" and args.keep_db is not None
        path = args.keep_db if keep else workdir / f"ingest_{shape}.db"
        say(f"{backend} {shape} ...")
        with fresh_store(backend, path, keep=keep) as store:
            if shape == "backfill":
                out.append(backfill(store, sc, sizes["communities"], args.batch))
            else:
                out.append(live(store, sc, sizes["days"]))
            out[-1]["full"] = out[-1]["observations"] == sc.observations
    return out


def main() -> None:
    args = parse_args()
    provinces, cities = (2, 5) if args.small else (10, 20)
    sc = make_scenario(provinces, cities, args.communities, args.days)
    load_before = [round(x, 2) for x in os.getloadavg()]
    code = code_version()  # the code measured is the code loaded now, whatever changes meanwhile
    say(f"scenario: {len(sc.tree):,} places, {sc.observations:,} observations")
    runs: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for backend in args.backends.split(","):
            problem = pg_problem() if backend == "postgresql" else None
            if problem:
                skipped[backend] = problem
                say(f"skipping PostgreSQL: {problem}")
                continue
            runs.extend(run_backend(args, sc, backend, Path(tmp)))
    baseline = None if args.no_pandas else pandas_baseline(sc)
    report(args, sc, runs, baseline, skipped, {"load_average_at_start": load_before, "code": code})


COLUMNS = ["run", "observations", "batches", "seconds", "obs/s", "obs/client CPU-s", "pandas/ours", "max batch s"]
COLUMNS += ["DB MiB", "check"]


def _row(r: dict[str, Any]) -> list[Any]:
    ratio = r.get("pandas_speedup_over_ours")
    return [
        f"{r['backend']} {r['shape']}" + ("" if r["full"] else " (part)"),
        r["observations"],
        r["batches"],
        r["seconds"],
        r["rows_per_s"],
        r["rows_per_cpu_s_client"],
        f"{ratio:.1f}x" if ratio else "-",
        r["batch_seconds_max"],
        r["db_mib"],
        "ok" if r["check_ok"] else "MISMATCH",
    ]


def report(
    args: argparse.Namespace,
    sc: Scenario,
    runs: list[dict[str, Any]],
    baseline: dict[str, Any] | None,
    skipped: dict[str, str],
    start: dict[str, Any],
) -> None:
    for r in runs:
        r["pandas_speedup_over_ours"] = baseline["rows_per_s"] / r["rows_per_s"] if baseline else None
    rows = [_row(r) for r in runs]
    if baseline:
        b = baseline
        rows.append(["pandas groupby (memory)", b["observations"], 1, b["seconds"], b["rows_per_s"], "-", "1.0x"])
    title = (
        f"Ingest with roll-up: {sc.observations:,} observations in the scenario "
        f"({len(sc.codes):,} communities x {len(sc.dates)} days x {len(SERIES)}); "
        f"target >= {TARGET_SQLITE:,}/s on SQLite"
    )
    print_table(title, COLUMNS, rows)
    load = f"load average at start {start['load_average_at_start']}, now {os.getloadavg()[0]:.2f}"
    print(f"peak RSS {peak_rss_mib():,.0f} MiB; {load}")
    for r in runs:
        if "rows_per_s_by_30_days" in r:
            trend = ", ".join(f"{x:,.0f}" for x in r["rows_per_s_by_30_days"])
            print(f"{r['backend']} live, obs/s by 30-day window: {trend}")
        if r.get("written_bytes_per_obs_by_30_days") and r["backend"] == "sqlite":
            trend = ", ".join(f"{x:,.0f}" for x in r["written_bytes_per_obs_by_30_days"])
            print(f"{r['backend']} live, bytes written per observation at the end of each 30 days: {trend}")
    for backend, why in skipped.items():
        print(f"{backend} skipped: {why}")
    scenario = {"places": len(sc.tree), "communities": len(sc.codes), "days": len(sc.dates)}
    scenario |= {"values_per_day": len(SERIES), "observations": sc.observations}
    out = write_results(
        "ingest",
        {
            "small": args.small,
            "scenario": scenario,
            "target_sqlite_rows_per_s": TARGET_SQLITE,
            "runs": runs,
            "pandas": baseline,
            "skipped": skipped,
            **start,
            "peak_rss_mib": peak_rss_mib(),
        },
    )
    print(f"results: {out}")


if __name__ == "__main__":
    main()
