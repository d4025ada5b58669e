"""Use cases of the hub beyond data: the international pool of emergency supplies and the shared document
registry. Members speak to the hub in *signed envelopes* (their instance key over a canonical JSON body), so
the hub knows which member posted a need, an offer, an export rule or an answer, without user accounts."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from accord.db import utcnow
from accord.errors import AccordError, Conflict, Forbidden, NotFound, Problem
from accord.federation import keys, package, pool
from accord.federation.model import (
    ExportRule,
    GreenChannel,
    Peer,
    PeerKey,
    PoolPost,
    PoolShipment,
    SharedDocument,
)

MAX_POOL_DAYS = 120
DOCUMENT_KINDS = ("protocol", "guideline", "genome", "dataset", "other")


# ---------------------------------------------------------------------------------------------- envelopes
def seal(body: dict[str, Any], member: str, key: Ed25519PrivateKey, now: datetime | None = None) -> dict[str, Any]:
    """Sign ``body`` as ``member`` (what a member instance sends to its hub)."""
    envelope = {
        "member": member,
        "key_id": keys.key_id(keys.public_text(key)),
        "signed_at": (now or utcnow()).isoformat(),
        "body": body,
    }
    envelope["signature"] = keys.sign(key, package.canonical(envelope))
    return envelope


def open_envelope(
    session: Session, envelope: dict[str, Any], max_skew_seconds: float, now: datetime | None = None
) -> tuple[str, dict[str, Any], str]:
    """Verify a member's envelope: registered member, current key, good signature, fresh. Returns
    (member, body, envelope hash)."""
    now = now or utcnow()
    try:
        member, key_id, signed_at = str(envelope["member"]), str(envelope["key_id"]), str(envelope["signed_at"])
        body, signature = envelope["body"], str(envelope["signature"])
        when = datetime.fromisoformat(signed_at)
    except (KeyError, TypeError, ValueError) as exc:
        raise AccordError(
            "invalid envelope", [Problem(f"missing or unreadable field {exc}", field="envelope")]
        ) from exc
    if not isinstance(body, dict) or when.tzinfo is None:
        raise AccordError("invalid envelope", [Problem("body must be an object, signed_at carry a zone", field="body")])
    peer = session.scalar(select(Peer).where(Peer.code == member, Peer.role == "child"))
    if peer is None:
        raise Forbidden(f"'{member}' is not a registered member")
    key = session.scalar(select(PeerKey).where(PeerKey.peer_id == peer.id, PeerKey.key_id == key_id))
    if key is None or key.retired_at is not None:
        raise Forbidden(f"key {key_id} is not a current key of '{member}'")
    unsigned = {k: envelope[k] for k in ("member", "key_id", "signed_at", "body")}
    if not keys.verify(keys.load_public(key.public_key), package.canonical(unsigned), signature):
        raise Forbidden(f"the envelope of '{member}' is not signed by its key {key_id}")
    if abs((when - now).total_seconds()) > max(max_skew_seconds, 1.0) * 12:
        raise AccordError(
            "stale envelope", [Problem(f"signed at {signed_at}, too far from this hub's clock", field="signed_at")]
        )
    digest = hashlib.sha256(package.canonical(envelope)).hexdigest()
    return member, body, digest


# --------------------------------------------------------------------------------------------------- pool
def post(
    session: Session,
    body: dict[str, Any],
    member: str,
    *,
    envelope_hash: str | None = None,
    now: datetime | None = None,
) -> PoolPost:
    """A need or an offer. ``body``: kind, resource, quantity, day; offers also price, earmark, donor."""
    now = now or utcnow()
    if envelope_hash:
        prior = session.scalar(select(PoolPost).where(PoolPost.envelope_hash == envelope_hash))
        if prior is not None:
            return prior
    if session.scalar(select(Peer.id).where(Peer.code == member, Peer.role == "child")) is None:
        raise NotFound(f"'{member}' is not a member of this hub")
    problems = []
    kind = body.get("kind")
    if kind not in ("need", "offer"):
        problems.append(Problem("kind must be 'need' or 'offer'", field="kind"))
    resource = str(body.get("resource") or "").strip()
    if not resource or len(resource) > 64:
        problems.append(Problem("name the resource (at most 64 characters)", field="resource"))
    quantity = _number(body.get("quantity"), "quantity", problems)
    price = _number(body.get("price", 0), "price", problems)
    if quantity is not None and quantity <= 0:
        problems.append(Problem("quantity must be more than zero", field="quantity"))
    if price is not None and (price < 0 or (kind == "need" and price)):
        problems.append(Problem("price must be >= 0 (and only on offers)", field="price"))
    try:
        day = date.fromisoformat(str(body.get("day")))
    except ValueError:
        problems.append(Problem(f"day '{body.get('day')}' is not YYYY-MM-DD", field="day"))
    earmark = body.get("earmark")
    if earmark is not None and not (isinstance(earmark, list) and all(isinstance(c, str) for c in earmark)):
        problems.append(Problem("earmark must be a list of member codes", field="earmark"))
    if problems:
        raise AccordError(f"the {kind or 'post'} of {member} was not accepted", problems)
    row = PoolPost(
        kind=str(kind),
        member=member,
        donor=str(body.get("donor") or "")[:200],
        resource=resource,
        quantity=float(quantity or 0),
        day=day,
        price=float(price or 0),
        earmark=sorted(earmark) if earmark else None,
        status="open",
        posted_at=now,
        envelope_hash=envelope_hash,
    )
    session.add(row)
    session.flush()
    return row


def _number(value: object, field: str, problems: list[Problem]) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        problems.append(Problem(f"{field} must be a number, not '{value}'", field=field))
        return None


def add_export_rule(
    session: Session, member: str, resource: str, destination: str, now: datetime | None = None
) -> ExportRule:
    if session.scalar(select(Peer.id).where(Peer.code == member, Peer.role == "child")) is None:
        raise NotFound(f"'{member}' is not a member of this hub")
    existing = session.scalar(
        select(ExportRule).where(
            ExportRule.member == member, ExportRule.resource == resource, ExportRule.destination == destination
        )
    )
    if existing is not None:
        return existing
    row = ExportRule(
        member=member, resource=resource or "*", destination=destination or "*", created_at=now or utcnow()
    )
    session.add(row)
    session.flush()
    return row


def set_green_channel(session: Session, origin: str, destination: str, lead_days: int) -> GreenChannel:
    if lead_days < 0:
        raise AccordError("invalid green channel", [Problem("lead days must be >= 0", field="lead_days")])
    row = session.scalar(
        select(GreenChannel).where(GreenChannel.origin == origin, GreenChannel.destination == destination)
    ) or GreenChannel(origin=origin, destination=destination)
    row.lead_days = lead_days
    session.add(row)
    session.flush()
    return row


def _accepted_out(session: Session) -> dict[int, float]:
    """Per offer: quantity already committed (proposed and not declined counts until answered)."""
    rows = session.execute(
        select(PoolShipment.offer_id, PoolShipment.quantity).where(PoolShipment.status == "accepted")
    ).all()
    out: dict[int, float] = {}
    for oid, q in rows:
        out[oid] = out.get(oid, 0.0) + q
    return out


def run_pool(
    session: Session, start: date, days: int, *, default_lead_days: int = 5, now: datetime | None = None
) -> dict[str, Any]:
    """Allocate open offers to open needs over ``days`` from ``start``; earlier unanswered proposals are
    withdrawn and replaced. Accepted shipments already reduce what is left of offers and needs."""
    now = now or utcnow()
    if not 1 <= days <= MAX_POOL_DAYS:
        raise AccordError("invalid horizon", [Problem(f"days must be 1..{MAX_POOL_DAYS}", field="days")])
    posts = list(session.scalars(select(PoolPost).where(PoolPost.status == "open")))
    for s in session.scalars(select(PoolShipment).where(PoolShipment.status == "proposed")):
        s.status = "withdrawn"
    needs, offers = _open_posts(posts, start, days, _accepted_out(session), _received(session))
    members = {m.code: m.vulnerability for m in session.scalars(select(Peer).where(Peer.role == "child"))}
    bans = [pool.ExportBan(r.member, r.resource, r.destination) for r in session.scalars(select(ExportRule))]
    lanes = {(g.origin, g.destination): g.lead_days for g in session.scalars(select(GreenChannel))}
    run_id = int(session.scalar(select(PoolShipment.run_id).order_by(PoolShipment.run_id.desc()).limit(1)) or 0) + 1
    if not needs or not offers:
        return {"run_id": run_id, "shipments": 0, "needs": len(needs), "offers": len(offers), "unmet": []}
    result = pool.solve(
        pool.PoolProblem(
            days=days,
            needs=needs,
            offers=offers,
            vulnerability=members,
            bans=bans,
            lanes=lanes,
            default_lead_days=default_lead_days,
        )
    )
    _propose(session, run_id, result, start, now)
    return {
        "run_id": run_id,
        "shipments": len(result.shipments),
        "needs": len(needs),
        "offers": len(offers),
        "solve_seconds": result.plan.solve_seconds,
        "unmet": result.unmet.to_dict(orient="records"),
    }


def _open_posts(
    posts: list[PoolPost],
    start: date,
    days: int,
    committed: dict[int, float],
    received: dict[tuple[str, str], float],
) -> tuple[list[pool.Need], list[pool.Offer]]:
    """What is left to allocate, day by day: needs less what their member already received (from ``start``
    on), offers less what accepted shipments already committed (available by the last day)."""
    end = start + timedelta(days=days - 1)
    needs, offers = [], []
    for p in sorted(posts, key=lambda p: (p.day, p.id)):
        offset = min(max((p.day - start).days, 0), days - 1)
        if p.kind == "need":
            covered = min(received.get((p.member, p.resource), 0.0), p.quantity)
            received[(p.member, p.resource)] = received.get((p.member, p.resource), 0.0) - covered
            if p.quantity - covered > 1e-9 and p.day >= start:
                needs.append(pool.Need(p.member, p.resource, p.quantity - covered, offset))
        elif p.day <= end:
            left = p.quantity - committed.get(p.id, 0.0)
            if left > 1e-9:
                earmark = tuple(p.earmark) if p.earmark else None
                offers.append(pool.Offer(p.id, p.member, p.resource, left, offset, p.price, p.donor, earmark))
    return needs, offers


def _propose(session: Session, run_id: int, result: pool.PoolPlan, start: date, now: datetime) -> None:
    """Store the run's shipments as proposals for both sides to answer."""
    for row in result.shipments.to_dict(orient="records"):
        session.add(
            PoolShipment(
                run_id=run_id,
                offer_id=int(row["offer_id"]),
                origin=str(row["origin"]),
                destination=str(row["destination"]),
                resource=str(row["resource"]),
                quantity=float(row["quantity"]),
                depart_day=start + timedelta(days=int(row["depart_day"])),
                arrive_day=start + timedelta(days=int(row["arrive_day"])),
                price=float(row["price"]),
                status="proposed",
                created_at=now,
            )
        )
    session.flush()


