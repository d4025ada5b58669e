"""Public pages of the policy capability (no login), each with ``.json`` and ``.csv`` twins, state in the URL:

- ``/public/policy/risk?date=&level=`` — the risk areas of a day: map (stored boundaries, else a cartogram),
  counts, the list, and the rule version that produced them;
- ``/public/policy/in-force/{code}?date=`` — what is in force at a place on a day and who ordered it, with the
  measures it overrides;
- ``/public/policy/measures?jurisdiction=&indicator=`` — the registry.

Installed ahead of the disclosure catch-alls (``/public/{code}``). Jinja2 autoescape is on for every template.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from sqlalchemy import select

from accord.disclosure import mapview
from accord.disclosure import pages as disclosure_pages
from accord.disclosure.pages import Ctx
from accord.errors import AccordError, NotFound
from accord.places import service as places
from accord.places.model import Jurisdiction
from accord.policy import in_force, indices, measures, risk, risk_areas
from accord.policy.api import plain as api_plain
from accord.policy.api import router as api_router
from accord.web import tables
from accord.web.deps import SessionDep
from accord.web.mount import install_ahead

HERE = Path(__file__).parent
MAX_MAP_SHAPES = 5000

router = APIRouter(prefix="/public/policy", include_in_schema=False)
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(disclosure_pages.HERE / "templates")]),
    autoescape=True,
)
env.filters.update(disclosure_pages.env.filters)

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "risk_title": "Risk areas",
        "risk_lead": "Every area is classified each day by a published rule over the reported cases.",
        "rule": "Rule",
        "high": "High risk",
        "medium": "Medium risk",
        "low": "Low risk",
        "all_levels": "All levels",
        "area": "Area",
        "cases_14d": "New cases in the window",
        "cluster": "Cluster",
        "yes": "yes",
        "no": "no",
        "show": "Show",
        "no_risk": "No classification is stored for this day.",
        "in_force_title": "Measures in force",
        "in_force_lead": "What applies here on this day, and which level of government ordered it.",
        "indicator": "Measure",
        "level": "Level",
        "ordered_by": "Ordered by",
        "since": "Since",
        "until": "Until",
        "overrides": "Overrides",
        "targeted": "targeted",
        "general": "general",
        "nothing": "Nothing is in force here on this day.",
        "notes": "Notes",
        "source": "Source",
        "measures_title": "Measures registry",
        "measures_lead": "Measures coded like the Oxford COVID-19 Government Response Tracker.",
        "jurisdiction": "Issued at",
        "kind": "Kind",
        "further_notice": "until further notice",
        "prev": "Previous",
        "next": "Next",
        "map_note_risk": "Colours: the risk level of each area on this day.",
    },
    "zh": {
        "risk_title": "风险等级",
        "risk_lead": "依据公布的规则，按报告病例每日对各地区进行风险分级。",
        "rule": "规则",
        "high": "高风险",
        "medium": "中风险",
        "low": "低风险",
        "all_levels": "全部等级",
        "area": "地区",
        "cases_14d": "窗口期内新增病例",
        "cluster": "聚集性疫情",
        "yes": "是",
        "no": "否",
        "show": "显示",
        "no_risk": "当日没有分级结果。",
        "in_force_title": "现行措施",
        "in_force_lead": "当日在此适用的措施，以及下达措施的层级。",
        "indicator": "措施",
        "level": "级别",
        "ordered_by": "下达单位",
        "since": "开始",
        "until": "结束",
        "overrides": "取代",
        "targeted": "局部",
        "general": "全域",
        "nothing": "当日此地没有生效的措施。",
        "notes": "说明",
        "source": "来源",
        "measures_title": "措施登记",
        "measures_lead": "按牛津新冠政府应对追踪（OxCGRT）编码的措施。",
        "jurisdiction": "下达单位",
        "kind": "类型",
        "further_notice": "另行通知前",
        "prev": "上一页",
        "next": "下一页",
        "map_note_risk": "颜色表示当日各地区的风险等级。",
    },
}


def install(app: FastAPI) -> None:
    """Add the pages and the API, ahead of the disclosure catch-alls."""
    install_ahead(app, router, api_router)


def _render(template: str, request: Request, ctx: Ctx, status: int = 200, **values: Any) -> HTMLResponse:
    labels = {**ctx.t, **LABELS.get(ctx.lang, LABELS["en"])}
    html = env.get_template(template).render(
        ctx=ctx, t=labels, static=disclosure_pages.STATIC, request_path=request.url.path, **values
    )
    return HTMLResponse(html, status_code=status)


def _problem(request: Request, exc: AccordError, link: str) -> Response:
    return _render("notfound.html", request, Ctx(request), exc.status, message=str(exc), link=link)


def _date(request: Request, default: dt.date | None) -> dt.date | None:
    value = request.query_params.get("date")
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise AccordError(f"'{value[:20]}' is not a date (use YYYY-MM-DD)") from None


# ------------------------------------------------------------------------------------------------ risk areas
@router.get("/risk")
def risk_page(request: Request, session: SessionDep) -> Response:
    return _risk(request, session, "html")


@router.get("/risk.json")
def risk_json(request: Request, session: SessionDep) -> Response:
    return _risk(request, session, "json")


@router.get("/risk.csv")
def risk_csv(request: Request, session: SessionDep) -> Response:
    return _risk(request, session, "csv")


def _risk(request: Request, session: SessionDep, ext: str) -> Response:
    level = request.query_params.get("level") or None
    if level not in (None, *risk.LEVELS):
        level = None
    try:
        days = risk_areas.classified_days(session)
        day = _date(request, days[-1] if days else None)
    except AccordError as exc:
        if ext != "html":
            raise
        return _problem(request, exc, "/public/policy/risk")
    rule = risk_areas.current_rule(session)
    table = risk_areas.risk_table(session, day, rule.version) if day else pd.DataFrame(columns=["jurisdiction"])
    counts = {k: int((table["level"] == k).sum()) if len(table) else 0 for k in risk.LEVELS}
    shown = table[table["level"] == level] if level and len(table) else table
    ctx = Ctx(request, date=day.isoformat() if day else None, level=level)
    if ext != "html":
        frame = shown.drop(columns=["computed_at"], errors="ignore")
        meta = {"date": day.isoformat() if day else None, "rule": rule.as_dict(), "counts": counts}
        return tables.render(api_plain(frame), ext, f"risk-areas-{day}", meta)
    return _render(
        "policy_risk.html",
        request,
        ctx,
        day=day,
        days=days,
        rule=rule,
        counts=counts,
        rows=shown.to_dict("records"),
        level=level,
        levels=risk.LEVELS,
        map=_risk_map(session, table),
        by_code=dict(zip(table["jurisdiction"], table["level"], strict=True)) if len(table) else {},
    )


def _risk_map(session: SessionDep, table: pd.DataFrame) -> mapview.MapView:
    if table.empty or len(table) > MAX_MAP_SHAPES:
        return mapview.MapView("none", 0, 0, ())
    codes = table["jurisdiction"].tolist()
    rows = session.execute(
        select(Jurisdiction.code, Jurisdiction.name, Jurisdiction.boundary, Jurisdiction.lon, Jurisdiction.lat).where(
            Jurisdiction.code.in_(codes)
        )
    ).all()
    value = {"low": 0.0, "medium": 1.0, "high": 2.0}
    level_of = dict(zip(table["jurisdiction"], table["level"], strict=True))
    items = [mapview.Item(c, n, value[level_of[c]], b, lon, lat) for c, n, b, lon, lat in rows]
    return mapview.build(items)


# -------------------------------------------------------------------------------------------------- in force
@router.get("/in-force/{name}")
def in_force_page(request: Request, session: SessionDep, name: str) -> Response:
    code, ext = disclosure_pages.split(name)
    try:
        place = places.get(session, code)
        day = _date(request, dt.datetime.now(dt.UTC).date())
        assert day is not None
        entries = [f.as_dict() for f in in_force.in_force(session, code, day)]
    except AccordError as exc:
        if ext != "html":
            raise
        return _problem(request, exc, "/public/policy/measures")
    if ext != "html":
        frame = pd.DataFrame(
            [
                {
                    "indicator": e["indicator"],
                    "indicator_name": e["indicator_name"],
                    "level": e["level"],
                    "level_label": e["level_label"],
                    "targeted": e["targeted"],
                    "ordered_by": e["ordered_by"],
                    "measure_id": e["measure"]["id"],
                    "start": e["measure"]["start"],
                    "end": e["measure"]["end"],
                    "overrides": ";".join(str(o["id"]) for o in e["overridden"]),
                }
                for e in entries
            ],
            columns=[
                "indicator", "indicator_name", "level", "level_label", "targeted", "ordered_by", "measure_id",
                "start", "end", "overrides",
            ],
        )  # fmt: skip
        return tables.render(frame, ext, f"in-force-{code}-{day}", {"jurisdiction": code, "date": day.isoformat()})
    ctx = Ctx(request, date=day.isoformat())
    path = places.ancestors(session, place.id)
    kids = places.children(session, place.id)
    return _render("policy_in_force.html", request, ctx, place=place, path=path, kids=kids, day=day, entries=entries)


# -------------------------------------------------------------------------------------------------- registry
PAGE_SIZE = 100


@router.get("/measures")
def measures_page(request: Request, session: SessionDep) -> Response:
    return _measures(request, session, "html")


@router.get("/measures.json")
def measures_json(request: Request, session: SessionDep) -> Response:
    return _measures(request, session, "json")


@router.get("/measures.csv")
def measures_csv(request: Request, session: SessionDep) -> Response:
    return _measures(request, session, "csv")


def _measures(request: Request, session: SessionDep, ext: str) -> Response:
    qp = request.query_params
    code = qp.get("jurisdiction") or None
    indicator = qp.get("indicator") or None
    if indicator not in (None, *indices.CODES):
        indicator = None
    try:
        page_no = max(1, int(qp.get("page", "1")))
    except ValueError:
        page_no = 1
    try:
        rows, total = measures.list_measures(
            session, code, indicator=indicator, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE
        )
    except NotFound as exc:
        if ext != "html":
            raise
        return _problem(request, exc, "/public/policy/measures")
    if ext != "html":
        frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["id"])
        return tables.render(frame, ext, "measures", {"total": total, "page": page_no, "page_size": PAGE_SIZE})
    ctx = Ctx(request, jurisdiction=code, indicator=indicator)
    pages = max(1, -(-total // PAGE_SIZE))
    return _render(
        "policy_measures.html",
        request,
        ctx,
        rows=rows,
        total=total,
        page_no=page_no,
        pages=pages,
        code=code or "",
        indicator=indicator,
        catalogue=indices.INDICATORS,
    )
