"""Many reporters at once through the real HTTP API, then an audit: nothing lost, nothing twice, every sum right.

Each reporter is one community with its own account and token, and sends its daily report (three values) with an
``Idempotency-Key``, moving one day forward per report; one report in five revises an earlier day (with a
reason), so revisions of one figure race too. A coordinator approves reported days at the same time, so
publication races submission. A 503 (store busy) is retried with the same key after its ``Retry-After``; a
request whose answer never came is retried with the same key too, so the client knows exactly what was stored.

After the run, straight from the database:
- **lost**: every acknowledged value is the community's current own figure (and every revision is in the log);
- **duplicated**: one submission per acknowledged key, one revision per accepted change;
- **wrong roll-ups**: ``accord report check``'s query finds no parent whose children's sum differs, and every
  day's country figure equals the sum of what the client sent.

Beside it, the same number of writers each committing one plain ``INSERT`` of the same rows in a loop (no HTTP,
no validation, no roll-up): the database's own commit ceiling on this machine, printed as the ratio.

    uv run python benchmarks/concurrent_reporters.py --backend postgresql --reporters 200 --minutes 10
    uv run python benchmarks/concurrent_reporters.py --backend sqlite --reporters 50 --minutes 10
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sqlalchemy import text

from accord.auth import service as auth
from accord.db import transaction
from accord.places import service as places
from accord.surveillance import integrity
from common import Store, fresh_store, print_table, say, synthetic_tree, write_results
from overview_page import Server

FIRST_DAY = date(2026, 1, 1)
INDICATORS = ("new_confirmed", "new_deaths", "new_recovered")


@dataclass
class Ledger:
    """What the server acknowledged: the client's ground truth."""

    own: dict[tuple[str, date, str], float] = field(default_factory=dict)
    accepted_keys: set[str] = field(default_factory=set)
    latencies_ms: list[float] = field(default_factory=list)
    busy: int = 0
    lost_answers: int = 0
    refused: list[str] = field(default_factory=list)
    approvals: int = 0


def build(store: Store, reporters: int) -> tuple[list[str], dict[str, str], str]:
    """A country of ``reporters`` communities; a reporter account per community and one coordinator."""
    tree = synthetic_tree(provinces=10, cities_per_province=5, communities=reporters)
    communities = tree.loc[tree["level"] == "community", "code"].tolist()
    tokens: dict[str, str] = {}
    with transaction(store.sessions) as s:
        places.import_places(s, tree)
        for code in communities:
            auth.add_user(s, f"r-{code}", "reporter", code)
            tokens[code] = auth.issue_token(s, f"r-{code}")
        auth.add_user(s, "coordinator", "coordinator", "BX")
        coordinator = auth.issue_token(s, "coordinator")
    return communities, tokens, coordinator


async def post_until_answered(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str], ledger: Ledger
) -> httpx.Response:
    """POST, retrying (same idempotency key) on 503 and on a lost answer, until a definite answer arrives."""
    while True:
        t0 = time.perf_counter()
        try:
            response = await client.post(url, json=body, headers=headers)
        except httpx.TransportError:
            ledger.lost_answers += 1
            await asyncio.sleep(0.5)
            continue
        if response.status_code == 503:
            ledger.busy += 1
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        ledger.latencies_ms.append((time.perf_counter() - t0) * 1000)
        return response


