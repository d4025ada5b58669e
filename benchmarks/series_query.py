"""Latency of the public time-series API for provinces over 365 days, through the real HTTP server.

Uses an existing store (``--db``: the SQLite file ``ingest.py --keep-db`` left, or any database URL) or builds
one (1,000 communities x 365 days x 9 values, ~3.3M observations; ``--small``: 50 communities). Everything is
approved with ``publish_due`` (timed: the cost of publishing a whole load at once), then ``accord serve`` runs as
a subprocess on a free loopback port (auto-publication off) and 1,000 ``GET /api/v1/series`` requests rotate
over the provinces through one keep-alive httpx client. ``wrk`` runs the same requests when it is installed.
Publishing a whole 10M load at once takes long; ``--view all`` skips it and reads the provisional figures as
an admin (the same query, plus a token lookup per request).

    uv run python benchmarks/series_query.py [--small] [--db PATH_OR_URL] [--requests 1000] [--view all]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import text

from accord.auth import service as auth
from accord.db import transaction
from accord.surveillance import service
from common import Store, code_version, fresh_store, open_store, peak_rss_mib, print_table, say, timed, write_results
from ingest import backfill, make_scenario

TARGET_P99_MS = 50.0
PATH = "/api/v1/series"


# ------------------------------------------------------------------------------------------- the store
def build(store: Store, communities: int, days: int) -> dict[str, Any]:
    say(f"building a store: {communities:,} communities x {days} days ...")
    sc = make_scenario(10, 20, communities, days)
    return backfill(store, sc, communities, batch=100)


def publish_all(store: Store) -> dict[str, Any]:
    """Approve every reported day (a tiny delay and a ``now`` far in the future)."""
    with timed() as t, transaction(store.sessions) as s:
        days = service.publish_due(s, datetime(2100, 1, 1, tzinfo=UTC), delay_hours=0.001)
    say(f"published {days:,} reporting days in {t['seconds']:.1f} s")
    return {"days": days, "seconds": t["seconds"], "peak_rss_mib_after": peak_rss_mib()}


def admin_token(store: Store) -> str:
    """A token of a new admin user (``view=all`` shows provisional figures to users with the scope)."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    with transaction(store.sessions) as s:
        auth.add_user(s, name, "admin", None, display_name="series benchmark")
        return str(auth.issue_token(s, name, label="series benchmark"))


def provinces(store: Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(text("SELECT code FROM jurisdiction WHERE depth = 1 ORDER BY code")).scalars())


# ------------------------------------------------------------------------------------------ the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """``accord serve`` on a free loopback port; yields its base URL and pid, stops it afterwards."""
    port = free_port()
    env = os.environ | {
        "ACCORD_DATABASE_URL": url,
        "ACCORD_DATA_DIR": str(workdir),
        "ACCORD_AUTO_PUBLISH_HOURS": "0",
        "ACCORD_ENVIRONMENT": "development",
    }
    log = (workdir / "server.log").open("wb")
    cmd = [sys.executable, "-m", "accord.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, workdir / "server.log")
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> None:
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


# ------------------------------------------------------------------------------------------- the clients
@dataclass
class Query:
    codes: list[str]
    view: str
    token: str | None

    def path(self, code: str) -> str:
        return f"{PATH}?jurisdiction={code}&indicator=new_confirmed&view={self.view}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def httpx_latencies(base: str, q: Query, n: int, warmup: int = 20) -> tuple[np.ndarray, int]:
    """Milliseconds per request (response body read), and the rows of the last response."""
    times, rows = [], 0
    with httpx.Client(base_url=base, timeout=60, headers=q.headers()) as client:
        for i in range(warmup + n):
            t0 = time.perf_counter()
            r = client.get(q.path(q.codes[i % len(q.codes)]))
            elapsed = time.perf_counter() - t0
            r.raise_for_status()
            if i >= warmup:
                times.append(elapsed * 1000)
        rows = len(r.json()["data"])
    return np.array(times), rows


def summarise(ms: np.ndarray) -> dict[str, float]:
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"requests": len(ms), "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": ms.max(), "mean_ms": ms.mean()}


