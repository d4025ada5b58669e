"""The stock ledger and the stock-out early warning at the size of a province: bulk posting, one movement at a time,
stock at a date, early warning over every city, and the public ranking page (HTML and ``.json``) through the real
HTTP server; beside an analyst's pandas script that recomputes the same balances from the entries (the peer).

The store: a synthetic country (10 provinces x 30 cities = 300 regions, 3,000 communities), 5 consumables (N95,
surgical masks, gowns, oxygen, rice). Every community receives an opening stock, then books one consumption per
resource and day for ``--days`` days and a restock every 7 days: about 3,000 x 5 x (1 + days + days/7)
transactions of two legs each (~540,000 for 30 days). ``--small``: 300 communities.

The peer reads ``resource_entry`` / ``resource_account`` / the closure table with ``pandas.read_sql`` and computes
on hand and burn rate per city and resource with ``groupby``; the script checks that both give identical balances
(exact thousandths) and prints the ratio of the times.

    uv run python benchmarks/resources_ledger.py [--small] [--days 30] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sqlalchemy import select

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.places import service as places
from accord.places.model import Jurisdiction
from accord.resources import catalog, catalog_store, early_warning, ledger_store, movements
from accord.resources.ledger import AccountKind, Leg, Movement
from common import fresh_store, peak_rss_mib, pg_problem, print_table, say, synthetic_tree, timed, write_results
from series_query import server, summarise

RESOURCES = ("n95", "surgical_masks", "gowns", "oxygen", "rice")
#: mean daily use per community of each resource (units) and the opening stock in days of that use
DAILY_USE = np.array([40.0, 120.0, 25.0, 30.0, 200.0])
OPENING_DAYS = 20.0
RESTOCK_EVERY = 7


# ------------------------------------------------------------------------------------------------ store
def build(store: Any, communities: int, days: int, end: date, seed: int = 7) -> dict[str, Any]:
    """Tree, accounts and the postings, written with :func:`ledger_store.write` in batches (the bulk path)."""
    tree = synthetic_tree(10, 30 if communities >= 1000 else 3, communities, seed=seed)
    with transaction(store.sessions) as s:
        places.import_places(s, tree)
        catalog_store.ensure_catalog(s)
        rid = catalog_store.resource_ids(s)
        codes = list(s.scalars(select(Jurisdiction.code).where(Jurisdiction.level == "community")))
        ids = {c: int(i) for c, i in s.execute(select(Jurisdiction.code, Jurisdiction.id)).all()}
    postings = make_postings(store, codes, ids, [rid[r] for r in RESOURCES], days, end, seed)
    n, batch = len(postings), 5_000
    say(f"posting {n:,} transactions in batches of {batch:,} ...")
    with timed() as t:
        for k in range(0, n, batch):
            with transaction(store.sessions) as s:
                ledger_store.write(s, SYSTEM, postings[k : k + batch])
    return {"transactions": n, "seconds": t["seconds"], "per_s": n / t["seconds"], "cpu_seconds": t["cpu_seconds"]}


def make_postings(
    store: Any, codes: list[str], ids: dict[str, int], rids: list[int], days: int, end: date, seed: int
) -> list[ledger_store.Posting]:
    """Opening receipt, daily consumption (Poisson around each community's rate), a weekly restock."""
    rng = np.random.default_rng(seed)
    with transaction(store.sessions) as s:
        acc = {
            (kind, c): ledger_store.account(s, kind, ids[c]).id
            for c in codes
            for kind in (AccountKind.STOCK, AccountKind.SUPPLY, AccountKind.CONSUMED)
        }
    start = end - timedelta(days=days)
    scale = rng.uniform(0.3, 2.0, size=(len(codes), 1)) * DAILY_USE[None, :]  # (communities, resources)
    use = rng.poisson(scale[:, :, None] * np.ones(days)[None, None, :])  # (communities, resources, days)
    out: list[ledger_store.Posting] = []
    milli = catalog.SCALE
    for i, c in enumerate(codes):
        stock, supply, used = acc[(AccountKind.STOCK, c)], acc[(AccountKind.SUPPLY, c)], acc[(AccountKind.CONSUMED, c)]
        for k, r in enumerate(rids):
            q = round(scale[i, k] * OPENING_DAYS) * milli
            out.append(ledger_store.Posting(Movement.RECEIPT, start, [Leg(supply, r, -q), Leg(stock, r, q)]))
            for d in range(days):
                day = start + timedelta(days=d + 1)
                if d and d % RESTOCK_EVERY == 0:
                    q = round(scale[i, k] * RESTOCK_EVERY * 0.8) * milli
                    out.append(ledger_store.Posting(Movement.RECEIPT, day, [Leg(supply, r, -q), Leg(stock, r, q)]))
                q = int(use[i, k, d]) * milli
                if q:
                    out.append(ledger_store.Posting(Movement.CONSUME, day, [Leg(stock, r, -q), Leg(used, r, q)]))
    # consumption may outrun stock on a bad draw: keep only what the books allow (the ledger refuses the rest)
    return _feasible(out)


def _feasible(postings: list[ledger_store.Posting]) -> list[ledger_store.Posting]:
    bal: dict[tuple[int, int], int] = {}
    keep = []
    for p in sorted(postings, key=lambda p: (p.day, p.kind != Movement.RECEIPT)):
        g = next(leg for leg in p.legs if leg.quantity < 0)
        h = next(leg for leg in p.legs if leg.quantity > 0)
        if p.kind == Movement.CONSUME and bal.get((g.account, g.resource), 0) + g.quantity < 0:
            continue
        bal[(g.account, g.resource)] = bal.get((g.account, g.resource), 0) + g.quantity
        bal[(h.account, h.resource)] = bal.get((h.account, h.resource), 0) + h.quantity
        keep.append(p)
    return keep


# ------------------------------------------------------------------------------------------------ peer
def peer(store: Any, root: str, level: str, at: date, window: int = 7) -> tuple[pd.DataFrame, float]:
    """An analyst's script: entries -> on hand and burn rate per region and resource, with pandas."""
    t0 = time.perf_counter()
    with store.engine.connect() as conn:
        e = pd.read_sql(
            "SELECT e.account_id, e.resource_id, e.day, e.quantity, t.kind AS movement "
            "FROM resource_entry e JOIN resource_txn t ON t.id = e.txn_id",
            conn,
        )
        a = pd.read_sql("SELECT id AS account_id, kind, jurisdiction_id FROM resource_account", conn)
        j = pd.read_sql("SELECT id, code, level FROM jurisdiction", conn)
        c = pd.read_sql("SELECT ancestor_id, descendant_id FROM jurisdiction_closure", conn)
        r = pd.read_sql("SELECT id AS resource_id, code AS resource FROM resource_type", conn)
    rootid = int(j.loc[j["code"] == root, "id"].iloc[0])
    under = set(c.loc[c["ancestor_id"] == rootid, "descendant_id"])
    regions = j[(j["level"] == level) & j["id"].isin(under)]
    member = c[c["ancestor_id"].isin(regions["id"])].rename(
        columns={"ancestor_id": "region_id", "descendant_id": "jurisdiction_id"}
    )
    e["day"] = pd.to_datetime(e["day"])
    e = e[e["day"] <= pd.Timestamp(at)].merge(a, on="account_id").merge(member, on="jurisdiction_id")
    held = e[e["kind"].isin(["stock", "stockpile"])]
    on_hand = held.groupby(["region_id", "resource_id"])["quantity"].sum()
    recent = held[
        (held["movement"] == "consume")
        & (held["quantity"] < 0)
        & (held["day"] > pd.Timestamp(at - timedelta(days=window)))
    ]
    used = -recent.groupby(["region_id", "resource_id"])["quantity"].sum()
    out = pd.DataFrame({"on_hand_milli": on_hand, "used_milli": used}).fillna(0).reset_index()
    out = out.merge(regions.rename(columns={"id": "region_id", "code": "jurisdiction"}), on="region_id").merge(
        r, on="resource_id"
    )
    out["burn_rate"] = out["used_milli"] / catalog.SCALE / window
    out["days_of_supply"] = out["on_hand_milli"] / catalog.SCALE / out["burn_rate"]
    return out, time.perf_counter() - t0


def compare(ours: pd.DataFrame, theirs: pd.DataFrame) -> dict[str, Any]:
    """Identical balances: on hand in exact thousandths and burn rate, per region and resource."""
    a = ours.assign(on_hand_milli=(ours["on_hand"] * catalog.SCALE).round().astype("int64"))
    m = a.merge(theirs, on=["jurisdiction", "resource"], how="outer", suffixes=("", "_peer"), indicator=True)
    both = m[m["_merge"] == "both"]
    return {
        "rows_ours": len(ours),
        "rows_peer": len(theirs),
        "only_one_side": int((m["_merge"] != "both").sum()),
        "on_hand_mismatches": int((both["on_hand_milli"] != both["on_hand_milli_peer"].astype("int64")).sum()),
        "burn_rate_max_abs_diff": float((both["burn_rate"] - both["burn_rate_peer"].round(3)).abs().max()),
    }


# ------------------------------------------------------------------------------------------------ timings
def time_queries(store: Any, at: date, repeats: int) -> tuple[dict[str, Any], pd.DataFrame]:
    def best(fn: Any) -> tuple[float, Any]:
        times, out = [], None
        for _ in range(repeats):
            with transaction(store.sessions) as s:
                t0 = time.perf_counter()
                out = fn(s)
                times.append(time.perf_counter() - t0)
        return float(np.median(times)), out

    stock_s, frame = best(lambda s: ledger_store.stock(s, "BX", at))
    warn_s, warn = best(lambda s: early_warning.early_warning(s, "BX", at, level="city", view="public"))
    return {
        "stock_median_s": stock_s,
        "stock_rows": len(frame),
        "early_warning_median_s": warn_s,
        "early_warning_rows": len(warn),
    }, warn


def time_single_posts(store: Any, n: int, at: date) -> dict[str, Any]:
    """``post_movement`` one at a time, each its own transaction (what the API and CLI do per request)."""
    with store.engine.connect() as conn:
        codes = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT code FROM jurisdiction WHERE level = 'community' ORDER BY code LIMIT 50"
            )
        ]
    ms = []
    for i in range(n):
        t0 = time.perf_counter()
        with transaction(store.sessions) as s:
            movements.post_movement(
                s,
                SYSTEM,
                "consume",
                resource=RESOURCES[i % len(RESOURCES)],
                quantity=1,
                unit=None,
                source=movements.Side(AccountKind.STOCK, codes[i % len(codes)]),
                target=movements.Side(AccountKind.CONSUMED, codes[i % len(codes)]),
                day=at,
            )
        ms.append((time.perf_counter() - t0) * 1000)
    arr = np.array(ms)
    return {
        "n": n,
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "per_s": 1000 / float(arr.mean()),
    }


