"""HTTP API of the federation capability (``/api/v1/federation``).

Package transfer needs no user token; instead every transport request (upload start, chunk, commit; outbox list
and download) is signed by the instance that sends it and verified against the key registered for it here
(``accord.federation.access``): a member uploads, the parent reads the outbox. Bodies are read here, after the
signature verified and within a hard limit (413 as soon as it is exceeded, without reading the rest); every
package is signed too, and a member can only ever submit within its own jurisdiction.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from accord.auth import service as auth
from accord.auth.roles import APPROVERS
from accord.db import transaction, utcnow
from accord.errors import AccordError, Forbidden, Problem
from accord.federation import access, hub, keys, uploads
from accord.federation import identity as instance_identity
from accord.federation import inbox as package_inbox
from accord.federation import outbox as package_outbox
from accord.federation import peers as peer_links
from accord.federation.keys import FederationSettings
from accord.web import tables
from accord.web.deps import SessionDep, SettingsDep, UserDep
from accord.web.params import Day

router = APIRouter(prefix="/api/v1/federation", tags=["federation"])


def fed_settings() -> FederationSettings:
    return FederationSettings()


def _sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


@router.get("/identity")
def identity(session: SessionDep) -> dict[str, Any]:
    """The jurisdiction this instance speaks for and its current public signing key."""
    return instance_identity.identity(session)


#: an upload start lists at most uploads.MAX_CHUNKS hashes: well under this
MAX_START_BYTES = 1024 * 1024
#: commit and GET requests have no body (the signature covers the empty one)
MAX_EMPTY_BYTES = 1024

SIGNED = {
    "description": "Signed by the sending instance (RFC 9421 profile, see docs/federation.md): Content-Digest, "
    "Accord-From, Accord-To, Signature-Input, Signature.",
    "responses": {
        "401": {"description": "unsigned, unknown sender or key, bad signature, stale or replayed"},
        "413": {"description": "the body is over its limit"},
    },
}


class UploadStart(BaseModel):
    package_id: str = Field(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")
    sender: str = Field(min_length=1, max_length=64)
    size: int
    chunk_bytes: int
    chunk_hashes: list[Annotated[str, Field(pattern="^[0-9a-f]{64}$")]]


def _too_large(limit: int, what: str) -> AccordError:
    return AccordError(
        f"{what} is too large",
        [Problem(f"at most {limit:,} bytes are accepted here", field="body", code="too_large")],
        status=413,
        kind="too-large",
    )


async def read_limited(request: Request, limit: int, what: str = "the body") -> tuple[bytes, bytes]:
    """The body and its SHA-256, read piece by piece: refused (413) as soon as it runs over ``limit`` bytes,
    before the rest is read (a declared Content-Length over the limit is refused before reading anything)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, what)
    data, digest = bytearray(), hashlib.sha256()
    async for piece in request.stream():
        if len(data) + len(piece) > limit:
            raise _too_large(limit, what)
        data += piece
        digest.update(piece)
    return bytes(data), digest.digest()


async def signed_by(request: Request, role: str) -> access.Caller:
    """The instance that signed this request, registered here as ``role`` (child: a member; parent)."""
    return await run_in_threadpool(
        access.authenticate,
        _sessions(request),
        role,
        method=request.method,
        path=request.url.path,
        query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=dict(request.headers.items()),
        policy=access.Policy.from_settings(fed_settings()),
    )


async def signed_body(request: Request, caller: access.Caller, limit: int, what: str = "the body") -> bytes:
    data, sha = await read_limited(request, limit, what)
    policy = access.Policy.from_settings(fed_settings())
    await run_in_threadpool(access.body_verified, _sessions(request), caller, sha, policy)
    return data


