"""Federation at scale: a country's year of daily data pushed to a hub; the international pool solved.

1. **Push.** A country instance (``BX``: provinces -> cities -> ``--regions`` communities) sends its leaf-level
   figures for ``--days`` days (9 values per region-day, see ``common.SERIES``) to a hub (``WORLD``) served by
   uvicorn on a loopback port. Measured: package size; time to build it (Parquet + Ed25519 signature); time to
   transfer it (content-addressed 4 MiB chunks over HTTP); time for the hub to verify and apply it through the
   ordinary submission service (validation, revisions, roll-up to every ancestor up to WORLD, publication);
   the hub's apply throughput. Beside it, the peer format: the same rows as a gzip'd long CSV (what a DHIS2-like
   data value set export would ship), size and time to write.
2. **Pool.** ``--countries`` members x ``--resources`` resources x ``--pool-days`` days of random needs and
   offers (a third of the members offer), export bans on 5% of (member, resource, destination), green channels,
   sales and donations, vulnerability index; solved by the network solver (OR-Tools min-cost flow, one problem
   per resource) and, as the peer, by the HiGHS LP on the same arcs.

    uv run python benchmarks/federation_push.py                    # 1,000 regions x 365 days (3.3M values)
    uv run python benchmarks/federation_push.py --regions 3000     # the issue's size (9.9M with 9 series)
    uv run python benchmarks/federation_push.py --small            # smoke check
"""

from __future__ import annotations

import argparse
import gzip
import io
import socket
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import uvicorn

from accord.app import create_app
from accord.db import transaction
from accord.federation import identity, keys, package, peers, pool, transport
from accord.federation.keys import DEV_KEK
from accord.places import service as places
from accord.resources import optimiser
from accord.settings import Settings
from common import (
    fresh_store,
    observation_frame,
    peak_rss_mib,
    print_table,
    say,
    synthetic_tree,
    synthetic_values,
    timed,
    write_results,
)

