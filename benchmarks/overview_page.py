"""The public overview page of a province with ~1,000 descendant units and 365 days, through the real server;
its page weight; and the bulk Parquet export of the store against ``pandas.DataFrame.to_parquet``.

The store is built through the real services: ``import_places`` (country > 1 province > 30 cities > 970
communities, Voronoi boundaries for the province and its cities so the map is a real choropleth),
``surveillance.submit`` in batches of 100 communities (9 values per community and day), and ``publish_due``
with a ``now`` far in the future. Then ``accord serve`` runs as a subprocess on a free loopback port and 500
``GET /public/{province}`` requests go through one keep-alive httpx client (render time = request to last
byte on loopback); ``wrk`` runs the same page when installed (skipped otherwise).

Parquet: our open-data path (``accord.disclosure.opendata.export``: read every published figure of the
subtree, then write Parquet) on the whole store, against ``to_parquet`` of the same rows already in memory.
Ten million observations do not fit in the loading time this machine allows; the store's ~3.4M figures are
timed and the 10M figure is extrapolated linearly (pandas is also timed on a real 10M-row frame of the same
columns, built by repeating the rows).

    uv run python benchmarks/overview_page.py [--small] [--requests 500] [--suppressed] [--keep-db PATH]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from accord.db import transaction
from accord.disclosure import boundaries, opendata
from accord.places import service as places
from accord.surveillance import service
from common import Store, fresh_store, open_store, print_table, say, timed, write_results
from ingest import backfill, make_scenario

TARGET_P99_MS = 150.0
TARGET_WEIGHT_KB = 200.0
PROVINCE = "BX-00"
TEN_MILLION = 10_000_000


# ------------------------------------------------------------------------------------------- the store
def build(store: Store, cities: int, communities: int, days: int) -> dict[str, Any]:
    say(f"building: 1 province, {cities} cities, {communities:,} communities x {days} days x 9 values ...")
    sc = make_scenario(1, cities, communities, days)
    rng = np.random.default_rng(7)
    sc.tree["lon"] = rng.uniform(100, 120, len(sc.tree))
    sc.tree["lat"] = rng.uniform(20, 40, len(sc.tree))
    loaded = backfill(store, sc, communities, batch=100)
    with timed() as t, transaction(store.sessions) as s:
        maps = sc.tree[sc.tree["level"].isin(["province", "city"])]
        places.set_boundaries(s, boundaries.generate_voronoi_boundaries(maps))
    with timed() as p, transaction(store.sessions) as s:
        published = service.publish_due(s, datetime(2100, 1, 1, tzinfo=UTC), delay_hours=0.001)
    say(
        f"loaded {loaded['observations']:,} observations in {loaded['seconds']:.0f} s; published {published:,} days in "
        f"{p['seconds']:.0f} s"
    )
    return {
        "observations": loaded["observations"],
        "load_seconds": loaded["seconds"],
        "boundaries_seconds": t["seconds"],
        "publish_days": published,
        "publish_seconds": p["seconds"],
        "descendants": int(len(sc.tree) - 2),
        "days": days,
    }


@contextmanager
def reuse(path: str) -> Iterator[Store]:
    store = open_store(f"sqlite:///{Path(path).resolve()}")
    try:
        yield store
    finally:
        store.engine.dispose()


def stats(store: Store, days: int) -> dict[str, Any]:
    return {
        "observations": store.count("observation"),
        "descendants": store.count("jurisdiction") - 2,
        "days": days,
        "reused": True,
    }


# ---------------------------------------------------------------------------------------------- server
_WRK_LINE = re.compile(r"^\s*(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"accord serve exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"accord serve did not answer /api/v1/health within {timeout:.0f} s")


def summarise(ms: np.ndarray) -> dict[str, float]:
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"requests": len(ms), "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": ms.max(), "mean_ms": ms.mean()}


class Server:
    def __init__(self, url: str, workdir: Path, extra_env: dict[str, str]) -> None:
        self.port = free_port()
        env = os.environ | {
            "ACCORD_DATABASE_URL": url,
            "ACCORD_DATA_DIR": str(workdir),
            "ACCORD_AUTO_PUBLISH_HOURS": "0",
            "ACCORD_ENVIRONMENT": "development",
            **extra_env,
        }
        self.log_path = workdir / f"server-{self.port}.log"
        self.log = self.log_path.open("wb")
        cmd = [sys.executable, "-m", "accord.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        wait_healthy(self.base, self.proc, self.log_path)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def page_latencies(base: str, n: int, warmup: int = 10) -> tuple[np.ndarray, float]:
    """Milliseconds per request (status 200, body read), and the first warm-up request's milliseconds."""
    times, first = [], 0.0
    with httpx.Client(base_url=base, timeout=120) as client:
        for i in range(warmup + n):
            t0 = time.perf_counter()
            r = client.get(f"/public/{PROVINCE}")
            elapsed = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            if i == 0:
                first = elapsed
            if i >= warmup:
                times.append(elapsed)
    return np.array(times), first


