"""HTTP API of the rumor registry under ``/api/v1/rumors``: published claims, matching, questions, and the
reviewers' registry (token needed). Errors are RFC 9457 problem documents (:class:`accord.errors.AccordError`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from accord.errors import AccordError, Problem
from accord.rumors import matcher, service
from accord.rumors.model import VERDICTS
from accord.web.deps import ActorDep, SessionDep, UploadDep, UserDep
from accord.web.params import Day, Offset, PathId

router = APIRouter(prefix="/api/v1/rumors", tags=["rumors"])

# generous at the HTTP layer: the service gives the clear, counted refusal
_TEXT = Field(max_length=matcher.MAX_MESSAGE_CHARS * 4)


class SourceIn(BaseModel):
    title: str = Field(default="", max_length=500)
    url: str = Field(default="", max_length=2000)


class ClaimIn(BaseModel):
    text: str = _TEXT
    verdict: str = Field(description=" / ".join(VERDICTS))
    explanation: str = Field(max_length=service.MAX_EXPLANATION_CHARS * 2)
    jurisdiction: str = Field(max_length=64, description="code of the issuing jurisdiction")
    language: str | None = Field(default=None, max_length=35)
    first_seen: Day | None = None
    seen_where: str | None = Field(default=None, max_length=2000)
    sources: list[SourceIn] = Field(default_factory=list, max_length=service.MAX_SOURCES * 2)


class ClaimPatch(BaseModel):
    text: str | None = Field(default=None, max_length=matcher.MAX_MESSAGE_CHARS * 4)
    verdict: str | None = None
    explanation: str | None = Field(default=None, max_length=service.MAX_EXPLANATION_CHARS * 2)
    jurisdiction: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=35)
    first_seen: Day | None = None
    seen_where: str | None = Field(default=None, max_length=2000)
    sources: list[SourceIn] | None = Field(default=None, max_length=service.MAX_SOURCES * 2)
    reason: str | None = Field(default=None, max_length=2000)


class MatchIn(BaseModel):
    message: str | None = Field(default=None, max_length=matcher.MAX_MESSAGE_CHARS * 4)
    messages: list[str] | None = Field(default=None, max_length=service.MAX_BATCH * 2)
    k: int = Field(default=5, ge=1, le=service.MAX_K)


class QuestionIn(BaseModel):
    text: str = Field(max_length=matcher.MAX_MESSAGE_CHARS * 4)
    language: str | None = Field(default=None, max_length=35)


class HandleIn(BaseModel):
    claim_id: PathId | None = Field(default=None, description="the claim that answers it; none dismisses it")


def _page(request: Request, total: int, limit: int, offset: int) -> dict[str, Any]:
    meta: dict[str, Any] = {"total": total, "limit": limit, "offset": offset}
    if offset + limit < total:
        meta["next"] = str(request.url.include_query_params(offset=offset + limit))
    return meta


# ------------------------------------------------------------------------------------------------ public
@router.get("", summary="Published claims with verdicts; q= searches them with the matcher")
def list_claims(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    q: Annotated[str | None, Query(max_length=matcher.MAX_MESSAGE_CHARS * 4)] = None,
    verdict: str | None = None,
    status: Annotated[str | None, Query(description="reviewers only: draft, reviewed")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    rows, total = service.list_claims(session, actor, status=status, verdict=verdict, q=q, limit=limit, offset=offset)
    return {**_page(request, total, limit, offset), "data": [service.claim_dict(session, c, s) for c, s in rows]}


@router.post("/match", summary="Known claims nearest to a message (or a batch of messages)")
def match(body: MatchIn, session: SessionDep) -> dict[str, Any]:
    if (body.message is None) == (body.messages is None):
        raise AccordError("give either message or messages", [Problem("exactly one of them", field="message")])
    messages = [body.message] if body.message is not None else list(body.messages or [])
    results = service.match(session, messages, body.k)
    data = [{"message_index": i, "matches": [_hit(session, c, s) for c, s in hits]} for i, hits in enumerate(results)]
    if body.message is not None:
        return {"k": body.k, "matches": data[0]["matches"]}
    return {"k": body.k, "data": data}


def _hit(session: SessionDep, c: Any, score: float) -> dict[str, Any]:
    return {
        "claim_id": c.id,
        "score": round(score, 4),
        "verdict": c.verdict,
        "text": c.text,
        "explanation": c.explanation,
        "url": f"/public/rumors/{c.id}",
    }


@router.post("/questions", status_code=201, summary='Ask "is this true?": lands in the reviewers\' queue')
def ask(body: QuestionIn, session: SessionDep) -> dict[str, Any]:
    q = service.ask(session, body.text, body.language)
    return service.question_dict(session, q)


@router.get("/export", summary="Published claims as schema.org ClaimReview JSON-LD")
def export(request: Request, session: SessionDep) -> Response:
    base = str(request.base_url).rstrip("/")
    doc: dict[str, Any] = {"@context": "https://schema.org", "@graph": service.export_claim_reviews(session, base)}
    for item in doc["@graph"]:
        item.pop("@context", None)
    return Response(
        json.dumps(doc, ensure_ascii=False, indent=1),
        media_type="application/ld+json",
        headers={"Content-Disposition": 'inline; filename="claim-reviews.jsonld"'},
    )


# ---------------------------------------------------------------------------------------------- reviewers
@router.get("/questions", summary="The reviewers' queue of public questions, with the matcher's suggestions")
def list_questions(
    request: Request,
    session: SessionDep,
    actor: UserDep,
    status: str = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    rows, total = service.questions(session, actor, status, limit, offset)
    return {**_page(request, total, limit, offset), "data": [service.question_dict(session, q) for q in rows]}


@router.post("/questions/{question_id}", summary="Answer a question with a claim, or dismiss it")
def handle_question(question_id: PathId, body: HandleIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    q = service.handle_question(session, actor, question_id, claim_id=body.claim_id)
    return service.question_dict(session, q)


@router.post("/import", status_code=201, summary="Import ClaimReview JSON-LD as drafts (duplicates skipped)")
def import_(
    data: UploadDep,
    session: SessionDep,
    actor: UserDep,
    jurisdiction: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    return service.import_claim_reviews(session, actor, data, jurisdiction=jurisdiction, force=force).as_dict()


@router.post("", status_code=201, summary="Enter a claim (draft); 409 when it restates a known claim")
def create(body: ClaimIn, session: SessionDep, actor: UserDep, force: bool = False) -> dict[str, Any]:
    data = service.ClaimInput(**{**body.model_dump(), "sources": [s.model_dump() for s in body.sources]})
    c = service.add_claim(session, actor, data, force=force)
    return service.claim_dict(session, c)


@router.get("/{claim_id}", summary="One claim (published, or any within a reviewer's scope)")
def get_claim(claim_id: PathId, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    return service.claim_dict(session, service.get_claim(session, actor, claim_id))


@router.get("/{claim_id}/history", summary="Every revision of a claim")
def get_history(claim_id: PathId, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    return {"claim_id": claim_id, "data": service.history(session, actor, claim_id)}


@router.get("/{claim_id}/claimreview", summary="One published claim as ClaimReview JSON-LD")
def get_claim_review(claim_id: PathId, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    c = service.get_claim(session, actor, claim_id)
    body = service.claim_review(session, c, str(request.base_url).rstrip("/"))
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/ld+json")


@router.patch("/{claim_id}", summary="Edit a claim (history kept; a published claim needs a reason)")
def patch(
    claim_id: PathId, body: ClaimPatch, session: SessionDep, actor: UserDep, force: bool = False
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    reason = changes.pop("reason", None)
    # null for a required field means "unchanged"; for an optional one, "clear it"
    changes = {k: v for k, v in changes.items() if v is not None or k in ("language", "first_seen", "seen_where")}
    if "sources" in changes and changes["sources"] is not None:
        changes["sources"] = [dict(s) for s in changes["sources"]]
    c = service.edit_claim(session, actor, claim_id, changes, reason=reason, force=force)
    return service.claim_dict(session, c)


@router.post("/{claim_id}/review", summary="Review a draft (a second reviewer)")
def review(claim_id: PathId, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    return service.claim_dict(session, service.review_claim(session, actor, claim_id))


@router.post("/{claim_id}/publish", summary="Publish a reviewed claim")
def publish(claim_id: PathId, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    return service.claim_dict(session, service.publish_claim(session, actor, claim_id))
