"""Pages of the tracing capability, installed ahead of the disclosure catch-alls.

- ``/tracing/tasks``: the worker's phone page: today's list, one tap records the outcome (a plain form POST,
  no script, one small HTML document with inline style, so it works on a slow connection); ``.json`` twin.
- ``/tracing/chains/{code}``: clusters with an interactive graph and a timeline (plotly.js from the wheel);
  ``.csv`` / ``.json`` twins without personal data (cases numbered per page, no refs, no identities).
- ``/tracing/audit/{code}``: the data-protection officer's view of the audit; ``.csv`` / ``.json`` twins.

These pages are not public. A browser signs in once at ``/tracing/login`` with its API token, kept in an
HttpOnly, SameSite=Strict cookie limited to ``/tracing`` (so no other site can post a form with it); API
clients may send ``Authorization: Bearer`` instead. Everything is escaped by Jinja2 autoescape; the chain data
sit in a JSON script element with ``<``, ``>`` and ``&`` escaped.
"""

from __future__ import annotations

import gzip
import json
import math
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import networkx as nx
import numpy as np
import pandas as pd
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import Actor
from accord.disclosure import pages as disclosure_pages
from accord.errors import AccordError, Unauthorized
from accord.places import service as places
from accord.tracing import access, chain_sets, worklists
from accord.tracing.api import _jsonable
from accord.tracing.api import router as api_router
from accord.tracing.model import TASK_OUTCOMES
from accord.web import tables
from accord.web.deps import SessionDep
from accord.web.mount import install_ahead

HERE = Path(__file__).parent
STATIC = "/tracing/_static"
COOKIE = "accord_token"
GRAPH_CLUSTERS = 40  # largest clusters drawn in the graph when none is chosen
GRAPH_NODES = 1500

router = APIRouter(prefix="/tracing", include_in_schema=False)
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(disclosure_pages.HERE / "templates")]),
    autoescape=True,
)


