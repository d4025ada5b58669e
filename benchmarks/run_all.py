"""Run every benchmark, one after the other, and print a summary of their JSON results.

The spine's first: the SQLite store the ingest benchmark fills is handed to the series-query benchmark, so the
queries run against the full load. Then each capability's, each beside its peer tool. ``--small`` runs every
one at a smoke-check size (several minutes in all); ``--only NAME`` runs the benchmarks whose file name
contains NAME. Full sizes take well over an hour on two cores; the figures are in docs/benchmarks.md.

    uv run python benchmarks/run_all.py [--small] [--only NAME]
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


#: script, arguments at full size, arguments at smoke-check size
CAPABILITIES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("overview_page.py", (), ("--small",)),
    ("rt_vs_epyestim.py", (), ("--regions", "100", "--days", "120")),
    ("metapop_scale.py", (), ("--regions", "100", "--days", "60", "--members", "4")),
    ("forecast_skill.py", (), ("--cutoffs", "2020-02-08", "--members", "20")),
    ("forecast_hub_score.py", (), ("--members", "100")),
    ("forecast_ensemble.py", (), ("--members", "10", "--regions", "50", "--days", "14")),
    ("hospital_vs_chime.py", ("--chime-regions", "200"), ("--regions", "300", "--chime-regions", "20")),
    ("rumor_matcher.py", (), ("--claims", "2000", "--messages", "200")),
    ("allocation_scale.py", (), ("--regions", "300", "--depots", "10", "--skip-minmax")),
    ("allocation_pooling.py", (), ()),
    ("resources_ledger.py", (), ("--small",)),
    ("policy_oxcgrt_risk.py", (), ("--regions", "300", "--days", "60", "--store-communities", "300")),
    ("scenario_grid.py", (), ("--regions", "30", "--days", "60", "--skip-dask")),
    ("counterfactual_china.py", (), ("--evaluations", "40")),
    ("tracing_scale.py", (), ("--small",)),
    ("healthcode_dcc_agreement.py", (), ("--no-pictures",)),
    ("healthcode_throughput.py", (), ("--codes", "300", "--persons", "100000")),
    ("healthcode_cli_batch.py", (), ("--codes", "1000", "--single", "2", "--repeat", "1")),
    ("federation_push.py", (), ("--small",)),
)


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
    p.add_argument("--only", default="", help="run only the benchmarks whose file name contains this")
    args = p.parse_args()
    small = ["--small"] if args.small else []
    codes: dict[str, tuple[int, float]] = {}
    if args.only:
        for script, full, quick in CAPABILITIES:
            if args.only in script:
                codes[script] = run(script, *(quick if args.small else full))
        _report(codes)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ingest_backfill.db"
        codes["canghailan_import"] = run("canghailan_import.py", *small)
        codes["ingest"] = run("ingest.py", *small, "--keep-db", str(db), "--workdir", tmp)
        series_args = ["--db", str(db)] if db.is_file() else []
        codes["series_query"] = run("series_query.py", *small, *series_args)
    print_table("Benchmarks of the spine: summary", ["benchmark", "result", "seconds"], summary_rows())
    for script, full, quick in CAPABILITIES:
        codes[script] = run(script, *(quick if args.small else full))
    _report(codes)


def _report(codes: dict[str, tuple[int, float]]) -> None:
    for name, (code, seconds) in codes.items():
        print(f"{name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {seconds:,.0f} s")
    sys.exit(max(code for code, _ in codes.values()))


if __name__ == "__main__":
    main()
