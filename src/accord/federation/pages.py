"""Pages of the federation capability, installed ahead of the disclosure catch-alls.

``/public/federation`` shows the members and whether each is current, stale or silent, the pool's shipments and
the shared document registry; ``.json`` and ``.csv`` twins give the members table.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from accord.db import utcnow
from accord.disclosure import pages as disclosure_pages
from accord.disclosure.pages import Ctx
from accord.federation import hub, identity, peers
from accord.federation.api import fed_settings
from accord.federation.api import router as api_router
from accord.web import tables
from accord.web.deps import SessionDep
from accord.web.mount import install_ahead

HERE = Path(__file__).parent
router = APIRouter(prefix="/public/federation", include_in_schema=False)
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(disclosure_pages.HERE / "templates")]),
    autoescape=True,
)


@router.get("")
def federation_page(request: Request, session: SessionDep, q: str = "") -> Response:
    now = utcnow()
    settings = fed_settings()
    members = peers.member_status(session, now, settings.silent_after_hours)
    me = identity.active_key_row(session, required=False)
    ctx = Ctx(request, q=q)
    html = env.get_template("federation.html").render(
        ctx=ctx,
        t=ctx.t,
        static=disclosure_pages.STATIC,
        me=me.jurisdiction if me else "",
        as_of=now.strftime("%Y-%m-%d %H:%M UTC"),
        silent_hours=f"{settings.silent_after_hours:g}",
        members=members.to_dict(orient="records"),
        shipments=hub.shipments_frame(session).tail(200).to_dict(orient="records"),
        documents=hub.search_documents(session, q, limit=50).to_dict(orient="records"),
        q=q,
    )
    return Response(html, media_type="text/html; charset=utf-8")


@router.get(".{ext}")
def federation_twin(ext: str, session: SessionDep) -> Response:
    now = utcnow()
    frame = peers.member_status(session, now, fed_settings().silent_after_hours)
    if ext not in ("json", "csv"):
        ext = "json"
    return tables.render(frame, ext, "federation_members", {"as_of": now.isoformat()})


def install(app: FastAPI) -> None:
    install_ahead(app, api_router, router)