def _with_body(media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI of a signed route whose body is read by the route itself (after the signature)."""
    return {**SIGNED, "requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


@router.post("/uploads", openapi_extra=_with_body("application/json", UploadStart.model_json_schema()))
async def start_upload(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """Open or resume an upload of the signing member's package: the answer lists the chunks already held
    (send only the others). JSON body: package_id, sender, size, chunk_bytes, chunk_hashes."""
    caller = await signed_by(request, "child")
    raw = await signed_body(request, caller, MAX_START_BYTES, "the upload start")
    try:
        body = UploadStart.model_validate_json(raw)
    except ValidationError as exc:
        problems = [Problem(str(e["msg"]), field=".".join(map(str, e["loc"])) or None) for e in exc.errors()]
        raise AccordError("the upload was not started", problems) from exc
    if body.sender != caller.code:
        raise Forbidden(f"'{caller.code}' may upload only its own packages, not as '{body.sender}'")
    fed = fed_settings()
    return await run_in_threadpool(
        lambda: uploads.start_upload(
            _sessions(request),
            package_id=body.package_id,
            sender=caller.code,
            size=body.size,
            chunk_bytes=body.chunk_bytes,
            chunk_hashes=body.chunk_hashes,
            limits=uploads.UploadLimits.from_settings(settings.max_upload_bytes, fed),
            log_seconds=fed.refusal_log_seconds,
        )
    )


@router.put(
    "/uploads/{package_id}/chunks/{idx}",
    openapi_extra=_with_body("application/octet-stream", {"type": "string", "format": "binary"}),
)
async def put_chunk(package_id: str, idx: int, request: Request) -> dict[str, Any]:
    """One chunk of the signing member's own upload, as raw bytes: streamed within the chunk's exact length
    (413 beyond it) and stored only if it matches its SHA-256 (a cut-off chunk is simply missing)."""
    caller = await signed_by(request, "child")
    slot = await run_in_threadpool(uploads.chunk_slot, _sessions(request), package_id, idx, caller.code)
    data = await signed_body(request, caller, slot.length, f"chunk {idx}")
    return await run_in_threadpool(uploads.put_chunk, _sessions(request), package_id, idx, data, caller.code)


@router.post("/uploads/{package_id}/commit", openapi_extra=SIGNED)
async def commit_upload(package_id: str, request: Request) -> dict[str, Any]:
    """Assemble, verify (signature, hashes, sender's scope, order, clock) and apply through the ordinary
    submission service; 200 applied or replay, 202-like ``held`` when an earlier package is missing."""
    caller = await signed_by(request, "child")
    await signed_body(request, caller, MAX_EMPTY_BYTES)
    return await run_in_threadpool(
        lambda: uploads.commit_upload(
            _sessions(request),
            package_id,
            sender=caller.code,
            max_skew_seconds=fed_settings().max_clock_skew_seconds,
        )
    )


@router.post("/keys/rotate")
def rotate(statement: dict[str, Any], request: Request) -> dict[str, Any]:
    """A member's key rotation statement, signed by its current key."""
    with transaction(_sessions(request)) as session:  # committed before the answer: the next package needs it
        return peer_links.accept_rotation(session, statement)


async def _parent(request: Request, receiver: str | None) -> access.Caller:
    caller = await signed_by(request, "parent")
    await signed_body(request, caller, MAX_EMPTY_BYTES)
    if receiver is not None and receiver != caller.code:
        raise Forbidden(f"'{caller.code}' may read only its own packages, not those for '{receiver}'")
    return caller


@router.get("/outbox", openapi_extra=SIGNED)
async def outbox(
    request: Request, receiver: str | None = None, after: Annotated[int, Query(ge=0)] = 0
) -> dict[str, Any]:
    """Packages cut for the signing parent (for it to pull), after a sequence number; ``receiver``, if given,
    must be that parent."""
    caller = await _parent(request, receiver)

    def listed() -> list[dict[str, Any]]:
        with transaction(_sessions(request)) as session:
            return package_outbox.outbox(session, caller.code, after)

    return {"packages": await run_in_threadpool(listed)}


@router.get("/outbox/{package_id}", openapi_extra=SIGNED)
async def outbox_package(
    package_id: str, request: Request, range_: Annotated[str | None, Header(alias="range")] = None
) -> Response:
    """One package's bytes, only to the parent it was cut for; honours ``Range: bytes=a-b`` so a broken
    download resumes."""
    caller = await _parent(request, None)

    def payload_of() -> bytes:
        with transaction(_sessions(request)) as session:
            return package_outbox.outbox_payload(session, package_id, receiver=caller.code)

    payload = await run_in_threadpool(payload_of)
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
    frame = peer_links.member_status(session, now, fed_settings().silent_after_hours)
    return tables.render(frame, format, "federation_members", {"as_of": now.isoformat()})


@router.get("/inbox")
def inbox(
    session: SessionDep,
    actor: UserDep,
    sender: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    """What arrived and what became of it (applied, held, replay, refused with its reason, and how many times):
    coordinators and admins of this instance's own jurisdiction; a member's coordinators, its entries only."""
    senders = package_inbox.inbox_scope(session, actor)
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
                "attempts": package_inbox.attempts(e),
            }
            for e in package_inbox.inbox(session, sender, min(limit, 1000), senders)
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
    start: Day
    days: int = 30
    default_lead_days: int = 5


@router.post("/pool/runs")
def pool_run(body: PoolRun, request: Request, actor: UserDep) -> dict[str, Any]:
    """Run the allocation across members (the hub's own coordinators and admins: the top of its tree);
    proposals go back to both sides."""
    with transaction(_sessions(request)) as session:
        auth.require_national(session, actor, APPROVERS, "run the international pool")
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