def page_weight(base: str) -> dict[str, Any]:
    """Bytes of the page and of our own CSS and JS (plotly.js, the charting library, is left out)."""
    with httpx.Client(base_url=base, timeout=120) as client:
        html = client.get(f"/public/{PROVINCE}").content
        css = client.get("/public/_static/disclosure.css").content
        js = client.get("/public/_static/disclosure.js").content
        plotly = client.get("/public/_vendor/plotly.min.js").content
    total = len(html) + len(css) + len(js)
    return {
        "html_bytes": len(html),
        "css_bytes": len(css),
        "js_bytes": len(js),
        "total_kb": total / 1024,
        "plotly_kb_excluded": len(plotly) / 1024,
        "map_paths": html.count(b"<path "),
        "table_rows": html.count(b"<tr data-code"),
    }


def run_wrk(base: str, workdir: Path, connections: int, seconds: int) -> dict[str, Any] | None:
    exe = shutil.which("wrk")
    if exe is None:
        return None
    cmd = [
        exe,
        f"-t{min(connections, 2)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        f"{base}/public/{PROVINCE}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    found = {f"p{q}_ms": float(v) * _UNIT[u] for q, v, u in _WRK_LINE.findall(out)}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "connections": connections,
        "seconds": seconds,
        "requests_per_s": float(rps.group(1)) if rps else None,
        "non_2xx": int(errors.group(1)) if errors else 0,
        **found,
    }


def serve_and_measure(store: Store, workdir: Path, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    with Server(store.url, workdir, env) as srv:
        say(f"server up at {srv.base}; {args.requests} requests of /public/{PROVINCE} ...")
        ms, first = page_latencies(srv.base, args.requests)
        weight = page_weight(srv.base)
        wrk = [run_wrk(srv.base, workdir, c, args.wrk_seconds) for c in (1, 4)]
    return {"httpx": summarise(ms), "first_request_ms": first, "weight": weight, "wrk": [w for w in wrk if w] or None}


# ---------------------------------------------------------------------------------------------- parquet
def parquet(store: Store) -> dict[str, Any]:
    """Our open-data Parquet path on the whole store vs pandas on the same rows; both extrapolated to 10M."""
    say("parquet: our export of every published figure under the country ...")
    with timed() as ours, store.sessions() as s:
        data, _, _ = opendata.export(s, "parquet", "BX", None)
    frame = pd.read_parquet(io.BytesIO(data))
    rows = len(frame)
    pandas_s = []
    for _ in range(3):
        with timed() as t:
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
        pandas_s.append(t["seconds"])
    say(f"parquet: pandas.to_parquet on a real {TEN_MILLION:,}-row frame of the same columns ...")
    reps = int(np.ceil(TEN_MILLION / rows))
    big = pd.concat([frame] * reps, ignore_index=True).iloc[:TEN_MILLION]
    with timed() as t10:
        buf = io.BytesIO()
        big.to_parquet(buf, index=False)
    del big
    ours_10m = ours["seconds"] / rows * TEN_MILLION
    pandas_med = statistics.median(pandas_s)
    return {
        "rows": rows,
        "bytes": len(data),
        "ours_seconds": ours["seconds"],
        "ours_cpu_seconds": ours["cpu_seconds"],
        "pandas_seconds_same_rows": pandas_med,
        "ratio_ours_over_pandas": ours["seconds"] / pandas_med,
        "ours_seconds_10m_extrapolated": ours_10m,
        "pandas_seconds_10m_measured": t10["seconds"],
        "ratio_10m": ours_10m / t10["seconds"],
    }


# ---------------------------------------------------------------------------------------------- driver
def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="5 cities, 45 communities, 60 days, 100 requests")
    p.add_argument("--cities", type=int, default=30)
    p.add_argument("--communities", type=int, default=970)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--wrk-seconds", type=int, default=10)
    p.add_argument("--suppressed", action="store_true", help="also measure with ACCORD_SUPPRESS_BELOW=5, depth 3")
    p.add_argument("--no-parquet", action="store_true")
    p.add_argument("--keep-db", default=None, help="write the store here and keep it")
    p.add_argument("--db", default=None, help="reuse a store --keep-db left (skips building it)")
    args = p.parse_args()
    if args.small:
        args.cities, args.communities, args.days, args.requests, args.wrk_seconds = 5, 45, 60, 100, 3
    return args


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = Path(args.keep_db).resolve() if args.keep_db else workdir / "overview.db"
        with reuse(args.db) if args.db else fresh_store("sqlite", path, keep=bool(args.keep_db)) as store:
            built = stats(store, args.days) if args.db else build(store, args.cities, args.communities, args.days)
            store.engine.dispose()
            result: dict[str, Any] = {"built": built, "small": args.small}
            result["page"] = serve_and_measure(store, workdir, args, {"ACCORD_SUPPRESS_BELOW": "0"})
            if args.suppressed:
                env = {"ACCORD_SUPPRESS_BELOW": "5", "ACCORD_SUPPRESS_FROM_DEPTH": "3"}
                result["page_suppressed"] = serve_and_measure(store, workdir, args, env)
            if not args.no_parquet:
                result["parquet"] = parquet(store)
    report(result)


