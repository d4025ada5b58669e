"""Public pages of the rumor registry (no login): the searchable list of refuted rumors, each claim with its
explanation and sources, an Atom feed, and the "is this true?" form whose questions land in the reviewers'
queue with the matcher's suggestions. Every page has a ``.json`` twin. Everything is escaped (Jinja2
autoescape on every template, JSON-LD in a script element with ``<``, ``>`` and ``&`` escaped).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from accord.auth.roles import PUBLIC
from accord.disclosure import pages as disclosure_pages
from accord.disclosure.pages import Ctx
from accord.errors import AccordError, NotFound
from accord.rumors import matcher, service
from accord.rumors.model import VERDICTS
from accord.web.deps import SessionDep

HERE = Path(__file__).parent
PAGE_SIZE = 20
FEED_SIZE = 50

router = APIRouter(prefix="/public/rumors", include_in_schema=False)
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(disclosure_pages.HERE / "templates")]),
    autoescape=True,
)

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "rumors": "Rumors and facts",
        "lead": "Claims that circulate, checked by the health authorities: the verdict, why, and the sources.",
        "search": "Search",
        "search_placeholder": "paste a message you received, or a few words",
        "all_verdicts": "All verdicts",
        "false": "False",
        "misleading": "Misleading",
        "unproven": "Unproven",
        "true": "True",
        "verdict": "Verdict",
        "claim": "Claim",
        "why": "Why",
        "sources": "Sources",
        "first_seen": "First seen",
        "seen_where": "Where",
        "issued_by": "Refuted by",
        "published": "Published",
        "updated": "Updated",
        "history": "History of this page",
        "similar": "similarity",
        "none": "No refuted rumors match.",
        "ask": "Is this true? Ask us",
        "ask_lead": "Paste a message you are not sure about. Reviewers of the health commission will look at it.",
        "send": "Send",
        "thanks": "Thank you: your question is in the reviewers' queue.",
        "maybe": "These answers already published may help:",
        "nothing_yet": "We have not answered anything like it yet.",
        "prev": "Previous",
        "next": "Next",
        "feed": "Atom feed",
    },
    "zh": {
        "rumors": "辟谣",
        "lead": "卫生健康部门核查过的流传说法：结论、理由与权威来源。",
        "search": "搜索",
        "search_placeholder": "粘贴收到的消息，或输入关键词",
        "all_verdicts": "全部结论",
        "false": "谣言",
        "misleading": "误导",
        "unproven": "未经证实",
        "true": "属实",
        "verdict": "结论",
        "claim": "说法",
        "why": "理由",
        "sources": "来源",
        "first_seen": "首次发现",
        "seen_where": "出处",
        "issued_by": "发布机构",
        "published": "发布于",
        "updated": "更新于",
        "history": "修改记录",
        "similar": "相似度",
        "none": "没有匹配的辟谣信息。",
        "ask": "这是真的吗？向我们提问",
        "ask_lead": "粘贴你不确定的消息，卫生健康委的审核人员会查看。",
        "send": "提交",
        "thanks": "谢谢：你的问题已进入审核队列。",
        "maybe": "以下已发布的辟谣可能有帮助：",
        "nothing_yet": "我们还没有回答过类似的问题。",
        "prev": "上一页",
        "next": "下一页",
        "feed": "Atom 订阅",
    },
}


def install(app: FastAPI) -> None:
    """Add the pages and the API to an app, the pages ahead of the disclosure catch-alls (``/public/{code}``)."""
    before = len(app.router.routes)
    app.include_router(router)
    from accord.rumors.api import router as api_router

    if not any(isinstance(r, APIRoute) and r.path.startswith("/api/v1/rumors") for r in app.router.routes):
        app.include_router(api_router)
    mine = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = mine


# -------------------------------------------------------------------------------------------- helpers
def _labels(ctx: Ctx) -> dict[str, str]:
    return {**ctx.t, **LABELS.get(ctx.lang, LABELS["en"])}


def _render(template: str, request: Request, ctx: Ctx, status: int = 200, **values: Any) -> HTMLResponse:
    html = env.get_template(template).render(
        ctx=ctx, t=_labels(ctx), static=disclosure_pages.STATIC, request_path=request.url.path, **values
    )
    return HTMLResponse(html, status_code=status)


def _jsonld(value: Any) -> str:
    """JSON for a <script> element: nothing in it can close the element or open a comment."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _problem_page(request: Request, exc: AccordError, template: str = "notfound.html") -> Response:
    ctx = Ctx(request)
    return _render(template, request, ctx, exc.status, message=str(exc), link="/public/rumors")


# ---------------------------------------------------------------------------------------------- routes
@router.get("")
def index_page(request: Request, session: SessionDep) -> Response:
    return _list(request, session, "html")


@router.get(".json")
def index_json(request: Request, session: SessionDep) -> Response:
    return _list(request, session, "json")