async def reporter(
    client: httpx.AsyncClient, code: str, token: str, stop_at: float, ledger: Ledger, rng: random.Random
) -> None:
    day_index = 0
    while time.monotonic() < stop_at:
        revise = day_index > 0 and rng.random() < 0.2
        day = FIRST_DAY + timedelta(days=rng.randrange(day_index) if revise else day_index)
        values = {ind: float(rng.randrange(0, 60)) for ind in INDICATORS}
        reason = "recount" if (code, day, INDICATORS[0]) in ledger.own else None
        body = {
            "observations": [
                {"jurisdiction": code, "date": day.isoformat(), "indicator": ind, "value": v, "reason": reason}
                for ind, v in values.items()
            ]
        }
        key = f"{code}/{day_index}/{rng.random():.12f}"
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        response = await post_until_answered(client, "/api/v1/submissions", body, headers, ledger)
        if response.status_code == 201:
            ledger.accepted_keys.add(key)
            for ind, v in values.items():
                ledger.own[(code, day, ind)] = v
        else:
            ledger.refused.append(f"{response.status_code} {response.text[:200]}")
        if not revise:
            day_index += 1


async def approver(client: httpx.AsyncClient, token: str, stop_at: float, ledger: Ledger, rng: random.Random) -> None:
    """Approves one reported community-day a second (a day already approved is corrected with a reason)."""
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < stop_at:
        await asyncio.sleep(1.0)
        reported = list(ledger.own)
        if not reported:
            continue
        code, day, _ = rng.choice(reported)
        body = {"jurisdiction": code, "dates": [day.isoformat()]}
        response = await post_until_answered(client, "/api/v1/approvals", body, headers, ledger)
        ledger.approvals += response.status_code < 300


async def drive(base: str, communities: list[str], tokens: dict[str, str], coordinator: str, seconds: float) -> Ledger:
    ledger = Ledger()
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(communities) + 1, max_keepalive_connections=len(communities) + 1)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        jobs = [reporter(client, c, tokens[c], stop_at, ledger, random.Random(i)) for i, c in enumerate(communities)]
        jobs.append(approver(client, coordinator, stop_at, ledger, random.Random(-1)))
        await asyncio.gather(*jobs)
    return ledger


def audit(store: Store, ledger: Ledger) -> dict[str, int]:
    """Lost, duplicated and wrong roll-ups, read straight from the database."""
    with transaction(store.sessions) as s:
        ids = {code: i for code, i in s.execute(text("SELECT code, id FROM indicator")).all()}
        jur = {code: i for code, i in s.execute(text("SELECT code, id FROM jurisdiction")).all()}
        own = pd.DataFrame(
            s.execute(
                text("SELECT jurisdiction_id, indicator_id, date, own_all FROM figure WHERE own_all IS NOT NULL")
            ).all(),
            columns=["jid", "iid", "date", "own"],
        )
        submissions = int(s.execute(text("SELECT COUNT(*) FROM submission")).scalar_one())
        duplicate_revisions = int(
            s.execute(
                text(
                    "SELECT COUNT(*) FROM (SELECT jurisdiction_id, indicator_id, date, disaggregation, revision "
                    "FROM observation GROUP BY 1, 2, 3, 4, 5 HAVING COUNT(*) > 1) d"
                )
            ).scalar_one()
        )
        mismatches = len(integrity.find_mismatches(s))
        root = pd.DataFrame(
            s.execute(
                text("SELECT indicator_id, date, COALESCE(own_all, child_all) FROM figure WHERE jurisdiction_id = :r"),
                {"r": jur["BX"]},
            ).all(),
            columns=["iid", "date", "value"],
        )
    own["date"] = pd.to_datetime(own["date"]).dt.date
    stored = {
        (int(j), d, int(i)): float(v) for j, i, d, v in own[["jid", "iid", "date", "own"]].itertuples(index=False)
    }
    lost = sum(stored.get((jur[c], d, ids[ind])) != v for (c, d, ind), v in ledger.own.items())
    expected_root: dict[tuple[int, date], float] = {}
    for (_, d, ind), v in ledger.own.items():
        expected_root[(ids[ind], d)] = expected_root.get((ids[ind], d), 0.0) + v
    root["date"] = pd.to_datetime(root["date"]).dt.date
    got_root = {(int(i), d): float(v) for i, d, v in root.itertuples(index=False)}
    wrong_root = sum(
        abs(got_root.get(k, np.nan) - v) > 1e-9 or np.isnan(got_root.get(k, np.nan)) for k, v in expected_root.items()
    )
    return {
        "lost": lost,
        "submissions_stored": submissions,
        "submissions_acknowledged": len(ledger.accepted_keys),
        "duplicated": max(0, submissions - len(ledger.accepted_keys)) + duplicate_revisions,
        "rollup_mismatches": mismatches,
        "wrong_country_figures": wrong_root,
    }


