"""Run every benchmark of the spine, one after the other, and print a summary of their JSON results.

The SQLite store the ingest benchmark fills is handed to the series-query benchmark, so the queries run
against the full load. ``--small`` is passed through (smoke check, a few minutes in all).

    uv run python benchmarks/run_all.py [--small]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import RESULTS, print_table, timed

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> tuple[int, float]:
    print(f"\n=== {script} {' '.join(args)}", flush=True)
    with timed() as t:
        code = subprocess.call([sys.executable, str(HERE / script), *args])
    return code, t["seconds"]


def load(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def summary_rows() -> list[list[Any]]:
    rows: list[list[Any]] = []
    for r in load("canghailan_import").get("runs", []):
        rows.append([f"canghailan import, {r['backend']}", f"{r['source_rows_per_s']:,.0f} rows/s", r["seconds"]])
    ingest = load("ingest")
    for r in ingest.get("runs", []):
        part = "" if r["full"] else " (part)"
        ratio = f", pandas {r['pandas_speedup_over_ours']:.0f}x faster" if r.get("pandas_speedup_over_ours") else ""
        label = f"ingest {r['shape']}, {r['backend']}{part}"
        rows.append([label, f"{r['rows_per_s']:,.0f} obs/s{ratio}", r["seconds"]])
    if ingest.get("pandas"):
        p = ingest["pandas"]
        rows.append(["ingest: pandas groupby baseline", f"{p['rows_per_s']:,.0f} obs/s", p["seconds"]])
    series = load("series_query")
    if series.get("httpx"):
        h = series["httpx"]
        rows.append(["series query (httpx)", f"p50 {h['p50_ms']:.1f} ms, p99 {h['p99_ms']:.1f} ms", "-"])
        pub = series["publish"]
        rows.append([f"publish_due of {pub['days']:,} days", "-", pub["seconds"]])
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true")
    small = ["--small"] if p.parse_args().small else []
    codes: dict[str, tuple[int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ingest_backfill.db"
        codes["canghailan_import"] = run("canghailan_import.py", *small)
        codes["ingest"] = run("ingest.py", *small, "--keep-db", str(db), "--workdir", tmp)
        series_args = ["--db", str(db)] if db.is_file() else []
        codes["series_query"] = run("series_query.py", *small, *series_args)
    print_table("Benchmarks: summary", ["benchmark", "result", "seconds"], summary_rows())
    for name, (code, seconds) in codes.items():
        print(f"{name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds:,.0f} s")
    sys.exit(max(code for code, _ in codes.values()))


if __name__ == "__main__":
    main()
