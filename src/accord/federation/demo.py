"""The federation in the demo.

``extend(ctx)`` (the single-instance demo) gives the demo country its signing key, so it can join a hub.
``run_federation_demo(console, ...)`` builds a small federation: a world hub and two countries, each its own
SQLite store and its own HTTP server on a loopback port, exchanging signed packages, a correction travelling as
a revision, the international pool matching a need with an offer around an export ban, and a shared document.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from accord import migrate
from accord.auth.roles import SYSTEM
from accord.db import make_engine, session_factory, transaction, utcnow
from accord.demo.context import DemoContext
from accord.federation import delivery, hub, identity, outbox, peers
from accord.federation.keys import FederationSettings
from accord.places import service as places
from accord.settings import Environment, Settings
from accord.surveillance import service as surveillance

PLACE_COLUMNS = ["code", "name", "local_name", "level", "parent_code", "population"]
COUNTRIES = {"AV": "Avalon", "BO": "Borealis"}


def extend(ctx: DemoContext) -> list[str]:
    """Give the demo country its instance signing key (encrypted with ACCORD_FEDERATION_KEK)."""
    kek = FederationSettings().kek_bytes(str(ctx.settings.environment))
    with transaction(ctx.sessions) as s:
        row = identity.init_identity(s, ctx.root, kek, ctx.now)
    return [f"federation: {ctx.root} signs its packages with key {row.key_id} (accord federation identity)"]


@dataclass
class _Instance:
    code: str
    sessions: sessionmaker[Session]
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(code: str, name: str, rng: np.random.Generator) -> pd.DataFrame:
    rows = [(code, name, "", "country", "", 0)]
    for p in range(1, 4):
        prov = f"{code}-{p:02d}"
        rows.append((prov, f"{name} province {p}", "", "province", code, 0))
        for c in range(1, 5):
            rows.append(
                (f"{prov}-{c:02d}", f"{name} city {p}.{c}", "", "city", prov, int(rng.integers(100_000, 2_000_000)))
            )
    return pd.DataFrame(rows, columns=PLACE_COLUMNS)


def _store(path: Path, tree: pd.DataFrame) -> sessionmaker[Session]:
    if path.exists():
        path.unlink()
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        surveillance.seed_indicators(s)
        places.import_places(s, tree)
    return sessions


def _serve(code: str, sessions: sessionmaker[Session], path: Path) -> _Instance:
    from accord.app import create_app

    port = _free_port()
    settings = Settings(environment=Environment.DEVELOPMENT, database_url=f"sqlite:///{path}", auto_publish_hours=0)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True, name=f"accord-{code}")
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return _Instance(code, sessions, f"http://127.0.0.1:{port}", server, thread)


def _report(sessions: sessionmaker[Session], tree: pd.DataFrame, start: dt.date, days: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cities = tree[tree["level"] == "city"]
    dates = pd.date_range(start, periods=days, freq="D")
    growth = np.exp(np.linspace(0, rng.uniform(1.0, 2.5), days))
    rows = []
    for code, pop in zip(cities["code"], cities["population"], strict=True):
        cases = rng.poisson(pop / 2e5 * growth)
        deaths = rng.binomial(cases, 0.02)
        rows += [(code, d, "new_confirmed", float(c)) for d, c in zip(dates, cases, strict=True)]
        rows += [(code, d, "new_deaths", float(x)) for d, x in zip(dates, deaths, strict=True)]
    frame = pd.DataFrame(rows, columns=["jurisdiction", "date", "indicator", "value"])
    with transaction(sessions) as s:
        surveillance.submit(s, frame, actor=SYSTEM, source="demo")
        for code in cities["code"]:
            surveillance.approve(s, SYSTEM, code, [d.date() for d in dates])


def run_federation_demo(
    console: Console,
    *,
    days: int = 14,
    seed: int = 7,
    workdir: Path | None = None,
    serve_seconds: float = 0.0,
) -> dict[str, Any]:
    """Build and run a three-instance federation; returns a summary (and prints it)."""
    from accord.settings import get_settings

    workdir = workdir or get_settings().data_dir / "federation-demo"
    workdir.mkdir(parents=True, exist_ok=True)
    kek = FederationSettings().kek_bytes("development")
    rng = np.random.default_rng(seed)
    start = (utcnow() - dt.timedelta(days=days + 1)).date()
    end = start + dt.timedelta(days=days - 1)
    world = pd.DataFrame([("WORLD", "World", "", "world", "", None)], columns=PLACE_COLUMNS)
    stores = {"WORLD": _store(workdir / "hub.db", world)}
    trees = {code: _tree(code, name, rng) for code, name in COUNTRIES.items()}
    for code, tree in trees.items():
        stores[code] = _store(workdir / f"{code.lower()}.db", tree)
        _report(stores[code], tree, start, days, seed + len(code) + ord(code[0]))
    console.print(f"[bold]federation demo[/] in {workdir}: hub WORLD, members {', '.join(COUNTRIES)}")
    instances = {
        code: _serve(code, stores[code], workdir / f"{'hub' if code == 'WORLD' else code.lower()}.db")
        for code in stores
    }
    hub_url = instances["WORLD"].url
    try:
        _link(stores, {code: inst.url for code, inst in instances.items()}, kek)
        with httpx.Client(timeout=60) as client:
            _exchange_packages(console, stores, client, kek, trees["AV"]["code"].iloc[2], start, end)
            run = _pool(stores, client, kek, end)
            _share_document(stores, client, kek)
        summary = _summary(console, stores["WORLD"], run)
        if serve_seconds > 0:
            console.print(f"hub pages: {hub_url}/public/WORLD  ·  {hub_url}/public/federation")
            console.print(f"serving for {serve_seconds:.0f} s (Ctrl-C to stop)")
            time.sleep(serve_seconds)
        else:
            console.print(f"the three stores stay in {workdir} (serve one with ACCORD_DATABASE_URL=sqlite:///...)")
        return summary
    finally:
        for inst in instances.values():
            inst.server.should_exit = True
        for inst in instances.values():
            inst.thread.join(timeout=10)
        for sessions in stores.values():
            sessions.kw["bind"].dispose()


def _link(stores: dict[str, sessionmaker[Session]], urls: dict[str, str], kek: bytes) -> None:
    """Give every instance its identity and register each member with the hub (and the hub with it); Cerulea
    is a member without an instance yet (the hub posts for it)."""
    with transaction(stores["WORLD"]) as s:
        hub_key = identity.init_identity(s, "WORLD", kek).public_key
    for code, name in COUNTRIES.items():
        with transaction(stores[code]) as s:
            me = identity.init_identity(s, code, kek)
            # the hub's key: it signs its reads of this country's outbox
            peers.add_peer(s, "WORLD", "parent", url=urls["WORLD"], public_key=hub_key, config={"depth": 1})
        with transaction(stores["WORLD"]) as s:
            peers.add_peer(
                s,
                code,
                "child",
                public_key=me.public_key,
                name=name,
                url=urls[code],
                vulnerability=0.7 if code == "BO" else 0.2,
            )
    with transaction(stores["WORLD"]) as s:
        peers.add_peer(s, "CE", "child", name="Cerulea (no instance yet)", vulnerability=0.9)


def _exchange_packages(
    console: Console,
    stores: dict[str, sessionmaker[Session]],
    client: httpx.Client,
    kek: bytes,
    corrected_city: str,
    start: dt.date,
    end: dt.date,
) -> None:
    """Every member cuts a package and pushes it to the hub; then a correction at Avalon travels as a revision,
    pulled by the hub."""
    for code in COUNTRIES:
        with transaction(stores[code]) as s:
            outbox.cut_package(s, kek, start, end)
        for r in delivery.push_pending(stores[code], client, kek=kek):
            console.print(
                f"  {code} -> WORLD: package {r['sequence']} {r['status']}, "
                f"{r['result']['new']:,} values, {r['transfer']['bytes']:,} bytes"
            )
    frame = pd.DataFrame(
        [(corrected_city, end, "new_confirmed", 0.0, "duplicate records removed")],
        columns=["jurisdiction", "date", "indicator", "value", "reason"],
    )
    with transaction(stores["AV"]) as s:
        surveillance.submit(s, frame, actor=SYSTEM, source="demo correction")
        outbox.cut_package(s, kek, start, end)
    for r in delivery.pull_member(stores["WORLD"], client, "AV", max_skew_seconds=300, kek=kek):
        console.print(f"  WORLD pulled AV package {r['sequence']}: {r['status']}, {r['result']['revised']} revised")


def _pool(stores: dict[str, sessionmaker[Session]], client: httpx.Client, kek: bytes, end: dt.date) -> dict[str, Any]:
    """The pool: Borealis and Cerulea need ventilators, Avalon offers them but not to Cerulea; the hub runs the
    pool and both sides of every proposed shipment accept it."""
    day = (end + dt.timedelta(days=10)).isoformat()
    need = {"kind": "need", "resource": "ventilators", "quantity": 40, "day": day}
    delivery.send_signed(stores["BO"], client, kek, "/pool/posts", need)
    with transaction(stores["WORLD"]) as s:
        hub.post(s, {"kind": "need", "resource": "ventilators", "quantity": 60, "day": day}, "CE")
        donated = {"kind": "offer", "resource": "ventilators", "quantity": 25, "day": end.isoformat()}
        hub.post(s, {**donated, "donor": "Twin city of Lyra"}, "BO")
    offer = {"kind": "offer", "resource": "ventilators", "quantity": 80, "day": end.isoformat()}
    delivery.send_signed(stores["AV"], client, kek, "/pool/posts", offer)
    rule = {"resource": "ventilators", "destination": "CE"}
    delivery.send_signed(stores["AV"], client, kek, "/pool/export-rules", rule)
    with transaction(stores["WORLD"]) as s:
        run = hub.run_pool(s, end, 20)
        proposed = hub.shipments_frame(s, status="proposed")
    for sid, origin, dest in zip(proposed["id"], proposed["origin"], proposed["destination"], strict=True):
        for side in {origin, dest} & set(COUNTRIES):
            delivery.send_signed(stores[side], client, kek, "/pool/answers", {"shipment_id": int(sid), "accept": True})
        if "CE" in (origin, dest):
            with transaction(stores["WORLD"]) as s:
                hub.answer(s, int(sid), "CE", True)
    return run


def _share_document(stores: dict[str, sessionmaker[Session]], client: httpx.Client, kek: bytes) -> None:
    """Avalon registers a protocol and shares its documents with the hub."""
    document = {
        "kind": "protocol",
        "title": "Ventilator triage protocol",
        "language": "en",
        "licence": "CC-BY-4.0",
        "url": "https://example.org/av/triage",
    }
    with transaction(stores["AV"]) as s:
        hub.register_document(s, document, "AV")
        docs = hub.local_documents(s)
    delivery.send_signed(stores["AV"], client, kek, "/documents", {"documents": docs})


def _summary(console: Console, hub_sessions: sessionmaker[Session], run: dict[str, Any]) -> dict[str, Any]:
    fed = FederationSettings()
    with transaction(hub_sessions) as s:
        members = peers.member_status(s, utcnow(), fed.silent_after_hours)
        world = surveillance.series(s, "WORLD", "new_confirmed")
        shipments = hub.shipments_frame(s)
    table = Table("member", "state", "packages applied", "refused", title="members of WORLD")
    for m in members.to_dict(orient="records"):
        table.add_row(str(m["member"]), str(m["state"]), str(m["applied"]), str(m["refused"]))
    console.print(table)
    ships = Table("from", "to", "resource", "quantity", "arrives", "status", title=f"pool run {run['run_id']}")
    for sh in shipments.to_dict(orient="records"):
        ships.add_row(*(str(sh[c]) for c in ("origin", "destination", "resource", "quantity", "arrive_day", "status")))
    console.print(ships)
    total = float(world["value"].sum())
    console.print(
        f"WORLD: {total:,.0f} confirmed cases over {len(world)} days, from {len(members) - 1} reporting "
        "members (the hub's dashboard, bulletin and WHO export read the same figures)"
    )
    return {
        "members": members.to_dict(orient="records"),
        "world_confirmed": total,
        "shipments": shipments.to_dict(orient="records"),
    }