def _received(session: Session) -> dict[tuple[str, str], float]:
    rows = session.execute(
        select(PoolShipment.destination, PoolShipment.resource, PoolShipment.quantity).where(
            PoolShipment.status == "accepted"
        )
    ).all()
    out: dict[tuple[str, str], float] = {}
    for d, r, q in rows:
        out[(d, r)] = out.get((d, r), 0.0) + q
    return out


def answer(session: Session, shipment_id: int, member: str, accept: bool) -> PoolShipment:
    """One side's answer to a proposed shipment; both accepting makes it stand, either declining drops it."""
    s = session.get(PoolShipment, shipment_id)
    if s is None:
        raise NotFound(f"no proposed shipment {shipment_id}")
    if member not in (s.origin, s.destination):
        raise Forbidden(f"'{member}' is neither the sender nor the receiver of shipment {shipment_id}")
    if s.status not in ("proposed", "accepted"):
        raise Conflict(f"shipment {shipment_id} is {s.status}; it cannot be answered any more")
    if s.status == "accepted":
        return s
    word = "accept" if accept else "decline"
    if member == s.origin:
        s.origin_answer = word
    if member == s.destination:
        s.destination_answer = word
    if "decline" in (s.origin_answer, s.destination_answer):
        s.status = "declined"
    elif s.origin_answer == "accept" and s.destination_answer == "accept":
        s.status = "accepted"
    session.flush()
    return s


