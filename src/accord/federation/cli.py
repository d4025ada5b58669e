"""``accord federation``: the federation capability from a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

import httpx
import typer
from rich.progress import Progress
from rich.table import Table

from accord import clikit, migrate
from accord.db import engine_from_settings, session_factory
from accord.federation import delivery, hub, pool_bookings, uploads
from accord.federation import identity as instance_identity
from accord.federation import inbox as package_inbox
from accord.federation import outbox as package_outbox
from accord.federation import peers as peer_links
from accord.federation.keys import FederationSettings

app = typer.Typer(
    help="Federation: instance identity, signed data packages, push and pull, the global hub and pool.",
    no_args_is_help=True,
)


def _kek() -> bytes:
    return FederationSettings().kek_bytes(str(clikit.settings().environment))


@contextmanager
def _sessions() -> Iterator[Any]:
    engine = engine_from_settings(clikit.settings())
    try:
        migrate.upgrade(engine)
        yield session_factory(engine)
    finally:
        engine.dispose()


def _client() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0))


def _print_json(value: Any) -> None:
    clikit.console.print_json(json.dumps(value, default=str))


@app.command("init")
def init(jurisdiction: Annotated[str, typer.Argument(help="the jurisdiction this instance speaks for")]) -> None:
    """Create this instance's signing key (encrypted with ACCORD_FEDERATION_KEK) for a jurisdiction."""
    with clikit.session_scope() as session:
        row = instance_identity.init_identity(session, jurisdiction, _kek())
        clikit.console.print(f"instance {row.jurisdiction}: key {row.key_id}\npublic key {row.public_key}")


@app.command("identity")
def identity() -> None:
    """Show the jurisdiction this instance speaks for and its public key (to give to a parent)."""
    with clikit.session_scope() as session:
        _print_json(instance_identity.identity(session))


@app.command("rotate-key")
def rotate_key(
    announce: Annotated[bool, typer.Option(help="send the rotation statement to every parent")] = True,
) -> None:
    """Retire the signing key for a new one; parents learn the new key from a statement signed by the old."""
    with clikit.session_scope() as session:
        statement = instance_identity.rotate_key(session, _kek())
    clikit.console.print(f"new key {statement['new_public_key']} (old {statement['old_key_id']} retired)")
    if announce:
        with _sessions() as sessions, _client() as client:
            done = delivery.announce_rotation(sessions, client, statement)
        clikit.console.print(f"announced to: {', '.join(done) or 'no parent with a URL'}")


@app.command("add-parent")
def add_parent(
    code: str,
    url: Annotated[str, typer.Option(help="base URL of the parent instance")],
    public_key: Annotated[
        str | None, typer.Option(help="the parent's public key (needed for it to pull: it signs its outbox reads)")
    ] = None,
    depth: Annotated[int, typer.Option(help="levels below this instance's root to send (0 = totals only)")] = 1,
    view: Annotated[str, typer.Option(help="public (approved figures) or all")] = "public",
    indicators: Annotated[str, typer.Option(help="comma-separated indicator codes (default: all)")] = "",
    suppress_below: Annotated[int, typer.Option(help="withhold counts 1..N-1 below the root (0 = off)")] = 0,
) -> None:
    """Register the parent instance this one reports to, and what goes up the link."""
    config = {
        "depth": depth,
        "view": view,
        "indicators": [c.strip() for c in indicators.split(",") if c.strip()] or None,
        "suppress_below": suppress_below,
    }
    with clikit.session_scope() as session:
        peer = peer_links.add_peer(session, code, "parent", public_key=public_key, url=url, config=config)
        clikit.console.print(f"parent {peer.code} at {peer.url}: {peer.config}")


@app.command("add-member")
def add_member(
    code: str,
    public_key: Annotated[str, typer.Option(help="the member's public key (accord federation identity)")],
    url: Annotated[str | None, typer.Option(help="its base URL (for pulling)")] = None,
    name: str = "",
    vulnerability: Annotated[float, typer.Option(help="0 (robust) .. 1 (most vulnerable health system)")] = 0.0,
) -> None:
    """Register a child instance (a member) that reports to this one."""
    with clikit.session_scope() as session:
        peer = peer_links.add_peer(
            session, code, "child", public_key=public_key, url=url, name=name, vulnerability=vulnerability
        )
        clikit.console.print(f"member {peer.code} registered")