LUA = """local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""
_WRK_LINE = re.compile(r"^\s*(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(base: str, q: Query, workdir: Path, connections: int, seconds: int) -> dict[str, Any] | None:
    exe = shutil.which("wrk")
    if exe is None:
        return None
    script = workdir / "rotate.lua"
    script.write_text(LUA % ", ".join(f'"{q.path(c)}"' for c in q.codes))
    threads = min(connections, 2)
    cmd = [exe, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    cmd += [arg for k, v in q.headers().items() for arg in ("-H", f"{k}: {v}")] + [base]
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


# ---------------------------------------------------------------------------------------------- driver
def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="50 communities, 200 requests")
    p.add_argument("--db", default=None, help="an existing store: SQLite file path or database URL")
    p.add_argument("--communities", type=int, default=1000)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--wrk-seconds", type=int, default=10)
    p.add_argument(
        "--view",
        choices=["public", "all"],
        default="public",
        help="public: approve everything first (publish_due, timed); all: query provisional figures as an admin "
        "(no publication: the same read path, for stores too big to publish in one go)",
    )
    args = p.parse_args()
    if args.small:
        args.communities, args.requests, args.wrk_seconds = 50, 200, 3
    return args


@contextmanager
def the_store(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[Store, dict[str, Any] | None]]:
    if args.db:
        url = args.db if "://" in args.db else f"sqlite:///{Path(args.db).resolve()}"
        store = open_store(url)
        try:
            yield store, None
        finally:
            store.engine.dispose()
        return
    with fresh_store("sqlite", workdir / "series.db") as store:
        yield store, build(store, args.communities, args.days)


def measure(args: argparse.Namespace, store: Store, workdir: Path) -> dict[str, Any]:
    public = args.view == "public"
    q = Query(provinces(store), args.view, None if public else admin_token(store))
    published = publish_all(store) if public else None
    store.engine.dispose()  # the server has the database to itself
    with server(store.url, workdir) as (base, pid):
        say(f"server up at {base}; {args.requests:,} requests over {len(q.codes)} provinces ...")
        cpu0 = cpu_seconds(pid)
        ms, rows = httpx_latencies(base, q, args.requests)
        cpu1 = cpu_seconds(pid)
        wrk = [run_wrk(base, q, workdir, c, args.wrk_seconds) for c in (1, 8)]
    return {
        "view": args.view,
        "provinces": len(q.codes),
        "rows_per_response": rows,
        "publish": published,
        "httpx": summarise(ms),
        # the server's own CPU per request: steadier than latency on a shared machine (warm-up included)
        "server_cpu_ms_per_request": (cpu1 - cpu0) * 1000 / (args.requests + 20) if cpu0 and cpu1 else None,
        "wrk": [w for w in wrk if w] or None,
    }


def main() -> None:
    args = parse_args()
    code = code_version()
    with tempfile.TemporaryDirectory() as tmp, the_store(args, Path(tmp)) as (store, built):
        result = measure(args, store, Path(tmp))
        result |= {"backend": store.backend, "observations": store.count("observation"), "built": built, "code": code}
    report(result, args.small)


def report(r: dict[str, Any], small: bool) -> None:
    h = r["httpx"]
    rows = [["httpx, 1 keep-alive connection", h["requests"], h["p50_ms"], h["p90_ms"], h["p99_ms"], h["max_ms"]]]
    for w in r["wrk"] or []:
        label = f"wrk, {w['connections']} connection{'s' if w['connections'] > 1 else ''}, {w['seconds']} s"
        rows.append([label, f"{w['requests_per_s']:,.0f}/s", w.get("p50_ms"), w.get("p90_ms"), w.get("p99_ms")])
    title = (
        f"GET {PATH} (view={r['view']}) for {r['provinces']} provinces x {r['rows_per_response']} days, "
        f"{r['backend']} store of "
        f"{r['observations']:,} observations; target p99 < {TARGET_P99_MS:.0f} ms"
    )
    print_table(title, ["client", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows)
    if r["server_cpu_ms_per_request"]:
        load = os.getloadavg()[0]
        print(f"server CPU per request: {r['server_cpu_ms_per_request']:.1f} ms (load average now {load:.1f})")
    pub = r["publish"]
    if pub:
        print(
            f"publish_due of the whole load: {pub['days']:,} reporting days in {pub['seconds']:.1f} s "
            f"(peak RSS {pub['peak_rss_mib_after']:,.0f} MiB)"
        )
    else:
        print("view=all as an admin: nothing published, provisional figures read (same query path)")
    if r["wrk"] is None:
        print("wrk is not installed: skipped (apt-get install wrk to add it)")
    r["target_p99_ms"], r["small"] = TARGET_P99_MS, small
    print(f"results: {write_results('series_query', r)}")


if __name__ == "__main__":
    main()
