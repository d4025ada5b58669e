"""Tracing at scale: 1 million persons, 3 million contacts, 100,000 cases.

Measured, in one process, on a fresh store:

1. bulk load (persons with AES-GCM identities and HMAC identifier hashes through the service's bulk path; cases
   and contacts by COPY / executemany) and the derivation of every person's quarantine end and case status;
2. today's follow-up tasks for all communities (``service.generate_followups``) and the escalation pass;
3. all clusters: ``service.chain_set`` (SQL read + ``scipy.sparse.csgraph.connected_components``) on the case
   graph, and the connected components of the whole contact graph (1M nodes, 3M edges) with scipy beside
   ``networkx.connected_components`` on the same edges (ratio printed; networkx graph build timed apart);
4. a worker's task list over a real HTTP server (uvicorn in a thread, one keep-alive httpx client, tokens of
   tracers of random communities): p50/p95/p99 of the JSON API and of the phone page.

Peak RSS of the process is reported. The machine is shared: the load average is recorded with the results.

    uv run python benchmarks/tracing_scale.py                       # full size, SQLite
    uv run python benchmarks/tracing_scale.py --backend postgresql  # the same on PostgreSQL
    uv run python benchmarks/tracing_scale.py --persons 100000 --contacts 300000 --cases 10000   # quick
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import networkx as nx
import numpy as np
import pandas as pd
import uvicorn
from sqlalchemy import text

import accord.app
from accord.auth import service as auth
from accord.auth.roles import SYSTEM
from accord.db import db_timestamp, transaction
from accord.places import service as places
from accord.settings import Settings
from accord.surveillance import store
from accord.tracing import chain_sets, chains, linelist_import, person_status, worklists
from common import (
    fresh_store,
    machine,
    open_store,
    peak_rss_mib,
    print_table,
    say,
    synthetic_tree,
    timed,
    write_results,
)

TODAY = dt.date(2026, 3, 1)
NOW = dt.datetime(2026, 3, 1, 6, tzinfo=dt.UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=3_000_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--communities", type=int, default=4_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-networkx", action="store_true", help="leave out the networkx comparison")
    parser.add_argument("--keep", type=Path, help="keep the SQLite store at this path (to rerun stages with --reuse)")
    parser.add_argument("--reuse", action="store_true", help="with --keep: the store is loaded already; skip loading")
    parser.add_argument("--small", action="store_true", help="a tenth of the size (run_all --small)")
    args = parser.parse_args()
    if args.small:
        args.persons, args.contacts, args.cases, args.communities = 100_000, 300_000, 10_000, 400
    name = f"tracing_scale_{args.backend}"
    results: dict[str, Any] = {"size": {k: str(v) for k, v in vars(args).items()}, "machine_at_start": machine()}
    tree = synthetic_tree(8, 10, args.communities, seed=args.seed)
    communities = tree.loc[tree["level"] == "community", "code"].to_numpy()
    with tempfile.TemporaryDirectory() as tmp, _store(args, Path(tmp)) as st:
        if not args.reuse:
            with transaction(st.sessions) as s:
                places.import_places(s, tree)
            results["load"] = load(st.sessions, args, communities)
            write_results(name, results)  # each stage is on disk before the next starts
        results["tasks"] = generate(st.sessions)
        results["clusters"] = clusters(st.sessions, args)
        write_results(name, results)
        results["http"] = serve(st.url, st.sessions, communities, args)
        results["store_mib"] = round(st.size_mib(), 1)
    results["peak_rss_mib"] = round(peak_rss_mib(), 1)
    results["machine_at_end"] = machine()
    report(results)
    write_results(name, results)


def _store(args: argparse.Namespace, tmp: Path) -> Any:
    if args.reuse:
        if args.keep is None or not args.keep.exists():
            raise SystemExit("--reuse needs --keep PATH of a store loaded before")
        return contextlib.nullcontext(open_store(f"sqlite:///{args.keep}"))
    if args.keep is not None:
        return fresh_store("sqlite", args.keep, keep=True)
    return fresh_store(args.backend, tmp / "tracing.db")


# ---------------------------------------------------------------------------------------------- load
def load(sessions: Any, args: argparse.Namespace, communities: np.ndarray) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed)
    n, m, k = args.persons, args.contacts, args.cases
    out: dict[str, Any] = {}
    with transaction(sessions) as s:
        index = places.load_index(s)
        home = rng.integers(0, len(communities), n)
        residence = np.array([index.by_code[c] for c in communities], dtype=np.int64)[home]
        frame = pd.DataFrame(
            {
                "case_id": np.arange(n).astype(str),
                "name": "Person " + pd.Series(np.arange(n)).astype(str),
                "phone": "+86 13" + pd.Series(rng.integers(0, 10**9, n)).astype(str).str.zfill(9),
                "national_id": "",
                "address": "",
                "sex": "",
                "age": "",
            }
        )
        with timed() as t:
            pid = linelist_import.bulk_persons(s, frame, residence, "bench", NOW)
        out["persons_s"] = round(t["seconds"], 2)
        say(f"{n:,} persons with encrypted identities and identifier hashes: {t['seconds']:.1f} s")
        name = store.dialect(s)
        ts = db_timestamp(NOW, name)
        case_idx = rng.choice(n, size=k, replace=False)
        confirmed = pd.Timestamp(TODAY) - pd.to_timedelta(rng.integers(0, 40, k), unit="D")
        with timed() as t:
            store.insert_rows(
                s,
                "tracing_case",
                [
                    "person_id",
                    "classification",
                    "onset_date",
                    "report_date",
                    "confirmation_date",
                    "origin",
                    "residence_id",
                    "created_at",
                    "updated_at",
                ],
                [
                    (int(pid[i]), "confirmed", d, d, d, "local", int(residence[i]), ts, ts)
                    for i, d in zip(case_idx, store.to_db_dates(pd.Series(confirmed), name), strict=True)
                ],
            )
            # contacts: exposed to a case (mostly of their own community), over the last 60 days
            src = case_idx[rng.integers(0, k, m)]
            same = rng.random(m) < 0.8
            dst = np.where(same, _neighbour(rng, home, src, len(communities)), rng.integers(0, n, m))
            dst = np.where(dst == src, (dst + 1) % n, dst)
            last = store.to_db_dates(
                pd.Series(pd.Timestamp(TODAY) - pd.to_timedelta(rng.integers(0, 60, m), unit="D")), name
            )
            settings_ = np.array(["household", "work", "transport", "social"], dtype=object)[rng.integers(0, 4, m)]
            infector = rng.random(m) < 0.02
            store.insert_rows(
                s,
                "tracing_contact",
                ["source_id", "contact_id", "first_exposure", "last_exposure", "setting", "infector", "created_at"],
                list(
                    zip(
                        pid[src].tolist(),
                        pid[dst].tolist(),
                        last,
                        last,
                        settings_.tolist(),
                        infector.tolist(),
                        [ts] * m,
                        strict=True,
                    )
                ),
            )
        out["cases_contacts_s"] = round(t["seconds"], 2)
        say(f"{k:,} cases and {m:,} contacts: {t['seconds']:.1f} s")
        with timed() as t:
            changed = person_status.refresh_persons(s, None, NOW)
        out["derive_s"] = round(t["seconds"], 2)
        out["persons_in_quarantine_or_cases"] = changed
        say(f"quarantine ends and case status of all persons ({changed:,} changed): {t['seconds']:.1f} s")
    return out


def _neighbour(rng: np.random.Generator, home: np.ndarray, src: np.ndarray, communities: int) -> np.ndarray:
    """A random person of the same community as each source (persons sorted by community once)."""
    order = np.argsort(home, kind="stable")
    starts = np.searchsorted(home[order], np.arange(communities + 1))
    c = home[src]
    size = np.maximum(starts[c + 1] - starts[c], 1)
    return np.asarray(order[np.minimum(starts[c] + (rng.random(len(src)) * size).astype(np.int64), len(home) - 1)])


# ---------------------------------------------------------------------------------------------- tasks
def generate(sessions: Any) -> dict[str, Any]:
    with transaction(sessions) as s:  # a rerun on a kept store measures generation from scratch again
        s.execute(text("DELETE FROM tracing_task"))
    with transaction(sessions) as s, timed() as t:
        added = worklists.generate_followups(s, TODAY, NOW)
    say(f"today's follow-ups for all communities: {added:,} tasks in {t['seconds']:.2f} s")
    with transaction(sessions) as s, timed() as t2:
        again = worklists.generate_followups(s, TODAY, NOW)
    with transaction(sessions) as s, timed() as t3:
        escalated = worklists.escalate_overdue(s, TODAY + dt.timedelta(days=2), NOW, grace_days=1)
    return {
        "followups": added,
        "generate_s": round(t["seconds"], 2),
        "second_run_added": again,
        "second_run_s": round(t2["seconds"], 2),
        "escalated_two_days_later": escalated,
        "escalate_s": round(t3["seconds"], 2),
    }


# -------------------------------------------------------------------------------------------- clusters
def clusters(sessions: Any, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with transaction(sessions) as s, timed() as t:
        cs = chain_sets.chain_set(s, "BX")
        stats = chain_sets.chain_statistics(cs)
    out.update(
        case_graph_s=round(t["seconds"], 2),
        case_nodes=len(cs.nodes),
        case_edges=len(cs.edges),
        clusters=len(cs.clusters),
        largest=int(cs.clusters["size"].max()) if len(cs.clusters) else 0,
        dispersion_k=stats["offspring"]["k"] if stats["offspring"] else None,
    )
    say(f"clusters of the case graph ({len(cs.nodes):,} cases, {len(cs.edges):,} links): {t['seconds']:.2f} s")
    with transaction(sessions) as s:
        edges = store.read_frame(s, "SELECT source_id, contact_id FROM tracing_contact")
    src, dst = edges["source_id"].to_numpy(np.int64) - 1, edges["contact_id"].to_numpy(np.int64) - 1
    n = int(max(src.max(), dst.max()) + 1)
    del edges
    gc.collect()
    with timed() as t:
        labels = chains.components(n, src, dst)
    ours = int(labels.max() + 1)
    out.update(full_graph_nodes=n, full_graph_edges=len(src), scipy_s=round(t["seconds"], 3), components=ours)
    say(f"components of the whole contact graph with scipy: {ours:,} in {t['seconds']:.3f} s")
    if not args.skip_networkx:
        with timed() as tb:
            g = nx.Graph()
            g.add_nodes_from(range(n))
            g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
        with timed() as tc:
            theirs = sum(1 for _ in nx.connected_components(g))
        del g
        gc.collect()
        assert theirs == ours, (theirs, ours)
        out.update(
            networkx_build_s=round(tb["seconds"], 2),
            networkx_components_s=round(tc["seconds"], 2),
            ratio_components=round(tc["seconds"] / t["seconds"], 1),
            ratio_with_build=round((tb["seconds"] + tc["seconds"]) / t["seconds"], 1),
        )
        say(
            f"networkx: build {tb['seconds']:.1f} s, components {tc['seconds']:.2f} s "
            f"({out['ratio_components']}x scipy; {out['ratio_with_build']}x with the build)"
        )
    return out


# ------------------------------------------------------------------------------------------------ http
def serve(url: str, sessions: Any, communities: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    rng = np.random.default_rng(args.seed + 1)
    picked = rng.choice(communities, size=min(50, len(communities)), replace=False)
    tokens = []
    with transaction(sessions) as s:
        known = {u.username for u in auth.list_users(s)}
        for code in picked:
            if f"tracer-{code}" not in known:
                auth.add_user(s, f"tracer-{code}", "tracer", str(code))
            tokens.append(auth.issue_token(s, f"tracer-{code}"))
    app = accord.app.create_app(Settings(database_url=url))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    out: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for label, path in (("api", f"/api/v1/tracing/tasks?day={TODAY}"), ("page", f"/tracing/tasks?day={TODAY}")):
                for tok in tokens[:5]:  # warm-up
                    client.get(path, headers={"Authorization": f"Bearer {tok}"}).raise_for_status()
                times, sizes, wire = [], [], []
                for i in range(args.requests):
                    t0 = time.perf_counter()
                    r = client.get(path, headers={"Authorization": f"Bearer {tokens[i % len(tokens)]}"})
                    times.append((time.perf_counter() - t0) * 1000)
                    r.raise_for_status()
                    sizes.append(len(r.content))
                    wire.append(r.num_bytes_downloaded)
                arr = np.array(times)
                out[label] = {f"p{q}_ms": round(float(np.percentile(arr, q)), 1) for q in (50, 95, 99)}
                out[label]["mean_bytes"] = int(np.mean(sizes))
                out[label]["mean_wire_bytes"] = int(np.mean(wire))
                say(
                    f"{label} task list: p50 {out[label]['p50_ms']} ms, p99 {out[label]['p99_ms']} ms, "
                    f"{out[label]['mean_bytes']:,} bytes ({out[label]['mean_wire_bytes']:,} on the wire)"
                )
        with transaction(sessions) as s:
            rows = worklists.task_list(s, SYSTEM, TODAY, scope_code=str(picked[0]))
        out["tasks_per_worker_example"] = len(rows)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def report(results: dict[str, Any]) -> None:
    tasks, cl, http = results["tasks"], results["clusters"], results["http"]
    rows = []
    if "load" in results:
        load = results["load"]
        rows += [
            ["load persons (encrypt + hash)", f"{load['persons_s']} s"],
            ["load cases + contacts", f"{load['cases_contacts_s']} s"],
            ["derive quarantine / status", f"{load['derive_s']} s"],
        ]
    rows += [
        [f"today's follow-ups ({tasks['followups']:,})", f"{tasks['generate_s']} s"],
        ["escalation pass", f"{tasks['escalate_s']} s"],
        [f"clusters of the case graph ({cl['clusters']:,})", f"{cl['case_graph_s']} s"],
        [f"components, full graph, scipy ({cl['full_graph_edges']:,} edges)", f"{cl['scipy_s']} s"],
    ]
    if "networkx_components_s" in cl:
        rows.append(
            [
                "components, full graph, networkx",
                f"{cl['networkx_components_s']} s (x{cl['ratio_components']}; build {cl['networkx_build_s']} s)",
            ]
        )
    rows += [
        [f"task list {k} p50 / p95 / p99", f"{v['p50_ms']} / {v['p95_ms']} / {v['p99_ms']} ms"]
        for k, v in http.items()
        if isinstance(v, dict)
    ]
    rows += [
        ["peak RSS", f"{results['peak_rss_mib']} MiB"],
        ["store", f"{results['store_mib']} MiB"],
        [
            "load average (start -> end)",
            f"{results['machine_at_start']['load_average_1_5_15']} -> "
            f"{results['machine_at_end']['load_average_1_5_15']}",
        ],
    ]
    print_table("tracing at scale", ["what", "result"], rows)


if __name__ == "__main__":
    os.environ.setdefault("ACCORD_ENVIRONMENT", "development")
    main()
