"""Pages of the resources capability, installed ahead of the disclosure catch-alls (no login to read):

* ``/public/resources/{code}``: regions ranked by days to stock-out (early warning), filters in the URL;
* ``/public/resources/{code}/plans``: the allocation plans of a subtree;
* ``/public/resources/plans/{id}``: one plan for review: summary, shipments table, a map of the flows and a
  Sankey diagram origin -> destination (plotly.js from the installed wheel); a coordinator with a token edits
  quantities and approves from the same page (our own small script calling the API).

Every page has ``.json`` and ``.csv`` twins. Everything is escaped (Jinja2 autoescape; data for the charts is JSON
in a script element with ``<``, ``>`` and ``&`` escaped).
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from accord.disclosure import pages as disclosure_pages
from accord.disclosure.pages import Ctx
from accord.errors import AccordError, NotFound
from accord.places import service as places
from accord.resources import catalog_store, early_warning, plans
from accord.resources.api import router as api_router
from accord.web import tables
from accord.web.deps import SessionDep
from accord.web.mount import install_ahead

HERE = Path(__file__).parent
TWINS = ("json", "csv")
router = APIRouter(prefix="/public/resources", include_in_schema=False)
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(disclosure_pages.HERE / "templates")]),
    autoescape=True,
)

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "resources": "Resources",
        "warning_title": "Days to stock-out",
        "warning_lead": "Days of supply per region and resource: stock on hand against the larger of recent use "
        "and the need forecast from the hospital census. Worst first.",
        "region": "Region",
        "resource": "Resource",
        "on_hand": "On hand",
        "burn_rate": "Used per day",
        "demand_today": "Need per day",
        "days_of_supply": "Days of supply",
        "stockout_date": "Runs out",
        "level": "Alert",
        "critical": "critical",
        "warning": "warning",
        "ok": "ok",
        "all_resources": "All resources",
        "all_categories": "All categories",
        "date": "Date",
        "show": "Show",
        "none": "No stock or need is recorded here.",
        "plans": "Allocation plans",
        "plan": "Plan",
        "status": "Status",
        "start": "Start",
        "horizon": "Days",
        "demand": "Needed",
        "served": "Planned",
        "shortfall": "Shortfall",
        "shipments": "Shipments",
        "origin": "From",
        "destination": "To",
        "depart": "Leaves",
        "arrive": "Arrives",
        "quantity": "Quantity",
        "received": "Received",
        "discrepancy": "Discrepancy",
        "need": "Need",
        "flows": "Flows",
        "sankey": "Origin to destination",
        "solver": "Solver",
        "warnings": "Warnings",
        "duals": "Where one more unit helps most",
        "token": "API token",
        "save": "Save edits",
        "approve": "Approve plan",
        "review_note": "Coordinators: paste a token to edit quantities and approve (calls the API).",
        "never": "not within the horizon",
        "rows": "Rows",
        "pages": "Pages",
        "page": "Page",
        "previous": "previous",
        "next": "next",
        "all_rows": "all rows",
    },
    "zh": {
        "resources": "物资",
        "warning_title": "物资可用天数",
        "warning_lead": "各地区各类物资的可用天数：现有库存对比近期消耗与按住院人数预测的需求（取较大者），"
        "按紧迫程度排序。",
        "region": "地区",
        "resource": "物资",
        "on_hand": "库存",
        "burn_rate": "日消耗",
        "demand_today": "日需求",
        "days_of_supply": "可用天数",
        "stockout_date": "预计耗尽",
        "level": "预警",
        "critical": "紧急",
        "warning": "警告",
        "ok": "正常",
        "all_resources": "全部物资",
        "all_categories": "全部类别",
        "date": "日期",
        "show": "显示",
        "none": "此处没有库存或需求记录。",
        "plans": "调配方案",
        "plan": "方案",
        "status": "状态",
        "start": "开始",
        "horizon": "天数",
        "demand": "需求",
        "served": "计划调配",
        "shortfall": "缺口",
        "shipments": "运输",
        "origin": "调出",
        "destination": "调入",
        "depart": "出发",
        "arrive": "到达",
        "quantity": "数量",
        "received": "已收到",
        "discrepancy": "差异",
        "need": "需求单",
        "flows": "流向",
        "sankey": "调出地到调入地",
        "solver": "求解器",
        "warnings": "提示",
        "duals": "增加一个单位最有帮助的地方",
        "token": "API 令牌",
        "save": "保存修改",
        "approve": "批准方案",
        "review_note": "协调人员：粘贴令牌即可修改数量并批准（调用 API）。",
        "never": "预测期内不会耗尽",
        "rows": "行",
        "pages": "分页",
        "page": "第",
        "previous": "上一页",
        "next": "下一页",
        "all_rows": "全部",
    },
}


def install(app: FastAPI) -> None:
    install_ahead(app, router, api_router)


# -------------------------------------------------------------------------------------------- helpers
def _labels(ctx: Ctx) -> dict[str, str]:
    return {**ctx.t, **LABELS.get(ctx.lang, LABELS["en"])}


def _render(template: str, request: Request, ctx: Ctx, status: int = 200, **values: Any) -> HTMLResponse:
    html = env.get_template(template).render(
        ctx=ctx,
        t=_labels(ctx),
        static=disclosure_pages.STATIC,
        plotly=disclosure_pages.PLOTLY,
        request_path=request.url.path,
        **values,
    )
    return HTMLResponse(html, status_code=status)


def _script_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _problem(request: Request, exc: AccordError, ext: str) -> Response:
    if ext != "html":
        raise exc
    ctx = Ctx(request)
    return _render("notfound.html", request, ctx, exc.status, message=str(exc), link="/public")


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AccordError(f"'{value}' is not a date (YYYY-MM-DD)") from None


def _num(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


env.filters["n"] = _num


# ---------------------------------------------------------------------------------------------- plans
@router.get("/plans/{name}")
def plan_page(request: Request, session: SessionDep, name: str) -> Response:
    base, ext = disclosure_pages.split(name, TWINS)
    try:
        if not base.isdigit() or len(base) > 12:
            raise NotFound(f"There is no plan '{base}'.")
        plan, ships = plans.plan_frames(session, int(base))
    except AccordError as exc:
        return _problem(request, exc, ext)
    data = plans.plan_dict(session, plan)
    if ext == "csv":
        return tables.render(ships, "csv", f"plan-{plan.id}")
    if ext == "json":
        return tables.render(ships, "json", f"plan-{plan.id}", {"plan": data})
    ctx = Ctx(request)
    root = places.get(session, data["root"])
    return _render(
        "plan.html",
        request,
        ctx,
        plan=data,
        node=root,
        ships=ships.to_dict(orient="records"),
        chart=_script_json(_chart_data(ships)),
    )


def _chart_data(ships: pd.DataFrame) -> dict[str, Any]:
    """Flows aggregated per (origin, destination, resource) for the Sankey and the map."""
    if ships.empty:
        return {"links": [], "places": []}
    live = ships[ships["quantity"] > 0]
    keys = ["origin", "origin_name", "destination", "destination_name", "resource"]
    flows: pd.DataFrame = live.groupby(keys)["quantity"].sum().reset_index()
    places_ = pd.concat(
        [
            live[["origin", "origin_name", "origin_lon", "origin_lat"]].set_axis(
                ["code", "name", "lon", "lat"], axis=1
            ),
            live[["destination", "destination_name", "destination_lon", "destination_lat"]].set_axis(
                ["code", "name", "lon", "lat"], axis=1
            ),
        ]
    ).drop_duplicates("code")
    return {
        "links": tables._jsonable(flows),
        "places": tables._jsonable(places_),
    }


#: rows per page of the ranking (``per_page=all`` shows every row); the twins page the same way
PER_PAGE = 100
MAX_PER_PAGE = 1000


def _paging(q: Any) -> tuple[int, int | None]:
    """``page`` (1-based) and ``per_page`` from the URL; ``None`` rows per page means all of them."""
    raw_page, raw_per = q.get("page") or "1", q.get("per_page") or str(PER_PAGE)
    per: int | None = None
    try:
        page = int(raw_page)
        if raw_per != "all":
            per = int(raw_per)
    except ValueError:
        raise AccordError(f"'page={raw_page}&per_page={raw_per}' are not whole numbers (or per_page=all)") from None
    if page < 1 or (per is not None and not 1 <= per <= MAX_PER_PAGE):
        raise AccordError(f"page is 1 or more and per_page 1 to {MAX_PER_PAGE} or 'all', not {raw_page}, {raw_per}")
    return page, per


@router.get("/{name}")
def warning_page(request: Request, session: SessionDep, name: str) -> Response:
    code, ext = disclosure_pages.split(name, TWINS)
    q = request.query_params
    resource, category, level = q.get("resource") or None, q.get("category") or None, q.get("level") or None
    try:
        node = places.get(session, code)
        day = _date(q.get("date"))
        page, per = _paging(q)
        frame = early_warning.early_warning(session, code, day, level=level, resource=resource, view="public")
    except AccordError as exc:
        return _problem(request, exc, ext)
    if category:
        frame = frame[frame["category"] == category]
    total = len(frame)
    pages = max(1, math.ceil(total / per)) if per else 1
    shown = frame.iloc[(page - 1) * per : page * per] if per else frame
    if ext != "html":
        meta = {
            "root": code,
            "date": (day or date.today()).isoformat(),
            "total": total,
            "page": page,
            "per_page": per or "all",
            "pages": pages,
        }
        return tables.render(shown, ext, f"stockout-{code}", meta)
    ctx = Ctx(
        request,
        resource=resource,
        category=category,
        level=level,
        date=q.get("date"),
        per_page=q.get("per_page"),
        page=q.get("page"),
    )
    catalog = catalog_store.catalog_frame(session)
    counts = frame["level"].value_counts()
    sentence = early_warning.bulletin_sentence(frame, ctx.lang) if not frame.empty else ""
    return _render(
        "stockout.html",
        request,
        ctx,
        node=node,
        path=places.ancestors(session, node.id),
        rows=shown.to_dict(orient="records"),
        resources=catalog.to_dict(orient="records"),
        categories=sorted(set(catalog["category"])),
        resource=resource,
        category=category,
        day=(day or date.today()).isoformat(),
        sentence=sentence,
        total=total,
        page=page,
        pages=pages,
        first=(page - 1) * (per or 0) + 1 if total else 0,
        last=min(page * per, total) if per else total,
        counts={k: int(counts.get(k, 0)) for k in ("critical", "warning", "ok")},
    )


@router.get("/{code}/plans")
def plans_page(request: Request, session: SessionDep, code: str) -> Response:
    return _plans(request, session, code, "html")


@router.get("/{code}/plans.{ext}")
def plans_twin(request: Request, session: SessionDep, code: str, ext: str) -> Response:
    if ext not in TWINS:
        raise NotFound(f"no '{ext}' twin: use json or csv")
    return _plans(request, session, code, ext)


def _plans(request: Request, session: SessionDep, code: str, ext: str) -> Response:
    try:
        node = places.get(session, code)
        frame = plans.plans_frame(session, code)
    except AccordError as exc:
        return _problem(request, exc, ext)
    if ext != "html":
        return tables.render(frame, ext, f"plans-{code}", {"root": code})
    ctx = Ctx(request)
    return _render(
        "plans.html",
        request,
        ctx,
        node=node,
        path=places.ancestors(session, node.id),
        plans=frame.to_dict(orient="records"),
    )