def _list(request: Request, session: SessionDep, ext: str) -> Response:
    qp = request.query_params
    q = (qp.get("q") or "").strip() or None
    verdict = qp.get("verdict") or None
    if verdict not in (None, *VERDICTS):
        verdict = None
    try:
        page_no = max(1, int(qp.get("page", "1")))
    except ValueError:
        page_no = 1
    ctx = Ctx(request, q=q, verdict=verdict)
    error: str | None = None
    rows: list[tuple[Any, float | None]] = []
    total = 0
    try:
        rows, total = service.list_claims(
            session, PUBLIC, verdict=verdict, q=q, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE
        )
    except AccordError as exc:
        if ext == "json":
            raise
        error = str(exc)
    claims = [service.claim_dict(session, c, s) for c, s in rows]
    if ext == "json":
        return JSONResponse(
            {"q": q, "verdict": verdict, "page": page_no, "page_size": PAGE_SIZE, "total": total, "data": claims}
        )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return _render(
        "rumors.html",
        request,
        ctx,
        claims=claims,
        q=q or "",
        verdict=verdict,
        verdicts=VERDICTS,
        total=total,
        page_no=page_no,
        pages=pages,
        error=error,
        max_chars=matcher.MAX_MESSAGE_CHARS,
    )


@router.get("/feed.atom")
def feed(request: Request, session: SessionDep) -> Response:
    rows, _ = service.list_claims(session, PUBLIC, limit=FEED_SIZE)
    claims = [service.claim_dict(session, c) for c, _ in rows]
    ctx = Ctx(request)
    updated = max((c["updated_at"] for c in claims), default="1970-01-01T00:00:00+00:00")
    xml = env.get_template("rumors_feed.atom").render(
        ctx=ctx, t=_labels(ctx), claims=claims, updated=updated, base=str(request.base_url).rstrip("/")
    )
    return Response(xml, media_type="application/atom+xml; charset=utf-8")


@router.get("/ask")
def ask_form(request: Request) -> Response:
    ctx = Ctx(request)
    return _render("rumors_ask.html", request, ctx, max_chars=matcher.MAX_MESSAGE_CHARS, question=None)


@router.get("/ask.json")
def ask_form_json() -> Response:
    return JSONResponse(
        {
            "method": "POST",
            "action": "/public/rumors/ask.json",
            "fields": {
                "text": f"the message, at most {matcher.MAX_MESSAGE_CHARS:,} characters",
                "language": "optional",
            },
        }
    )


@router.post("/ask")
def ask_post(
    request: Request,
    session: SessionDep,
    text: Annotated[str, Form(max_length=matcher.MAX_MESSAGE_CHARS * 4)] = "",
    language: Annotated[str | None, Form(max_length=35)] = None,
) -> Response:
    ctx = Ctx(request)
    try:
        q = service.ask(session, text, language or ctx.lang)
    except AccordError as exc:
        return _render(
            "rumors_ask.html",
            request,
            ctx,
            exc.status,
            max_chars=matcher.MAX_MESSAGE_CHARS,
            question=None,
            error=str(exc),
            text=text[: matcher.MAX_MESSAGE_CHARS * 2],
        )
    return _render(
        "rumors_ask.html",
        request,
        ctx,
        201,
        max_chars=matcher.MAX_MESSAGE_CHARS,
        question=_public_question(session, q),
    )


@router.post("/ask.json", status_code=201)
def ask_post_json(
    request: Request,
    session: SessionDep,
    text: Annotated[str, Form(max_length=matcher.MAX_MESSAGE_CHARS * 4)] = "",
    language: Annotated[str | None, Form(max_length=35)] = None,
) -> dict[str, Any]:
    q = service.ask(session, text, language)
    return _public_question(session, q)


def _public_question(session: SessionDep, q: Any) -> dict[str, Any]:
    """What the asker sees: their question and the published answers that look like it (never drafts)."""
    out = service.question_dict(session, q)
    out["suggestions"] = [s for s in out["suggestions"] if s.get("status") == "published"]
    return out


@router.get("/{name}")
def claim_page(request: Request, session: SessionDep, name: str) -> Response:
    base, ext = disclosure_pages.split(name, ("json", "jsonld"))
    if not base.isdigit() or len(base) > 12:
        if ext != "html":
            raise NotFound(f"no published claim '{base}'")
        return _problem_page(request, NotFound(f"There is no published claim '{base}'."))
    try:
        c = service.get_claim(session, PUBLIC, int(base))
    except NotFound as exc:
        if ext != "html":
            raise
        return _problem_page(request, NotFound(f"There is no published claim {base}: {exc}"))
    data = service.claim_dict(session, c)
    review = service.claim_review(session, c, str(request.base_url).rstrip("/"))
    if ext == "json":
        return JSONResponse({**data, "history": service.history(session, PUBLIC, c.id)})
    if ext == "jsonld":
        return Response(json.dumps(review, ensure_ascii=False), media_type="application/ld+json")
    ctx = Ctx(request)
    return _render(
        "rumor.html",
        request,
        ctx,
        c=data,
        history=service.history(session, PUBLIC, c.id),
        jsonld=_jsonld(review),
    )