def insert_ceiling(store: Store, writers: int, seconds: float) -> float:
    """Commits per second of ``writers`` threads each inserting three plain rows per transaction."""
    with store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_plain (writer INTEGER, n INTEGER, indicator TEXT, value REAL)"))
    stop_at = time.monotonic() + seconds
    counts = [0] * writers

    def write(w: int) -> None:
        while time.monotonic() < stop_at:
            with store.engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO bench_plain VALUES (:w, :n, :i, :v)"),
                    [{"w": w, "n": counts[w], "i": ind, "v": 1.0} for ind in INDICATORS],
                )
            counts[w] += 1

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / seconds


def run(backend: str, reporters: int, minutes: float, ceiling_seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, fresh_store(backend, Path(tmp) / "accord.db") as store:
        communities, tokens, coordinator = build(store, reporters)
        say(f"{backend}: {reporters} reporters for {minutes:g} min ...")
        with Server(store.url, Path(tmp), {"ACCORD_ROLLUP_CHECK_MINUTES": "0"}) as server:
            t0 = time.perf_counter()
            ledger = asyncio.run(drive(server.base, communities, tokens, coordinator, minutes * 60))
            elapsed = time.perf_counter() - t0
        found = audit(store, ledger)
        say(f"{backend}: plain INSERT ceiling, {reporters} writers for {ceiling_seconds:g} s ...")
        ceiling = insert_ceiling(store, min(reporters, 40), ceiling_seconds)
    ms = np.asarray(ledger.latencies_ms)
    throughput = len(ledger.accepted_keys) / elapsed
    return {
        "backend": backend,
        "reporters": reporters,
        "seconds": elapsed,
        "reports_accepted": len(ledger.accepted_keys),
        "reports_per_s": throughput,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "busy_503": ledger.busy,
        "answers_lost_and_retried": ledger.lost_answers,
        "refused": len(ledger.refused),
        "refused_examples": ledger.refused[:3],
        "approvals": ledger.approvals,
        "plain_insert_commits_per_s": ceiling,
        "ratio_to_plain_insert": throughput / ceiling,
        **found,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--reporters", type=int, help="default: 200 on PostgreSQL, 50 on SQLite")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--ceiling-seconds", type=float, default=30.0)
    args = parser.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    results = [
        run(b, args.reporters or (200 if b == "postgresql" else 50), args.minutes, args.ceiling_seconds)
        for b in backends
    ]
    print_table(
        "Concurrent reporters through the HTTP API, then an audit of the store",
        [
            "backend",
            "reporters",
            "reports/s",
            "p50 ms",
            "p99 ms",
            "503s",
            "lost",
            "duplicated",
            "wrong roll-ups",
            "plain INSERT/s",
            "ratio",
        ],
        [
            [
                r["backend"],
                r["reporters"],
                r["reports_per_s"],
                r["p50_ms"],
                r["p99_ms"],
                r["busy_503"],
                r["lost"],
                r["duplicated"],
                r["rollup_mismatches"] + r["wrong_country_figures"],
                r["plain_insert_commits_per_s"],
                r["ratio_to_plain_insert"],
            ]
            for r in results
        ],
    )
    for r in results:
        if r["refused"]:
            say(f"{r['backend']}: {r['refused']} report(s) refused, e.g. {r['refused_examples']}")
    write_results("concurrent_reporters", {"runs": results})


if __name__ == "__main__":
    main()
