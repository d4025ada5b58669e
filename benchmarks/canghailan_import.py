"""Import the whole canghailan China file (61,820 rows: national, province and city cumulative counts) into a
fresh SQLite and a fresh PostgreSQL store, after the MCA division codes (ChinaAreaCode.csv).

The steps are those of ``surveillance.exchange.import_bytes``, timed one by one: parse (cumulative -> daily,
buckets as places), create the bucket places, submit (validation, revisions, roll-up, flags). City codes the
file uses but the MCA file lacks (e.g. ``1100xx``) get stand-in places under their province first, so the
import can be measured; how many is printed (0 once the parser creates them itself).

    uv run python benchmarks/canghailan_import.py [--small]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import text

from accord.auth.roles import SYSTEM
from accord.db import transaction
from accord.places import china_codes
from accord.places import service as places
from accord.surveillance import service
from accord.surveillance.formats import canghailan
from common import Store, fresh_store, peak_rss_mib, pg_problem, print_table, say, shared_data, timed, write_results

FOLDER = "china-covid19-canghailan"
FILE = "china_covid19_daily_dec2019_apr2020.csv"
#: figures the issue fixes: daily new confirmed on 2020-02-12 (the clinically diagnosed jump)
FACTS = {("420000", date(2020, 2, 12)): 13_797, ("CN", date(2020, 2, 12)): 14_109}


def load_mca_codes(store: Store, folder: Path) -> dict[str, float]:
    data = (folder / "ChinaAreaCode.csv").read_bytes()
    with timed() as parse_t:
        parsed = china_codes.parse(data, "ChinaAreaCode.csv")
    with timed() as import_t, transaction(store.sessions) as s:
        created = places.import_places(s, parsed.places).created
    return {"places": created, "parse_seconds": parse_t["seconds"], "import_seconds": import_t["seconds"]}


def stand_ins(frame: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """Places for codes the observations use but the tree lacks: children of their province (or the country)."""
    missing = frame.loc[~frame["jurisdiction"].isin(known), ["jurisdiction", "jurisdiction_name"]]
    missing = missing.drop_duplicates("jurisdiction")
    province = missing["jurisdiction"].str[:2] + "0000"
    return pd.DataFrame(
        {
            "code": missing["jurisdiction"].to_numpy(),
            "name": missing["jurisdiction_name"].to_numpy(),
            "local_name": missing["jurisdiction_name"].to_numpy(),
            "level": "uncoded",
            "parent_code": province.where(province.isin(known), "CN").to_numpy(),
            "population": None,
        }
    )


def import_file(store: Store, data: bytes) -> dict[str, Any]:
    with timed() as parse_t:
        parsed = canghailan.parse(data, FILE)
    if parsed.problems:
        raise SystemExit(f"{FILE} did not parse: {parsed.problems[0]}")
    with timed() as places_t, transaction(store.sessions) as s:
        known = set(places.load_index(s).by_code)
        buckets = parsed.places[~parsed.places["code"].isin(known)]
        places.import_places(s, buckets, file=FILE)
        extra = stand_ins(parsed.frame, known | set(buckets["code"]))
        places.import_places(s, extra, file=FILE)
    with timed() as submit_t, transaction(store.sessions) as s:
        service.submit(s, parsed.frame, actor=SYSTEM, source=f"import:canghailan:{FILE}")
    return {
        "observations": len(parsed.frame),
        "bucket_places": len(buckets),
        "stand_in_places": len(extra),
        "warnings": store.count("flag"),
        "parse_seconds": parse_t["seconds"],
        "places_seconds": places_t["seconds"],
        "submit_seconds": submit_t["seconds"],
        "submit_cpu_seconds": submit_t["cpu_seconds"],
    }


def check_facts(store: Store) -> bool:
    with store.engine.connect() as conn:
        for (code, day), expected in FACTS.items():
            got = conn.execute(
                text(
                    "SELECT COALESCE(f.own_all, f.child_all) FROM figure f JOIN jurisdiction j ON j.id = "
                    "f.jurisdiction_id JOIN indicator i ON i.id = f.indicator_id WHERE j.code = :c AND "
                    "i.code = 'new_confirmed' AND f.disaggregation = '' AND f.date = :d"
                ),
                {"c": code, "d": day.isoformat() if store.backend == "sqlite" else day},
            ).scalar()
            if got != expected:
                say(f"  check failed: {code} {day} new_confirmed {got} (expected {expected})")
                return False
    return True


def run(backend: str, folder: Path, data: bytes, workdir: Path) -> dict[str, Any]:
    say(f"{backend} ...")
    with fresh_store(backend, workdir / "canghailan.db") as store:
        mca = load_mca_codes(store, folder)
        out = import_file(store, data)
        out |= {"backend": backend, "mca": mca, "facts_ok": check_facts(store), "db_mib": store.size_mib()}
    source_rows = data.count(b"\n") - 1
    total = out["parse_seconds"] + out["places_seconds"] + out["submit_seconds"]
    out |= {
        "source_rows": source_rows,
        "seconds": total,
        "source_rows_per_s": source_rows / total,
        "observations_per_s": out["observations"] / total,
        "submit_observations_per_s": out["observations"] / out["submit_seconds"],
        "peak_rss_mib": peak_rss_mib(),
    }
    return out


def subset(data: bytes, rows: int) -> bytes:
    """The header and the first ``rows`` rows (whole days stay whole enough for a smoke check)."""
    return b"\n".join(data.split(b"\n")[: rows + 1]) + b"\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="the first 15,000 rows only (smoke check)")
    p.add_argument("--backends", default="sqlite,postgresql")
    args = p.parse_args()
    root = shared_data()
    if root is None or not (root / FOLDER / FILE).is_file():
        print(f"skipped: {FOLDER}/{FILE} is not present (set ACCORD_SHARED_DATA)")
        write_results("canghailan_import", {"skipped": "shared data not present"})
        return
    data = (root / FOLDER / FILE).read_bytes()
    if args.small:
        data = subset(data, 15_000)
    results, skipped = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            problem = pg_problem() if backend == "postgresql" else None
            if problem:
                skipped[backend] = problem
                continue
            results.append(run(backend, root / FOLDER, data, Path(tmp)))
    report(results, skipped, args.small)


def report(results: list[dict[str, Any]], skipped: dict[str, str], small: bool) -> None:
    cols = ["backend", "source rows", "observations", "parse s", "places s", "submit s", "total s", "rows/s"]
    cols += ["obs/s", "submit obs/s", "stand-ins", "warnings", "facts"]
    rows = [
        [
            r["backend"],
            r["source_rows"],
            r["observations"],
            r["parse_seconds"],
            r["places_seconds"],
            r["submit_seconds"],
            r["seconds"],
            r["source_rows_per_s"],
            r["observations_per_s"],
            r["submit_observations_per_s"],
            r["stand_in_places"],
            r["warnings"],
            "ok" if r["facts_ok"] else ("n/a" if small else "WRONG"),
        ]
        for r in results
    ]
    print_table(f"canghailan China file import{' (first 15,000 rows)' if small else ''}", cols, rows)
    for r in results:
        m = r["mca"]
        print(
            f"{r['backend']}: MCA codes {m['places']:,} places, parse {m['parse_seconds']:.2f} s, "
            f"import {m['import_seconds']:.2f} s; DB {r['db_mib']:.0f} MiB"
        )
    for backend, why in skipped.items():
        print(f"{backend} skipped: {why}")
    out = write_results("canghailan_import", {"small": small, "runs": results, "skipped": skipped})
    print(f"results: {out}")


if __name__ == "__main__":
    main()
