"""Public pages (no login): overview, provenance, bulletin and feed, errata, open data, scorecard.

Server-rendered, state in the URL (``date``, ``lang``, ``sort``, ``dir``, ``scale``); every page has data
twins at the same URL with ``.json`` / ``.csv``. Thin: parse, call :mod:`.service`, render.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import plotly
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from accord.disclosure import bulletin, codebook, i18n, mapview, opendata, service
from accord.disclosure.config import load_policy
from accord.disclosure.service import PageNotFound
from accord.disclosure.suppression import OFF, SuppressionPolicy
from accord.places.model import Jurisdiction
from accord.surveillance import indicators as ind
from accord.web import tables
from accord.web.deps import SessionDep

HERE = Path(__file__).parent
STATIC = "/public/_static"
PLOTLY = "/public/_vendor/plotly.min.js"
TWINS = ("json", "csv")

router = APIRouter(prefix="/public", include_in_schema=False)
env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "xml"]))


def install(app: FastAPI) -> None:
    """Add the public pages to an app: static files first, so their paths never reach the page routes."""
    app.mount(STATIC, StaticFiles(directory=HERE / "static"), name="disclosure-static")

    @app.get(PLOTLY, include_in_schema=False)
    def plotly_js() -> FileResponse:
        # served from the installed plotly wheel: no CDN, no copy in the repository
        path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    app.add_exception_handler(PageNotFound, _not_found)  # type: ignore[arg-type]
    # small-count suppression (ACCORD_SUPPRESS_*): one policy for every page, twin, download and bulletin
    if not isinstance(getattr(app.state, "suppression", None), SuppressionPolicy):
        app.state.suppression = load_policy()
    app.include_router(router)


def policy_of(request: Request) -> SuppressionPolicy:
    policy = getattr(request.app.state, "suppression", None)
    return policy if isinstance(policy, SuppressionPolicy) else OFF


# --------------------------------------------------------------------------------------------- helpers
def split(name: str, allowed: tuple[str, ...] = TWINS) -> tuple[str, str]:
    """'AR-01.json' -> ('AR-01', 'json'); a name without a known suffix is an HTML page."""
    base, dot, ext = name.rpartition(".")
    if dot and ext in allowed:
        return base, ext
    return name, "html"


def _fmt_n(value: Any, digits: int = 0) -> str:
    if isinstance(value, str):  # the mark of a withheld figure
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _fmt_pct(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:+.0f}%"


env.filters["n"] = _fmt_n
env.filters["pct"] = _fmt_pct


class Ctx:
    """The state of a page as URL parameters, and links that keep it."""

    def __init__(self, request: Request, **state: Any) -> None:
        self.lang = i18n.lang_of(request.query_params.get("lang"))
        self.t = i18n.labels(self.lang)
        self.policy = policy_of(request)
        self.state = {k: v for k, v in state.items() if v not in (None, "")}
        if self.lang != "en":
            self.state["lang"] = self.lang

    def link(self, path: str, **changes: Any) -> str:
        params = {**self.state, **changes}
        params = {k: v for k, v in params.items() if v not in (None, "")}
        return path + ("?" + urlencode(params) if params else "")

    def name(self, j: Jurisdiction) -> str:
        return (j.local_name or j.name) if self.lang == "zh" else j.name


def page(template: str, ctx: Ctx, status: int = 200, **values: Any) -> HTMLResponse:
    html = env.get_template(template).render(ctx=ctx, t=ctx.t, static=STATIC, plotly=PLOTLY, **values)
    return HTMLResponse(html, status_code=status)


def _not_found(request: Request, exc: PageNotFound) -> Response:
    last = request.url.path.rsplit("/", 1)[-1]
    if split(last, (*TWINS, "md", "atom", "parquet"))[1] != "html":
        return JSONResponse(
            {"type": "/problems/not-found", "title": "not found", "status": 404, "detail": str(exc)},
            status_code=404,
            media_type="application/problem+json",
        )
    ctx = Ctx(request)
    return page("notfound.html", ctx, 404, message=str(exc), link=exc.link or "/public")


def twin(frame: pd.DataFrame, ext: str, filename: str, meta: dict[str, Any]) -> Response:
    return tables.render(frame, ext, filename, meta)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return tables._jsonable(frame)


# ---------------------------------------------------------------------------------------------- routes
@router.get("")
def home(session: SessionDep) -> RedirectResponse:
    root = session.scalar(select(Jurisdiction.code).where(Jurisdiction.parent_id.is_(None)).order_by(Jurisdiction.id))
    if root is None:
        raise PageNotFound("No jurisdictions are loaded yet; run 'accord demo' or 'accord places import'.")
    return RedirectResponse(f"/public/{root}")


@router.get("/{name}")
def overview_page(request: Request, session: SessionDep, name: str) -> Response:
    code, ext = split(name)
    q = request.query_params
    ov = service.overview(session, code, q.get("date"), policy_of(request))
    sort, desc = q.get("sort", "code"), q.get("dir", "asc") == "desc"
    table = service.sort_children(ov.children, sort, desc)
    day = ov.day.isoformat() if ov.day else None
    if ext != "html":
        meta = {
            "jurisdiction": ov.node.code,
            "name": ov.node.name,
            "date": day,
            "cards": [_card_json(c) for c in ov.cards],
            "curve": _records(ov.curve),
            "path": [j.code for j in ov.path],
            "unallocated": ov.unallocated,
            "view": "public",
        }
        return twin(table, ext, f"{ov.node.code}_{day}_overview", meta)
    ctx = Ctx(request, date=q.get("date"), sort=q.get("sort"), dir=q.get("dir"), scale=q.get("scale"))
    scale = "log" if q.get("scale") == "log" else "linear"
    curve_json = json.dumps(
        {
            "x": ov.curve["date"].dt.strftime("%Y-%m-%d").tolist() if len(ov.curve) else [],
            "bars": _floats(ov.curve["new_confirmed"]),
            "line": _floats(ov.curve["avg7"]),
            "scale": scale,
            "labels": [ctx.t["new_confirmed"], ctx.t["avg7"]],
        }
    ).replace("</", "<\\/")  # never let data close the script element
    return page(
        "overview.html",
        ctx,
        ov=ov,
        table=table.to_dict(orient="records"),
        sort=sort,
        desc=desc,
        scale=scale,
        curve_json=curve_json,
        map=_map(ov, ctx),
        kid_names={k.code: ctx.name(k) for k in ov.kids},
        columns=[
            ("name", ctx.t["name"]),
            ("population", ctx.t["population"]),
            ("new_confirmed", ctx.t["new_confirmed"]),
            ("last7", ctx.t["last7"]),
            ("per100k", ctx.t["per100k"]),
            ("growth", ctx.t["growth"]),
            ("cum_confirmed", ctx.t["cum_confirmed"]),
            ("cum_per100k", ctx.t["cum_confirmed"] + " / 100k"),
            ("cum_deaths", ctx.t["cum_deaths"]),
        ],
    )


def _floats(s: pd.Series) -> list[float | None]:
    """Numbers for the chart: withheld figures (marks) and missing ones are gaps."""
    return [None if isinstance(v, str) or pd.isna(v) else float(v) for v in s]


def _card_json(c: service.Card) -> dict[str, Any]:
    return {"key": c.key, "value": c.value, "avg7": c.avg7, "change_vs_last_week": c.change, **dict(c.sub)}


def _map(ov: service.Overview, ctx: Ctx) -> mapview.MapView:
    """The map of the children (projected and simplified once per overview and language)."""
    hit = ov.derived.get(f"map:{ctx.lang}")
    if isinstance(hit, mapview.MapView):
        return hit
    built = _build_map(ov, ctx)
    ov.derived[f"map:{ctx.lang}"] = built
    return built


def _build_map(ov: service.Overview, ctx: Ctx) -> mapview.MapView:
    per = dict(zip(ov.children["code"], ov.children["per100k"], strict=True))
    items = [
        mapview.Item(
            k.code,
            ctx.name(k),
            service.num(per.get(k.code)),
            k.boundary,
            k.lon,
            k.lat,
        )
        for k in ov.kids
    ]
    return mapview.build(items)


@router.get("/{code}/{view}")
def subpage(request: Request, session: SessionDep, code: str, view: str) -> Response:
    name, ext = split(view, (*TWINS, "md", "atom", "parquet"))
    handler = SUBPAGES.get(name)
    if handler is None:
        raise PageNotFound(f"There is no page '{view}' for {code}.", link=f"/public/{code}")
    return handler(request, session, code, ext)


def provenance_page(request: Request, session: Any, code: str, ext: str) -> Response:
    q = request.query_params
    p = service.provenance(
        session, code, q.get("indicator", "new_confirmed"), q.get("date"), q.get("part", ""), policy_of(request)
    )
    if ext in TWINS:
        meta = {
            "jurisdiction": code,
            "indicator": p.indicator.code,
            "reported_as": p.count_code,
            "part": p.part,
            "date": p.day.isoformat(),
            "value": p.value,
            "own": p.own,
            "children_sum": p.children_sum,
            "children": _records(p.children),
        }
        return twin(p.revisions, ext, f"{code}_{p.count_code}_{p.day}_provenance", meta)
    ctx = Ctx(request, date=p.day.isoformat())
    own, kids_sum = service.num(p.own), service.num(p.children_sum)
    unalloc = service.derive(None if own is None or kids_sum is None else own - kids_sum, p.own, p.children_sum)
    return page(
        "provenance.html",
        ctx,
        p=p,
        path=service.path_of(session, p.node.id),
        revisions=p.revisions.to_dict(orient="records"),
        children=p.children.to_dict(orient="records"),
        unallocated=unalloc,
        label=_indicator_label(p.count_code, ctx.lang),
    )


def _indicator_label(code: str, lang: str) -> str:
    spec = ind.CATALOG[code]
    return spec.label_zh if lang == "zh" else spec.label


def bulletin_page(request: Request, session: Any, code: str, ext: str) -> Response:
    ctx = Ctx(request, date=request.query_params.get("date"))
    facts = service.bulletin_facts(session, code, request.query_params.get("date"), policy_of(request))
    b = bulletin.compose(facts, ctx.lang)
    if ext == "md":
        return Response(bulletin.to_markdown(b), media_type="text/markdown; charset=utf-8")
    if ext == "json":
        return JSONResponse({"title": b.title, "lang": b.lang, "date": facts.day.isoformat(), **_facts_json(facts)})
    if ext == "csv":
        rows = pd.DataFrame(b.table, columns=["jurisdiction", "new_confirmed", "imported", "local"])
        return twin(rows, "csv", f"{code}_{facts.day}_bulletin", {})
    node = service.node_or_404(session, code)
    return page("bulletin.html", ctx, b=b, node=node, day=facts.day, path=service.path_of(session, node.id))


def _facts_json(f: bulletin.Facts) -> dict[str, Any]:
    return {
        k: v
        for k, v in {
            "jurisdiction": f.code,
            "new_confirmed": f.new_confirmed,
            "imported": f.imported,
            "local": f.local,
            "new_deaths": f.new_deaths,
            "new_recovered": f.new_recovered,
            "cum_confirmed": f.cum_confirmed,
            "cum_deaths": f.cum_deaths,
            "cum_recovered": f.cum_recovered,
            "active": f.active,
            "severe": f.severe,
            "hospitalised": f.hospitalised,
            "new_tests": f.new_tests,
            "parts": [p.__dict__ for p in f.parts],
            "revisions": [{**r.__dict__, "day": r.day.isoformat()} for r in f.revisions],
        }.items()
    }


def feed(request: Request, session: Any, code: str, ext: str) -> Response:
    if ext != "atom":
        raise PageNotFound("The feed is at feed.atom.", link=f"/public/{code}/feed.atom")
    ctx = Ctx(request)
    node = service.node_or_404(session, code)
    entries = []
    days = service.recent_days(session, code, 14)
    for facts in service.bulletins(session, node, days, policy_of(request)):
        b = bulletin.compose(facts, ctx.lang)
        link = ctx.link(f"/public/{code}/bulletin", date=facts.day.isoformat())
        entries.append({"day": facts.day, "b": b, "link": link})
    base = str(request.base_url).rstrip("/")
    xml = env.get_template("feed.atom").render(
        node=node, entries=entries, base=base, ctx=ctx, updated=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    return Response(xml, media_type="application/atom+xml; charset=utf-8")


def errata_page(request: Request, session: Any, code: str, ext: str) -> Response:
    frame = service.errata(session, code, policy=policy_of(request))
    if ext in TWINS:
        return twin(frame, ext, f"{code}_errata", {"jurisdiction": code})
    ctx = Ctx(request)
    node = service.node_or_404(session, code)
    return page(
        "errata.html",
        ctx,
        node=node,
        rows=frame.to_dict(orient="records"),
        path=service.path_of(session, node.id),
    )


def scorecard_page(request: Request, session: Any, code: str, ext: str) -> Response:
    sc = service.scorecard_for(session, code, request.query_params.get("date"))
    if ext in TWINS:
        meta = {
            "jurisdiction": code,
            "start": sc.start.isoformat(),
            "end": sc.end.isoformat(),
            "levels": _records(sc.levels),
            "escalations": _records(sc.escalations),
        }
        return twin(sc.units, ext, f"{code}_{sc.end}_scorecard", meta)
    ctx = Ctx(request, date=request.query_params.get("date"))
    return page(
        "scorecard.html",
        ctx,
        sc=sc,
        units=sc.units.head(200).to_dict(orient="records"),
        levels=sc.levels.to_dict(orient="records"),
        escalations=sc.escalations.to_dict(orient="records"),
        path=service.path_of(session, sc.node.id),
    )


def opendata_page(request: Request, session: Any, code: str, ext: str) -> Response:
    levels = service.opendata_levels(session, code)
    files = [
        {
            "level": lvl,
            "units": n,
            "layout": lay,
            "href": f"/public/{code}/download.{_ext(lay)}?level={lvl}&layout={lay}",
        }
        for lvl, n in levels
        for lay in codebook.LAYOUTS
    ]
    if ext in TWINS:
        return twin(pd.DataFrame(files), ext, f"{code}_opendata", {"jurisdiction": code})
    ctx = Ctx(request)
    node = service.node_or_404(session, code)
    return page(
        "opendata.html",
        ctx,
        node=node,
        levels=levels,
        layouts=codebook.LAYOUTS,
        files=files,
        path=service.path_of(session, node.id),
    )


def _ext(layout: str) -> str:
    return "parquet" if layout == "parquet" else "csv"


def download(request: Request, session: Any, code: str, ext: str) -> Response:
    """One bulk file: a level under a jurisdiction in one layout (published figures only)."""
    q = request.query_params
    level, layout = q.get("level") or None, q.get("layout", "csv")
    service.node_or_404(session, code)
    if layout not in codebook.LAYOUTS:
        raise PageNotFound(f"There is no layout '{layout}'; use one of {', '.join(codebook.LAYOUTS)}.")
    if level is not None and level not in dict(service.opendata_levels(session, code)):
        raise PageNotFound(f"There is no level '{level}' under {code}.", link=f"/public/{code}/opendata")
    data, media, name = opendata.export(session, layout, code, level, policy_of(request))
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def codebook_page(request: Request, session: Any, code: str, ext: str) -> Response:
    frame = pd.DataFrame([c.as_dict() for c in codebook.codebook()])
    if ext in TWINS:
        return twin(frame, ext, "codebook", {})
    ctx = Ctx(request)
    node = service.node_or_404(session, code)
    return page(
        "codebook.html",
        ctx,
        node=node,
        rows=frame.to_dict(orient="records"),
        path=service.path_of(session, node.id),
    )


SUBPAGES = {
    "provenance": provenance_page,
    "bulletin": bulletin_page,
    "feed": feed,
    "errata": errata_page,
    "scorecard": scorecard_page,
    "opendata": opendata_page,
    "download": download,
    "codebook": codebook_page,
}


def today() -> date:
    return datetime.now(UTC).date()
