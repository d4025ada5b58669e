"""HTTP API of the federation capability (``/api/v1/federation``).

Package transfer needs no user token: every package is signed by the sending instance's key and verified
against the key registered for it, and a member can only ever submit within its own jurisdiction.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import APPROVERS
from accord.db import transaction, utcnow
from accord.errors import AccordError, Forbidden, Problem
from accord.federation import hub, keys, service
from accord.federation.keys import FederationSettings
from accord.web import tables
from accord.web.deps import SessionDep, SettingsDep, UserDep

router = APIRouter(prefix="/api/v1/federation", tags=["federation"])


def fed_settings() -> FederationSettings:
    return FederationSettings()


def _sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


@router.get("/identity")
def identity(session: SessionDep) -> dict[str, Any]:
    """The jurisdiction this instance speaks for and its current public signing key."""
    return service.identity(session)


class UploadStart(BaseModel):
    package_id: str = Field(min_length=64, max_length=64)
    sender: str = Field(min_length=1, max_length=64)
    size: int
    chunk_bytes: int
    chunk_hashes: list[str]


@router.post("/uploads")
def start_upload(body: UploadStart, request: Request, settings: SettingsDep) -> dict[str, Any]:
    """Open or resume an upload: the answer lists the chunks already held (send only the others)."""
    return service.start_upload(
        _sessions(request),
        package_id=body.package_id,
        sender=body.sender,
        size=body.size,
        chunk_bytes=body.chunk_bytes,
        chunk_hashes=body.chunk_hashes,
        max_bytes=settings.max_upload_bytes,
    )


@router.put("/uploads/{package_id}/chunks/{idx}")
async def put_chunk(package_id: str, idx: int, request: Request) -> dict[str, Any]:
    """One chunk, as raw bytes; stored only if it matches its SHA-256 (a cut-off chunk is simply missing)."""
    data = await request.body()
    return await run_in_threadpool(service.put_chunk, _sessions(request), package_id, idx, data)


@router.post("/uploads/{package_id}/commit")
def commit_upload(package_id: str, request: Request) -> dict[str, Any]:
    """Assemble, verify (signature, hashes, sender's scope, order, clock) and apply through the ordinary
    submission service; 200 applied or replay, 202-like ``held`` when an earlier package is missing."""
    return service.commit_upload(_sessions(request), package_id, max_skew_seconds=fed_settings().max_clock_skew_seconds)


@router.post("/keys/rotate")
def rotate(statement: dict[str, Any], request: Request) -> dict[str, Any]:
    """A member's key rotation statement, signed by its current key."""
    with transaction(_sessions(request)) as session:  # committed before the answer: the next package needs it
        return service.accept_rotation(session, statement)


@router.get("/outbox")
def outbox(session: SessionDep, receiver: str, after: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Packages cut for a parent (for the parent to pull), after a sequence number."""
    return {"packages": service.outbox(session, receiver, after)}


@router.get("/outbox/{package_id}")
def outbox_package(
    package_id: str, session: SessionDep, range_: Annotated[str | None, Header(alias="range")] = None
) -> Response:
    """One package's bytes; honours ``Range: bytes=a-b`` so a broken download resumes."""
    payload = service.outbox_payload(session, package_id)
    headers = {"accept-ranges": "bytes", "etag": f'"{package_id}"'}
    if range_:
        start, end = _parse_range(range_, len(payload))
        headers["content-range"] = f"bytes {start}-{end}/{len(payload)}"
        return Response(payload[start : end + 1], 206, headers, media_type="application/zip")
    return Response(payload, 200, headers, media_type="application/zip")


def _parse_range(value: str, size: int) -> tuple[int, int]:
    try:
        unit, _, spec = value.partition("=")
        a, _, b = spec.partition("-")
        start, end = int(a), (int(b) if b else size - 1)
        if unit.strip() != "bytes" or not 0 <= start <= end:
            raise ValueError
    except ValueError as exc:
        raise AccordError(
            "invalid range", [Problem(f"cannot read Range '{value}'", field="range")], status=416
        ) from exc
    return start, min(end, size - 1)


@router.get("/members")
def members(session: SessionDep, format: str = "json") -> Response:
    """Every member with its last package and whether it is current, stale or silent (public)."""
    now = utcnow()
    frame = service.member_status(session, now, fed_settings().silent_after_hours)
    return tables.render(frame, format, "federation_members", {"as_of": now.isoformat()})


@router.get("/inbox")
def inbox(session: SessionDep, actor: UserDep, sender: str | None = None, limit: int = 200) -> dict[str, Any]:
    """What arrived and what became of it (applied, held, replay, refused with its reason): coordinators."""
    if not actor.can(APPROVERS):
        raise Forbidden(f"{actor.username} may not read the federation inbox")
    return {
        "entries": [
            {
                "id": e.id,
                "package_id": e.package_id,
                "sender": e.sender,
                "sequence": e.sequence,
                "status": e.status,
                "code": e.code,
                "message": e.message,
                "received_at": e.received_at.isoformat(),
                "submission_id": e.submission_id,
            }
            for e in service.inbox(session, sender, min(limit, 1000))
        ]
    }


# ----------------------------------------------------------------------------------------------- pool
def _envelope(session: Session, envelope: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    return hub.open_envelope(session, envelope, fed_settings().max_clock_skew_seconds)


@router.post("/pool/posts", status_code=201)
def pool_post(envelope: dict[str, Any], request: Request) -> dict[str, Any]:
    """A member's need or offer, in an envelope signed by its instance key (a replay is the same post)."""
    with transaction(_sessions(request)) as session:
        member, body, digest = _envelope(session, envelope)
        row = hub.post(session, body, member, envelope_hash=digest)
    return {"id": row.id, "kind": row.kind, "member": row.member, "resource": row.resource, "quantity": row.quantity}


@router.post("/pool/export-rules", status_code=201)
def pool_export_rule(envelope: dict[str, Any], request: Request) -> dict[str, Any]:
    """A member's export restriction: ``resource`` ('*' = all) may not leave for ``destination`` ('*' = any)."""
    with transaction(_sessions(request)) as session:
        member, body, _ = _envelope(session, envelope)
        resource, destination = str(body.get("resource") or "*"), str(body.get("destination") or "*")
        rule = hub.add_export_rule(session, member, resource, destination)
    return {"id": rule.id, "member": rule.member, "resource": rule.resource, "destination": rule.destination}


@router.post("/pool/answers")
def pool_answer(envelope: dict[str, Any], request: Request) -> dict[str, Any]:
    """A member accepts or declines a proposed shipment it sends or receives."""
    with transaction(_sessions(request)) as session:
        member, body, _ = _envelope(session, envelope)
        try:
            shipment_id, accept = int(body["shipment_id"]), bool(body["accept"])
        except (KeyError, TypeError, ValueError) as exc:
            raise AccordError("invalid answer", [Problem("give shipment_id and accept", field="body")]) from exc
        s = hub.answer(session, shipment_id, member, accept)
    return {
        "id": s.id,
        "status": s.status,
        "origin_answer": s.origin_answer,
        "destination_answer": s.destination_answer,
    }


class PoolRun(BaseModel):
    start: date
    days: int = 30
    default_lead_days: int = 5


@router.post("/pool/runs")
def pool_run(body: PoolRun, request: Request, actor: UserDep) -> dict[str, Any]:
    """Run the allocation across members (hub coordinators); proposals go back to both sides."""
    if not actor.can(APPROVERS):
        raise Forbidden(f"{actor.username} may not run the pool")
    with transaction(_sessions(request)) as session:
        return hub.run_pool(session, body.start, body.days, default_lead_days=body.default_lead_days)


@router.get("/pool/shipments")
def pool_shipments(
    session: SessionDep, member: str | None = None, status: str | None = None, format: str = "json"
) -> Response:
    """Proposed, accepted and declined shipments (public: the pool is transparent)."""
    return tables.render(hub.shipments_frame(session, member, status), format, "pool_shipments")


@router.get("/pool/posts")
def pool_posts(session: SessionDep, member: str | None = None, format: str = "json") -> Response:
    return tables.render(hub.posts_frame(session, member), format, "pool_posts")


# ------------------------------------------------------------------------------------------ documents
@router.post("/documents", status_code=201)
def documents_post(envelope: dict[str, Any], request: Request) -> dict[str, Any]:
    """A member's shared documents (metadata), in a signed envelope: ``{"documents": [...]}``."""
    with transaction(_sessions(request)) as session:
        member, body, _ = _envelope(session, envelope)
        docs = body.get("documents")
        if not isinstance(docs, list):
            raise AccordError("invalid documents", [Problem("documents must be a list", field="documents")])
        added = [
            hub.register_document(session, d, member, received_from=member)[1] for d in docs if isinstance(d, dict)
        ]
    return {"received": len(added), "new": sum(added)}


@router.get("/documents")
def documents(
    session: SessionDep,
    q: str = "",
    kind: str | None = None,
    language: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    format: str = "json",
) -> Response:
    """Search the registry: protocols, guidelines, genome accession ids, datasets (public)."""
    return tables.render(hub.search_documents(session, q, kind, language, limit), format, "documents")


__all__ = ["keys", "router"]