def _num(value: Any, digits: int = 2) -> str:
    """A figure for the page: '–' when unknown (NaN/None), '∞' when infinite."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


env.filters["num"] = _num
KIND_LABELS = {
    "followup": "Symptom check",
    "screening": "Door-to-door screening",
    "delivery": "Delivery",
    "transport": "Transport to fever clinic",
}
OUTCOME_LABELS = {
    "well": "Well",
    "symptoms": "Symptoms",
    "unreachable": "Not reached",
    "screened": "Screened",
    "fever_found": "Fever found",
    "nobody_home": "Nobody home",
    "delivered": "Delivered",
    "refused": "Refused",
    "transported": "Transported",
    "not_needed": "Not needed",
}


def install(app: FastAPI) -> None:
    install_ahead(app, router, api_router)
    if not any(getattr(r, "path", None) == STATIC for r in app.router.routes):
        app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="tracing-static")


# -------------------------------------------------------------------------------------------- helpers
def _actor(request: Request, session: Session) -> Actor | None:
    header = request.headers.get("authorization", "")
    token = header.partition(" ")[2].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE)
    return auth.authenticate(session, token) if token else None


def _render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = env.get_template(template).render(
        static=disclosure_pages.STATIC, tracing_static=STATIC, plotly=disclosure_pages.PLOTLY, inf=math.inf, **values
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _problem(exc: AccordError, actor: Actor | None) -> HTMLResponse:
    return _render(
        "error.html", exc.status, title="Not allowed" if exc.status == 403 else "Problem", message=str(exc), actor=actor
    )


def _split(name: str) -> tuple[str, str]:
    for ext in ("json", "csv"):
        if name.endswith("." + ext):
            return name[: -len(ext) - 1], ext
    return name, "html"


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/tracing/login?next={target}", status_code=303)


def _script_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _day(value: str | None) -> date:
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AccordError("invalid day", status=400) from None


# ---------------------------------------------------------------------------------------------- login
@router.get("/login")
def login_page(request: Request, next: str = "/tracing/tasks") -> Response:
    return _render("login.html", next=next, actor=None, message=None)


@router.post("/login")
def login(
    session: SessionDep, token: Annotated[str, Form(max_length=200)], next: Annotated[str, Form()] = "/tracing/tasks"
) -> Response:
    try:
        actor = auth.authenticate(session, token.strip())
    except Unauthorized as exc:
        return _render("login.html", 401, next=next, actor=None, message=str(exc))
    target = next if next.startswith("/tracing/") and "//" not in next else "/tracing/tasks"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/tracing", max_age=12 * 3600)
    auth.audit(session, actor.user_id, "tracing.login", actor.username, {"by": actor.username})
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/tracing/login", status_code=303)
    response.delete_cookie(COOKIE, path="/tracing")
    return response


# ---------------------------------------------------------------------------------------------- tasks
@router.get("/tasks")
def tasks_page(request: Request, session: SessionDep, day: str | None = None, message: str | None = None) -> Response:
    actor = _actor(request, session)
    if actor is None:
        return _login_redirect(request)
    the_day = _day(day)
    try:
        frame = worklists.task_list(session, actor, the_day)
    except AccordError as exc:
        return _problem(exc, actor)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return _gzipped(
        request,
        _render(
            "tasks.html",
            actor=actor,
            day=the_day,
            prev=the_day - timedelta(days=1),
            next=the_day + timedelta(days=1),
            tasks=rows,
            open_count=int((frame["status"] == "open").sum()),
            outcomes=TASK_OUTCOMES,
            kinds=KIND_LABELS,
            labels=OUTCOME_LABELS,
            message=message,
        ),
    )


def _gzipped(request: Request, response: HTMLResponse) -> HTMLResponse:
    """The phone page compressed when the browser accepts it: a list of a hundred tasks shrinks ~8x, which is
    what a slow connection needs (the app adds no compression of its own)."""
    if "gzip" not in request.headers.get("accept-encoding", "") or len(response.body) < 1400:
        return response
    body = gzip.compress(bytes(response.body), compresslevel=5)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    out = HTMLResponse(body, status_code=response.status_code, headers=headers)
    out.headers["Content-Encoding"] = "gzip"
    out.headers["Vary"] = "Accept-Encoding"
    return out


@router.get("/tasks.json")
def tasks_json(request: Request, session: SessionDep, day: str | None = None) -> Response:
    actor = _actor(request, session)
    if actor is None:
        raise Unauthorized("sign in at /tracing/login or send 'Authorization: Bearer <token>'")
    frame = worklists.task_list(session, actor, _day(day))
    return tables.render(frame, "json", "tasks", {"day": _day(day).isoformat()})


@router.post("/tasks/{task_id}/outcome")
def task_outcome(
    request: Request,
    session: SessionDep,
    task_id: int,
    outcome: Annotated[str, Form(max_length=20)],
    day: str | None = None,
) -> Response:
    actor = _actor(request, session)
    if actor is None:
        return _login_redirect(request)
    try:
        worklists.record_outcome(session, actor, task_id, outcome)
    except AccordError as exc:
        return _problem(exc, actor)
    label = OUTCOME_LABELS.get(outcome, outcome)
    return RedirectResponse(f"/tracing/tasks?day={_day(day).isoformat()}&message=Saved: {label}", status_code=303)


# --------------------------------------------------------------------------------------------- chains
@router.get("/chains/{name}")
def chains_page(
    request: Request, session: SessionDep, name: str, min_size: int = 2, cluster: int | None = None
) -> Response:
    code, ext = _split(name)
    actor = _actor(request, session)
    if actor is None:
        if ext != "html":
            raise Unauthorized("sign in at /tracing/login or send 'Authorization: Bearer <token>'")
        return _login_redirect(request)
    try:
        cs = chain_sets.chains_for(session, actor, code, max(min_size, 1))
        stats = chain_sets.chain_statistics(chain_sets.chain_set(session, code, 1))
    except AccordError as exc:
        if ext != "html":
            raise
        return _problem(exc, actor)
    nodes, edges = _graph(cs, cluster)
    if ext == "csv":
        return tables.render(cs.clusters, "csv", f"clusters-{code}")
    if ext == "json":
        clusters_json = json.loads(cs.clusters.to_json(orient="records", date_format="iso"))
        body = {
            "jurisdiction": code,
            "min_size": min_size,
            "statistics": stats,
            "clusters": clusters_json,
            "nodes": nodes,
            "edges": edges,
        }
        return JSONResponse(_jsonable(body))
    node = places.get(session, code)
    clusters = cs.clusters.astype(object).where(cs.clusters.notna(), None).to_dict("records")
    for c in clusters:
        for key in ("first_onset", "last_onset"):
            c[key] = c[key].date().isoformat() if c[key] is not None else None
    return _render(
        "chains.html",
        actor=actor,
        node=node,
        stats=stats,
        clusters=clusters,
        min_size=min_size,
        cluster=cluster,
        graph_json=_script_json({"nodes": nodes, "edges": edges}),
    )


def _graph(cs: chain_sets.ChainSet, cluster: int | None) -> tuple[list[dict[str, Any]], list[dict[str, int]]]:
    """The nodes of the chosen cluster (or the largest ones) placed by a seeded spring layout, one cluster per
    cell of a grid, and the infector -> infectee edges among them. Numbered per page: no person refs."""
    nodes = cs.nodes
    if cluster:
        chosen = nodes[nodes["cluster"] == cluster]
    else:
        chosen = nodes[(nodes["cluster"] > 0) & (nodes["cluster"] <= GRAPH_CLUSTERS)]
    chosen = chosen.head(GRAPH_NODES)
    renumber = pd.Series(np.arange(len(chosen)), index=chosen["node"].to_numpy())
    pairs = pd.DataFrame({"source": cs.infector, "target": cs.infectee})
    if pairs.empty:
        pairs = cs.edges[["source", "target"]]
    pairs = pairs[pairs["source"].isin(renumber.index) & pairs["target"].isin(renumber.index)]
    src, dst = renumber.reindex(pairs["source"]).to_numpy(), renumber.reindex(pairs["target"]).to_numpy()
    xy = np.zeros((len(chosen), 2))
    labels = chosen["cluster"].to_numpy()
    cols = max(1, math.ceil(math.sqrt(max(len(np.unique(labels)), 1))))
    for i, lab in enumerate(np.unique(labels)):
        members = np.flatnonzero(labels == lab)
        g = nx.Graph()
        g.add_nodes_from(members.tolist())
        inside = np.isin(src, members) & np.isin(dst, members)
        g.add_edges_from(zip(src[inside].tolist(), dst[inside].tolist(), strict=True))
        pos = nx.spring_layout(g, seed=7) if len(members) > 1 else {int(members[0]): np.zeros(2)}
        for m in members:
            xy[m] = np.asarray(pos[int(m)]) + np.array([3.0 * (i % cols), -3.0 * (i // cols)])
    rng = np.random.default_rng(0)
    onset = pd.to_datetime(chosen["onset"])
    out_nodes = [
        {
            "node": int(i),
            "cluster": int(c),
            "onset": None if pd.isna(o) else o.date().isoformat(),
            "residence": str(r),
            "origin": str(g),
            "x": round(float(x), 4),
            "y": round(float(y), 4),
            "jitter": round(float(j), 3),
        }
        for i, c, o, r, g, (x, y), j in zip(
            range(len(chosen)),
            labels,
            onset,
            chosen["residence"],
            chosen["origin"],
            xy,
            rng.uniform(-0.3, 0.3, len(chosen)),
            strict=True,
        )
    ]
    return out_nodes, [{"source": int(a), "target": int(b)} for a, b in zip(src, dst, strict=True)]


# ---------------------------------------------------------------------------------------------- audit
@router.get("/audit/{name}")
def audit_page(request: Request, session: SessionDep, name: str, limit: int = 500) -> Response:
    code, ext = _split(name)
    actor = _actor(request, session)
    if actor is None:
        if ext != "html":
            raise Unauthorized("sign in at /tracing/login or send 'Authorization: Bearer <token>'")
        return _login_redirect(request)
    try:
        frame = access.audit_log(session, actor, code, min(max(limit, 1), 5000))
    except AccordError as exc:
        if ext != "html":
            raise
        return _problem(exc, actor)
    frame["detail_text"] = frame["detail"].map(lambda d: json.dumps(d, ensure_ascii=False, default=str))
    if ext != "html":
        return tables.render(frame.drop(columns=["detail"]), ext, f"audit-{code}")
    return _render("audit.html", actor=actor, node=places.get(session, code), entries=frame.to_dict("records"))