def shipments_frame(session: Session, member: str | None = None, status: str | None = None) -> pd.DataFrame:
    q = select(PoolShipment).order_by(PoolShipment.id)
    if member:
        q = q.where(or_(PoolShipment.origin == member, PoolShipment.destination == member))
    if status:
        q = q.where(PoolShipment.status == status)
    cols = [
        "id",
        "run_id",
        "offer_id",
        "origin",
        "destination",
        "resource",
        "quantity",
        "depart_day",
        "arrive_day",
        "price",
        "status",
        "origin_answer",
        "destination_answer",
    ]
    frame = pd.DataFrame([[getattr(s, c) for c in cols] for s in session.scalars(q)], columns=cols)
    return _iso_days(frame, ["depart_day", "arrive_day"])


def _iso_days(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for c in columns:
        frame[c] = frame[c].map(lambda d: d.isoformat() if d is not None else None)
    return frame


def posts_frame(session: Session, member: str | None = None) -> pd.DataFrame:
    q = select(PoolPost).order_by(PoolPost.id)
    if member:
        q = q.where(PoolPost.member == member)
    cols = ["id", "kind", "member", "donor", "resource", "quantity", "day", "price", "earmark", "status"]
    frame = pd.DataFrame([[getattr(p, c) for c in cols] for p in session.scalars(q)], columns=cols)
    frame["earmark"] = frame["earmark"].map(lambda e: ",".join(e) if e else "")
    return _iso_days(frame, ["day"])


# ------------------------------------------------------------------------------------------ documents
def document_id(meta: dict[str, Any]) -> str:
    ident = {k: str(meta.get(k) or "").strip() for k in ("kind", "title", "language", "url", "accession")}
    return hashlib.sha256(package.canonical(ident)).hexdigest()


def register_document(
    session: Session,
    meta: dict[str, Any],
    origin: str,
    *,
    received_from: str | None = None,
    now: datetime | None = None,
) -> tuple[SharedDocument, bool]:
    """Register a shared document's metadata (idempotent: the same document twice is one entry)."""
    problems = []
    if meta.get("kind") not in DOCUMENT_KINDS:
        problems.append(Problem(f"kind must be one of {', '.join(DOCUMENT_KINDS)}", field="kind"))
    for name, limit in (("title", 500), ("language", 16), ("licence", 64)):
        if not str(meta.get(name) or "").strip() or len(str(meta.get(name))) > limit:
            problems.append(Problem(f"{name} is required (at most {limit} characters)", field=name))
    if not (meta.get("url") or meta.get("accession")):
        problems.append(Problem("give a url or an accession id", field="url"))
    published = meta.get("published_on")
    try:
        published_on = date.fromisoformat(str(published)) if published else None
    except ValueError:
        problems.append(Problem(f"published_on '{published}' is not YYYY-MM-DD", field="published_on"))
    if problems:
        raise AccordError("the document was not registered", problems)
    did = document_id(meta)
    existing = session.get(SharedDocument, did)
    if existing is not None:
        return existing, False
    row = SharedDocument(
        id=did,
        kind=str(meta["kind"]),
        title=str(meta["title"]).strip(),
        language=str(meta["language"]).strip(),
        licence=str(meta["licence"]).strip(),
        url=str(meta.get("url") or ""),
        accession=str(meta.get("accession") or "")[:64],
        summary=str(meta.get("summary") or ""),
        keywords=" ".join(str(k) for k in meta.get("keywords") or [])
        if isinstance(meta.get("keywords"), list)
        else str(meta.get("keywords") or ""),
        origin=str(meta.get("origin") or origin),
        published_on=published_on,
        registered_at=now or utcnow(),
        received_from=received_from,
    )
    session.add(row)
    session.flush()
    return row, True


def search_documents(
    session: Session, q: str = "", kind: str | None = None, language: str | None = None, limit: int = 50
) -> pd.DataFrame:
    """Every word of ``q`` must appear in the title, summary, keywords or accession id (case-insensitive)."""
    query = select(SharedDocument).order_by(SharedDocument.registered_at.desc()).limit(min(limit, 500))
    for word in q.split()[:10]:
        pattern = f"%{word}%"
        query = query.where(
            or_(
                SharedDocument.title.ilike(pattern),
                SharedDocument.summary.ilike(pattern),
                SharedDocument.keywords.ilike(pattern),
                SharedDocument.accession.ilike(pattern),
            )
        )
    if kind:
        query = query.where(SharedDocument.kind == kind)
    if language:
        query = query.where(SharedDocument.language == language)
    return pd.DataFrame([document_dict(d) for d in session.scalars(query)], columns=DOCUMENT_COLUMNS)


DOCUMENT_COLUMNS = [
    "id",
    "kind",
    "title",
    "language",
    "licence",
    "url",
    "accession",
    "summary",
    "keywords",
    "origin",
    "published_on",
    "received_from",
]


def document_dict(d: SharedDocument) -> dict[str, Any]:
    out = {c: getattr(d, c) for c in DOCUMENT_COLUMNS}
    out["published_on"] = d.published_on.isoformat() if d.published_on else None
    return out


def local_documents(session: Session) -> list[dict[str, Any]]:
    """Everything registered here, to send up the tree (the parent dedups by id)."""
    return [document_dict(d) for d in session.scalars(select(SharedDocument).order_by(SharedDocument.id))]