@app.command("peers")
def peers() -> None:
    """Parents and members registered here."""
    with clikit.session_scope() as session:
        table = Table("role", "code", "name", "url", "keys", "last sequence")
        for p in peer_links.peers(session):
            active = [k.key_id for k in peer_links.peer_keys(session, p) if k.retired_at is None]
            table.add_row(p.role, p.code, p.name, p.url or "", ", ".join(active), str(p.last_sequence))
        clikit.console.print(table)


@app.command("cut")
def cut(
    start: Annotated[str, typer.Option("--from", help="first day (YYYY-MM-DD)")],
    end: Annotated[str, typer.Option("--to", help="last day (YYYY-MM-DD)")],
    parent: Annotated[str | None, typer.Option(help="the parent (if several)")] = None,
) -> None:
    """Cut and sign the next package for a parent (unchanged data reuses the last package)."""
    with clikit.session_scope() as session:
        row, new = package_outbox.cut_package(
            session, _kek(), clikit.parse_day(start), clikit.parse_day(end), parent_code=parent
        )
        what = "new" if new else "unchanged, reusing"
        clikit.console.print(
            f"{what} package {row.sequence} ({row.id[:12]}): {row.manifest['rows']:,} rows, {len(row.payload):,} bytes"
        )


@app.command("push")
def push(
    start: Annotated[str | None, typer.Option("--from", help="cut a package from this day first")] = None,
    end: Annotated[str | None, typer.Option("--to", help="... to this day")] = None,
    parent: Annotated[str | None, typer.Option(help="the parent (if several)")] = None,
    chunk_bytes: Annotated[int, typer.Option(help="upload chunk size")] = 0,
) -> None:
    """Deliver undelivered packages to the parent: resumable (content-addressed chunks), retried with backoff."""
    if start or end:
        if not (start and end):
            clikit.fail("give both --from and --to, or neither", 2)
        cut(str(start), str(end), parent)
    size = chunk_bytes or FederationSettings().chunk_bytes
    with _sessions() as sessions, _client() as client, Progress(console=clikit.err, transient=True) as bar:
        task = bar.add_task("uploading", total=None)
        results = delivery.push_pending(
            sessions,
            client,
            parent_code=parent,
            chunk_bytes=size,
            kek=_kek(),
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    for r in results:
        summary = r.get("result") or {}
        clikit.console.print(
            f"package {r.get('sequence', '?')} {str(r.get('package_id', ''))[:12]}: {r['status']}"
            + (f", {summary.get('new', 0)} new, {summary.get('revised', 0)} revised" if summary else "")
        )
    if not results:
        clikit.console.print("nothing to push")


@app.command("pull")
def pull(member: str) -> None:
    """Fetch a member's new packages from its outbox (ranged, resumable) and apply them."""
    with _sessions() as sessions, _client() as client:
        results = delivery.pull_member(
            sessions, client, member, max_skew_seconds=FederationSettings().max_clock_skew_seconds, kek=_kek()
        )
    for r in results:
        clikit.console.print(f"package {r.get('sequence')} {str(r.get('package_id'))[:12]}: {r['status']}")
    if not results:
        clikit.console.print(f"nothing new from {member}")


@app.command("members")
def members() -> None:
    """Members and their state: current, stale (nothing for ACCORD_FEDERATION_SILENT_AFTER_HOURS) or silent."""
    from accord.db import utcnow

    with clikit.session_scope() as session:
        frame = peer_links.member_status(session, utcnow(), FederationSettings().silent_after_hours)
    table = Table(*frame.columns)
    for row in frame.astype(str).itertuples(index=False):
        table.add_row(*row)
    clikit.console.print(table)


@app.command("inbox")
def inbox(sender: str | None = None, limit: int = 50) -> None:
    """What arrived and what became of it, newest first (repeated refusals: one line with a count)."""
    with clikit.session_scope() as session:
        table = Table("id", "sender", "seq", "status", "code", "times", "message")
        for e in package_inbox.inbox(session, sender, limit):
            times = str(package_inbox.attempts(e))
            table.add_row(str(e.id), e.sender, str(e.sequence or ""), e.status, e.code, times, e.message[:120])
        clikit.console.print(table)


@app.command("expire")
def expire(
    hours: Annotated[
        float | None,
        typer.Option(help="drop uploads untouched this long (default ACCORD_FEDERATION_UPLOAD_EXPIRY_HOURS)"),
    ] = None,
) -> None:
    """Drop abandoned uploads (and their chunks) and the nonces of requests that are stale anyway."""
    from accord.db import utcnow

    age = hours if hours is not None else FederationSettings().upload_expiry_hours
    with clikit.session_scope() as session:
        done = uploads.expire_uploads(session, utcnow(), age)
    clikit.console.print(
        f"dropped {done['uploads']} upload(s) untouched for {age:g} h ({done['chunks']} chunk(s)), "
        f"{done['nonces']} stale nonce(s)"
    )


@app.command("demo")
def demo(
    days: Annotated[int, typer.Option(help="days of reports per country")] = 14,
    seed: int = 7,
    serve_seconds: Annotated[float, typer.Option(help="keep the three servers up this long afterwards")] = 0.0,
) -> None:
    """A small federation: a hub and two countries, each its own store and HTTP server, exchanging packages."""
    from accord.federation.demo import run_federation_demo

    run_federation_demo(clikit.err, days=days, seed=seed, serve_seconds=serve_seconds)


pool_app = typer.Typer(
    help="International pool of emergency supplies: needs, offers, bans, runs, answers.", no_args_is_help=True
)
docs_app = typer.Typer(
    help="Shared technical documents: protocols, guidelines, genome accessions, datasets.", no_args_is_help=True
)
app.add_typer(pool_app, name="pool")
app.add_typer(docs_app, name="docs")


def _send(path: str, body: dict[str, Any], parent: str | None) -> dict[str, Any]:
    with _sessions() as sessions, _client() as client:
        return delivery.send_signed(sessions, client, _kek(), path, body, parent_code=parent)


@pool_app.command("post")
def pool_post(
    kind: Annotated[str, typer.Argument(help="need or offer")],
    resource: str,
    quantity: float,
    day: Annotated[str, typer.Option(help="needs: needed by; offers: available from (YYYY-MM-DD)")],
    price: Annotated[float, typer.Option(help="offers: price per unit (0 = donation)")] = 0.0,
    earmark: Annotated[str, typer.Option(help="offers: comma-separated destination members")] = "",
    donor: Annotated[str, typer.Option(help="a non-state donor offering through this member")] = "",
    member: Annotated[str | None, typer.Option(help="at the hub: post for this member directly")] = None,
    parent: Annotated[str | None, typer.Option(help="the hub (if several parents)")] = None,
) -> None:
    """Post a need or an offer to the hub (signed with this instance's key), or locally at the hub."""
    body = {
        "kind": kind,
        "resource": resource,
        "quantity": quantity,
        "day": clikit.parse_day(day).isoformat(),
        "price": price,
        "earmark": [c.strip() for c in earmark.split(",") if c.strip()] or None,
        "donor": donor,
    }
    if member:
        with clikit.session_scope() as session:
            row = hub.post(session, body, member)
            clikit.console.print(f"{row.kind} {row.id} of {row.member}: {row.quantity:g} {row.resource}")
        return
    answer = _send("/pool/posts", body, parent)
    clikit.console.print(f"{answer['kind']} {answer['id']} posted to the hub")


@pool_app.command("ban")
def pool_ban(
    resource: Annotated[str, typer.Argument(help="resource code, or * for all")],
    to: Annotated[str, typer.Option(help="destination member, or * for anywhere")] = "*",
    parent: str | None = None,
) -> None:
    """Tell the hub this member does not export a resource (to a destination, or at all)."""
    answer = _send("/pool/export-rules", {"resource": resource, "destination": to}, parent)
    clikit.console.print(f"export rule {answer['id']}: {answer['resource']} not to {answer['destination']}")


@pool_app.command("lane")
def pool_lane(origin: str, destination: str, lead_days: int) -> None:
    """At the hub: a green channel from origin to destination with a shorter lead time."""
    with clikit.session_scope() as session:
        hub.set_green_channel(session, origin, destination, lead_days)
    clikit.console.print(f"green channel {origin} -> {destination}: {lead_days} days")


@pool_app.command("run")
def pool_run(
    start: Annotated[str, typer.Option("--from", help="first day of the horizon")],
    days: Annotated[int, typer.Option(help="length of the horizon")] = 30,
    lead_days: Annotated[int, typer.Option(help="default lead time between members")] = 5,
) -> None:
    """At the hub: allocate open offers to open needs across members; proposals go to both sides."""
    with clikit.session_scope() as session:
        result = hub.run_pool(session, clikit.parse_day(start), days, default_lead_days=lead_days)
    clikit.console.print(
        f"run {result['run_id']}: {result['shipments']} shipments proposed for {result['needs']} needs "
        f"from {result['offers']} offers"
    )


@pool_app.command("shipments")
def pool_shipments(member: str | None = None, status: str | None = None) -> None:
    """Shipments the pool proposed (and their answers)."""
    with clikit.session_scope() as session:
        frame = hub.shipments_frame(session, member, status)
    table = Table(*frame.columns)
    for row in frame.astype(str).itertuples(index=False):
        table.add_row(*row)
    clikit.console.print(table)


@pool_app.command("answer")
def pool_answer(
    shipment: int,
    decision: Annotated[str, typer.Argument(help="accept or decline")],
    parent: str | None = None,
) -> None:
    """Accept or decline a proposed shipment this member sends or receives."""
    if decision not in ("accept", "decline"):
        clikit.fail("answer 'accept' or 'decline'", 2)
    answer = _send("/pool/answers", {"shipment_id": shipment, "accept": decision == "accept"}, parent)
    clikit.console.print(f"shipment {answer['id']}: {answer['status']}")


@pool_app.command("book")
def pool_book(parent: str | None = None) -> None:
    """At a member: book the accepted pool shipments into this instance's resource ledger (each once)."""
    with _sessions() as sessions, _client() as client:
        result = pool_bookings.book_accepted(sessions, client, parent_code=parent)
    for b in result["booked"]:
        clikit.console.print(f"shipment {b['shipment']}: ledger transaction {b['transaction']}")
    for f in result["failed"]:
        clikit.err.print(f"shipment {f['shipment']} not booked: {f['error']}")
    if not result["booked"] and not result["failed"]:
        clikit.console.print("nothing new to book")


@docs_app.command("add")
def docs_add(
    kind: Annotated[str, typer.Option(help="protocol, guideline, genome, dataset or other")],
    title: Annotated[str, typer.Option()],
    language: Annotated[str, typer.Option(help="BCP 47 language tag, e.g. en, zh, fr")],
    licence: Annotated[str, typer.Option(help="SPDX licence id, e.g. CC-BY-4.0")],
    url: str = "",
    accession: Annotated[str, typer.Option(help="e.g. a GenBank/GISAID accession id")] = "",
    summary: str = "",
    keywords: str = "",
    published_on: str = "",
) -> None:
    """Register a shared document here."""
    with clikit.session_scope() as session:
        me = instance_identity.active_key_row(session, required=False)
        origin = me.jurisdiction if me else "local"
        meta = {
            "kind": kind,
            "title": title,
            "language": language,
            "licence": licence,
            "url": url,
            "accession": accession,
            "summary": summary,
            "keywords": keywords,
            "published_on": published_on or None,
        }
        row, new = hub.register_document(session, meta, origin)
        clikit.console.print(f"{'registered' if new else 'already registered'}: {row.id[:12]} {row.title}")


@docs_app.command("push")
def docs_push(parent: str | None = None) -> None:
    """Send this instance's document registry to the parent (it keeps one entry per document)."""
    with clikit.session_scope() as session:
        documents = hub.local_documents(session)
    answer = _send("/documents", {"documents": documents}, parent)
    clikit.console.print(f"sent {answer['received']} documents, {answer['new']} new at the parent")


@docs_app.command("search")
def docs_search(q: Annotated[str, typer.Argument()] = "", kind: str | None = None, language: str | None = None) -> None:
    """Search the registry."""
    with clikit.session_scope() as session:
        frame = hub.search_documents(session, q, kind, language)
    table = Table("id", "kind", "title", "language", "licence", "accession", "origin")
    for d in frame.to_dict(orient="records"):
        table.add_row(
            str(d["id"])[:12], *(str(d[c]) for c in ("kind", "title", "language", "licence", "accession", "origin"))
        )
    clikit.console.print(table)


def _day(value: str) -> date:
    return clikit.parse_day(value)