def report(r: dict[str, Any]) -> None:
    b = r["built"]
    rows = []
    for key, label in (("page", "suppression off"), ("page_suppressed", "suppression on (<5 below depth 3)")):
        if key not in r:
            continue
        h = r[key]["httpx"]
        rows.append([f"httpx keep-alive, {label}", h["requests"], h["p50_ms"], h["p90_ms"], h["p99_ms"], h["max_ms"]])
        for w in r[key]["wrk"] or []:
            rows.append(
                [
                    f"wrk {w['connections']} conn, {label}",
                    f"{w['requests_per_s']:,.1f}/s",
                    w.get("p50_ms"),
                    w.get("p90_ms"),
                    w.get("p99_ms"),
                ]
            )
    print_table(
        f"GET /public/{PROVINCE}: {b['descendants']:,} descendant units x {b['days']} days, "
        f"{b['observations']:,} observations (SQLite); target p99 < {TARGET_P99_MS:.0f} ms",
        ["client", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        rows,
    )
    w = r["page"]["weight"]
    print(
        f"page weight: HTML {w['html_bytes'] / 1024:.1f} KB + CSS {w['css_bytes'] / 1024:.1f} KB + JS "
        f"{w['js_bytes'] / 1024:.1f} KB = {w['total_kb']:.1f} KB (target < {TARGET_WEIGHT_KB:.0f} KB; plotly.js "
        f"{w['plotly_kb_excluded']:.0f} KB excluded); p99 / target = {r['page']['httpx']['p99_ms'] / TARGET_P99_MS:.2f}"
    )
    if r["page"]["wrk"] is None:
        print("wrk is not installed: skipped (apt-get install wrk to add it)")
    if "parquet" in r:
        q = r["parquet"]
        print_table(
            "Bulk Parquet export (long layout, published figures)",
            ["path", "rows", "seconds", "ratio vs pandas"],
            [
                ["ours: opendata.export (read + write)", q["rows"], q["ours_seconds"], q["ratio_ours_over_pandas"]],
                ["pandas.to_parquet, same rows in memory", q["rows"], q["pandas_seconds_same_rows"], 1.0],
                ["ours, extrapolated to 10M rows", TEN_MILLION, q["ours_seconds_10m_extrapolated"], q["ratio_10m"]],
                ["pandas.to_parquet, 10M rows measured", TEN_MILLION, q["pandas_seconds_10m_measured"], 1.0],
            ],
        )
    r["targets"] = {"p99_ms": TARGET_P99_MS, "weight_kb": TARGET_WEIGHT_KB}
    name = "overview_page_small" if r["small"] else "overview_page"
    print(f"results: {write_results(name, r)}")


if __name__ == "__main__":
    main()