KEK = DEV_KEK.encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def country_frame(regions: int, days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    tree = synthetic_tree(10, 20, regions)
    leaves = tree[tree["level"] == "community"]
    dates = pd.date_range("2025-01-01", periods=days, freq="D")
    values = synthetic_values(leaves["population"].to_numpy(dtype=float), days)
    frame = observation_frame(leaves["code"].to_numpy(dtype=object), dates, values).assign(reason="")
    return frame, tree


def bench_push(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with timed() as t_gen:
        frame, tree = country_frame(args.regions, args.days)
    say(f"generated {len(frame):,} values for {args.regions:,} regions x {args.days} days")
    key = keys.generate()
    with timed() as t_build:
        built = package.build(
            frame,
            tree.assign(parent_code=tree["parent_code"].fillna("")),
            key=key,
            sender="BX",
            receiver="WORLD",
            subtree="BX",
            start=date(2025, 1, 1),
            end=date(2025, 1, 1) + pd.Timedelta(days=args.days - 1),
            indicators=sorted(set(frame["indicator"].unique())),
            sequence=1,
            previous_id=None,
            revises=[],
            created_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
            link=package.LinkConfig(depth=3, view="public"),
        )
    with timed() as t_csv:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as gz:
            gz.write(frame.to_csv(index=False).encode())
        csv_size = len(buf.getvalue())
    say(
        f"package {len(built.payload) / 2**20:.1f} MiB in {t_build['seconds']:.1f} s; "
        f"gzip CSV {csv_size / 2**20:.1f} MiB"
    )
    del frame

    with fresh_store(args.backend, tmp / "hub.db") as hub:
        with transaction(hub.sessions) as s:
            places.import_places(
                s,
                pd.DataFrame(
                    [("WORLD", "World", "", "world", "", None)],
                    columns=["code", "name", "local_name", "level", "parent_code", "population"],
                ),
            )
            identity.init_identity(s, "WORLD", KEK)
            peers.add_peer(s, "BX", "child", public_key=keys.public_text(key), name="Benchland")
        settings = Settings(database_url=hub.url, max_upload_bytes=4 * 2**30)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        chunk = 4 * 2**20
        hashes = package.chunk_hashes(built.payload, chunk)
        with httpx.Client(timeout=httpx.Timeout(3600.0, connect=10.0)) as client:
            with timed() as t_transfer:
                start = client.post(
                    f"{url}/api/v1/federation/uploads",
                    json={
                        "package_id": built.id,
                        "sender": "BX",
                        "size": len(built.payload),
                        "chunk_bytes": chunk,
                        "chunk_hashes": hashes,
                    },
                )
                assert start.status_code == 200, start.text
                for i in range(len(hashes)):
                    r = client.put(
                        f"{url}/api/v1/federation/uploads/{built.id}/chunks/{i}",
                        content=built.payload[i * chunk : (i + 1) * chunk],
                    )
                    assert r.status_code == 200, r.text
            say(f"transferred in {t_transfer['seconds']:.1f} s; applying")
            with timed() as t_apply:
                done = client.post(f"{url}/api/v1/federation/uploads/{built.id}/commit")
            assert done.status_code == 200, done.text[:2000]
            result = done.json()
            # a replay of the same package: verified, recognised, nothing applied
            with timed() as t_replay:
                replay = transport.push(client, url, built.manifest, built.payload, chunk_bytes=chunk)
            assert replay["status"] == "replay"
        server.should_exit = True
        thread.join(timeout=30)
        figures = hub.count("figure")
        observations = hub.count("observation")
    values = int(built.manifest["rows"])
    return {
        "regions": args.regions,
        "days": args.days,
        "values": values,
        "backend": args.backend,
        "package_bytes": len(built.payload),
        "gzip_csv_bytes": csv_size,
        "size_ratio_csv_over_package": csv_size / len(built.payload),
        "generate_seconds": t_gen["seconds"],
        "build_seconds": t_build["seconds"],
        "gzip_csv_seconds": t_csv["seconds"],
        "transfer_seconds": t_transfer["seconds"],
        "transfer_mib_per_s": len(built.payload) / 2**20 / t_transfer["seconds"],
        "apply_seconds": t_apply["seconds"],
        "apply_values_per_s": values / t_apply["seconds"],
        "replay_seconds": t_replay["seconds"],
        "hub_observations": observations,
        "hub_figures": figures,
        "applied": result["status"],
        "new": result["result"]["new"],
        "peak_rss_mib": peak_rss_mib(),
    }


def pool_problem(countries: int, resources: int, days: int, seed: int = 11) -> pool.PoolProblem:
    rng = np.random.default_rng(seed)
    members = [f"M{i:03d}" for i in range(countries)]
    names = [f"r{j:02d}" for j in range(resources)]
    offering = rng.random(countries) < 1 / 3
    needs, offers = [], []
    for i, m in enumerate(members):
        for r in names:
            if offering[i]:
                if rng.random() < 0.5:
                    q = float(rng.integers(500, 5000))
                    offers.append(
                        pool.Offer(
                            len(offers) + 1,
                            m,
                            r,
                            q,
                            int(rng.integers(0, days // 2)),
                            price=float(rng.choice([0.0, 0.0, 2.0, 5.0])),
                        )
                    )
            elif rng.random() < 0.4:
                for _ in range(2):
                    needs.append(pool.Need(m, r, float(rng.integers(100, 2000)), int(rng.integers(3, days))))
    bans = [
        pool.ExportBan(members[o], names[int(rng.integers(resources))], members[d])
        for o, d in zip(
            rng.integers(0, countries, countries * resources // 20),
            rng.integers(0, countries, countries * resources // 20),
            strict=True,
        )
    ]
    lanes = {(members[a], members[b]): 1 for a, b in rng.integers(0, countries, (countries, 2)) if a != b}
    vulnerability = dict(zip(members, rng.beta(2, 5, countries).round(3).tolist(), strict=True))
    return pool.PoolProblem(
        days=days, needs=needs, offers=offers, vulnerability=vulnerability, bans=bans, lanes=lanes, default_lead_days=4
    )


def bench_pool(args: argparse.Namespace) -> dict[str, Any]:
    problem = pool_problem(args.countries, args.resources, args.pool_days)
    with timed() as t_net:
        plan = pool.solve(problem, optimiser.Options(solver="network"))
    out: dict[str, Any] = {
        "countries": args.countries,
        "resources": args.resources,
        "days": args.pool_days,
        "needs": len(problem.needs),
        "offers": len(problem.offers),
        "bans": len(problem.bans),
        "arcs": plan.plan.model_size.get("arcs"),
        "network_seconds": t_net["seconds"],
        "network_solve_seconds": plan.plan.solve_seconds,
        "shipments": len(plan.shipments),
        "unmet_share": float(plan.unmet["unmet"].sum() / max(plan.unmet["need"].sum(), 1)),
        "objective": plan.plan.objective,
    }
    if not args.no_lp:
        with timed() as t_lp:
            lp = pool.solve(problem, optimiser.Options(solver="lp"))
        out |= {
            "lp_seconds": t_lp["seconds"],
            "lp_objective": lp.plan.objective,
            "lp_over_network": t_lp["seconds"] / t_net["seconds"],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--countries", type=int, default=200)
    parser.add_argument("--resources", type=int, default=20)
    parser.add_argument("--pool-days", type=int, default=30)
    parser.add_argument("--no-lp", action="store_true", help="skip the HiGHS LP peer run of the pool")
    parser.add_argument("--skip-push", action="store_true")
    parser.add_argument("--small", action="store_true", help="smoke check: 60 regions x 30 days, 20 countries")
    args = parser.parse_args()
    if args.small:
        args.regions, args.days, args.countries, args.resources, args.pool_days = 60, 30, 20, 5, 10
    results: dict[str, Any] = {}
    if not args.skip_push:
        with tempfile.TemporaryDirectory() as tmp:
            push = bench_push(args, Path(tmp))
        results["push"] = push
        print_table(
            "push: one country's daily data to the hub",
            ["values", "package MiB", "gzip CSV MiB", "build s", "CSV s", "transfer s", "apply s", "apply values/s"],
            [
                [
                    push["values"],
                    push["package_bytes"] / 2**20,
                    push["gzip_csv_bytes"] / 2**20,
                    push["build_seconds"],
                    push["gzip_csv_seconds"],
                    push["transfer_seconds"],
                    push["apply_seconds"],
                    push["apply_values_per_s"],
                ]
            ],
        )
        say(f"gzip CSV is {push['size_ratio_csv_over_package']:.2f}x the package's size")
    pool_result = bench_pool(args)
    results["pool"] = pool_result
    print_table(
        "international pool",
        ["countries x resources x days", "needs", "offers", "arcs", "network s", "LP s", "LP / network", "unmet"],
        [
            [
                f"{args.countries} x {args.resources} x {args.pool_days}",
                pool_result["needs"],
                pool_result["offers"],
                pool_result["arcs"],
                pool_result["network_seconds"],
                pool_result.get("lp_seconds", "-"),
                pool_result.get("lp_over_network", "-"),
                f"{pool_result['unmet_share']:.1%}",
            ]
        ],
    )
    default = (args.regions, args.days) == (1000, 365)
    suffix = "_small" if args.small else ("" if default else f"_{args.regions}x{args.days}")
    path = write_results("federation_push" + suffix, results)
    say(f"results in {path}")


if __name__ == "__main__":
    main()