def time_pages(store: Any, workdir: Path, at: date, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with server(store.url, workdir) as (base, _pid), httpx.Client(base_url=base, timeout=120) as client:
        for label, path in (("html", "/public/resources/BX"), ("json", "/public/resources/BX.json")):
            url = f"{path}?level=city&date={at.isoformat()}"
            times = []
            for i in range(n + 3):
                t0 = time.perf_counter()
                r = client.get(url)
                elapsed = (time.perf_counter() - t0) * 1000
                r.raise_for_status()
                if i >= 3:
                    times.append(elapsed)
            out[label] = {**summarise(np.array(times)), "bytes": len(r.content)}
    return out


def run(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    end = date(2026, 3, 31)
    with tempfile.TemporaryDirectory() as tmp, fresh_store(backend, Path(tmp) / "ledger.db") as store:
        communities = 300 if args.small else 3_000
        bulk = build(store, communities, args.days, end)
        say(f"{backend}: bulk {bulk['transactions']:,} transactions in {bulk['seconds']:.1f} s")
        queries, warn = time_queries(store, end, args.repeats)
        theirs, peer_s = peer(store, "BX", "city", end)
        agreement = compare(warn, theirs)
        pages = time_pages(store, Path(tmp), end, args.requests)
        single = time_single_posts(store, args.single, end + timedelta(days=1))
        return {
            "backend": backend,
            "communities": communities,
            "days": args.days,
            "entries": store.count("resource_entry"),
            "bulk": bulk,
            **queries,
            "peer_seconds": peer_s,
            "ratio_peer_over_ours": peer_s / queries["early_warning_median_s"],
            "agreement": agreement,
            "pages": pages,
            "single_post": single,
            "peak_rss_mib": peak_rss_mib(),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--single", type=int, default=200)
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for b in backends:
        if b == "postgresql" and (why := pg_problem()):
            say(f"skipping PostgreSQL: {why}")
            continue
        results.append(run(b, args))
    rows = []
    for r in results:
        rows.append(
            [
                r["backend"],
                r["entries"],
                r["bulk"]["per_s"],
                r["single_post"]["p50_ms"],
                r["stock_median_s"] * 1000,
                r["early_warning_median_s"] * 1000,
                r["peer_seconds"] * 1000,
                r["ratio_peer_over_ours"],
                r["pages"]["html"]["p50_ms"],
                r["pages"]["html"]["p99_ms"],
                r["pages"]["json"]["p50_ms"],
                r["pages"]["json"]["p99_ms"],
                r["agreement"]["on_hand_mismatches"] + r["agreement"]["only_one_side"],
            ]
        )
    print_table(
        "Stock ledger and early warning (300 cities)" if not args.small else "Stock ledger (small)",
        [
            "backend",
            "entries",
            "bulk txn/s",
            "post p50 ms",
            "stock ms",
            "warning ms",
            "peer ms",
            "peer/ours",
            "page p50",
            "page p99",
            "json p50",
            "json p99",
            "mismatches",
        ],
        rows,
    )
    name = "resources_ledger_small" if args.small else "resources_ledger"
    say(f"wrote {write_results(name, {'runs': results})}")


if __name__ == "__main__":
    main()
