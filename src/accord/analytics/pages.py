"""Public Rt page (no login): ``/public/{code}/rt`` shows Rt over time of the jurisdiction and each of its children
(posterior mean with its 95% credible band) and a table of their latest estimates; ``.json`` and ``.csv`` twins
at the same URL. State lives in the URL (``window``, ``si_mean``, ``si_sd``, ``level``, ``lang``). Published
figures only, under the small-count suppression policy of the public pages. Everything is escaped (Jinja2
autoescape; chart data in a JSON script element with ``<``, ``>`` and ``&`` escaped).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from accord.analytics import service
from accord.disclosure import pages as disclosure_pages
from accord.disclosure.pages import Ctx
from accord.errors import AccordError, NotFound, Problem
from accord.places import service as places
from accord.web import tables
from accord.web.deps import SessionDep

HERE = Path(__file__).parent
SCRIPT = "/public/_analytics/rt.js"
#: lines drawn at first; the others are one click away in the legend
CHART_VISIBLE = 12

router = APIRouter(include_in_schema=False)
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(disclosure_pages.HERE / "templates")]),
    autoescape=select_autoescape(["html", "xml"]),
)

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "rt": "Reproduction number Rt",
        "rt_short": "Rt",
        "lead": (
            "How many people each case infects, estimated from the daily local and imported confirmed cases "
            "(Cori et al. 2013). Above 1 the epidemic grows, below 1 it shrinks. Each estimate covers the {window} "
            "days ending on its date; the band is the 95% credible interval."
        ),
        "si": "Serial interval {mean} ± {sd} days (gamma).",
        "window": "Window (days)",
        "si_mean": "Serial interval mean",
        "si_sd": "sd",
        "show": "Show",
        "latest": "Latest estimates",
        "name": "Jurisdiction",
        "date": "Date",
        "mean": "Rt",
        "interval": "95% CrI",
        "cases": "Local cases in window",
        "imported": "Imported",
        "trend": "Trend",
        "growing": "growing",
        "declining": "declining",
        "uncertain": "uncertain",
        "few_cases": "few cases or missing days",
        "withheld": "withheld",
        "no_reports": "no reports",
        "too_few_days": "too few days",
        "no_estimate": "No estimate yet",
        "chart": "Rt over time",
        "chart_note": "The dashed line is Rt = 1. Click a name in the legend to show or hide its line.",
        "caveats": "Notes",
        "local_note": (
            "Where only totals were reported, all cases count as local; this overstates Rt where some were "
            "imported. Days without a report are filled with 0 and the estimates that depend on them flagged."
        ),
        "data": "Data",
        "this": "this jurisdiction",
    },
    "zh": {
        "rt": "有效再生数 Rt",
        "rt_short": "Rt",
        "lead": (
            "每个病例平均传染的人数，根据每日本地和境外输入确诊病例估计（Cori 等，2013）。大于 1 表示疫情在扩大，"
            "小于 1 表示在缩小。每个估计值覆盖截至当日的 {window} 天；阴影为 95% 可信区间。"
        ),
        "si": "代际间隔 {mean} ± {sd} 天（伽马分布）。",
        "window": "窗口（天）",
        "si_mean": "代际间隔均值",
        "si_sd": "标准差",
        "show": "显示",
        "latest": "最新估计",
        "name": "地区",
        "date": "日期",
        "mean": "Rt",
        "interval": "95% 可信区间",
        "cases": "窗口内本地病例",
        "imported": "境外输入",
        "trend": "趋势",
        "growing": "上升",
        "declining": "下降",
        "uncertain": "不确定",
        "few_cases": "病例少或有缺报",
        "withheld": "不予公布",
        "no_reports": "无报告",
        "too_few_days": "天数不足",
        "no_estimate": "暂无估计",
        "chart": "Rt 随时间变化",
        "chart_note": "虚线为 Rt = 1。点击图例中的名称可显示或隐藏曲线。",
        "caveats": "说明",
        "local_note": (
            "仅报告总数时，全部病例按本地病例计算；如其中有境外输入，Rt 会被高估。"
            "未报告的日期按 0 填充，并标记受影响的估计值。"
        ),
        "data": "数据",
        "this": "本地区",
    },
}


def install(app: FastAPI) -> None:
    """Add the Rt page, its script and the analytics API to an app, ahead of the disclosure catch-alls
    (``/public/{code}/{view}``), as :func:`accord.rumors.pages.install` does."""
    before = len(app.router.routes)
    app.include_router(router)
    from accord.analytics.api import router as api_router

    if not _included(app, api_router):
        app.include_router(api_router)
    mine = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = mine


def _included(app: FastAPI, router_: APIRouter) -> bool:
    """Whether ``router_`` (or one of its routes) is already in the app (FastAPI may wrap included routers)."""
    paths = {r.path for r in router_.routes if isinstance(r, APIRoute)}
    for r in app.router.routes:
        if getattr(r, "original_router", None) is router_ or (isinstance(r, APIRoute) and r.path in paths):
            return True
    return False


# -------------------------------------------------------------------------------------------- helpers
def _labels(ctx: Ctx) -> dict[str, str]:
    return {**ctx.t, **LABELS.get(ctx.lang, LABELS["en"])}


def _render(template: str, request: Request, ctx: Ctx, status: int = 200, **values: Any) -> HTMLResponse:
    html = env.get_template(template).render(
        ctx=ctx,
        t=_labels(ctx),
        static=disclosure_pages.STATIC,
        plotly=disclosure_pages.PLOTLY,
        script=SCRIPT,
        request_path=request.url.path,
        **values,
    )
    return HTMLResponse(html, status_code=status)


def script_json(value: Any) -> str:
    """JSON for a <script> element: nothing in it can close the element or open a comment."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    f = float(value)
    return None if math.isnan(f) else f


def _fmt(value: Any, digits: int = 2) -> str:
    f = _num(value)
    return "–" if f is None else f"{f:,.{digits}f}"


env.filters["r"] = _fmt


class Params:
    """The page's URL state, checked: bad values are one sentence each."""

    def __init__(self, request: Request) -> None:
        q = request.query_params
        problems: list[Problem] = []
        self.window = _parse(q.get("window"), int, service.WINDOW, "window", problems)
        self.si_mean = _parse(q.get("si_mean"), float, service.SI_MEAN, "si_mean", problems)
        self.si_sd = _parse(q.get("si_sd"), float, service.SI_SD, "si_sd", problems)
        self.level = (q.get("level") or "").strip() or None
        if problems:
            raise AccordError("invalid parameters", problems, status=400)

    def state(self) -> dict[str, Any]:
        return {
            "window": self.window if self.window != service.WINDOW else None,
            "si_mean": self.si_mean if self.si_mean != service.SI_MEAN else None,
            "si_sd": self.si_sd if self.si_sd != service.SI_SD else None,
            "level": self.level,
        }


def _parse(text: str | None, kind: type[int] | type[float], default: Any, name: str, problems: list[Problem]) -> Any:
    if text is None or text.strip() == "":
        return default
    try:
        return kind(text.strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        problems.append(Problem(f"'{text[:40]}' is not {what}", field=name))
        return default


# ---------------------------------------------------------------------------------------------- routes
@router.get(SCRIPT)
def rt_script() -> FileResponse:
    return FileResponse(
        HERE / "templates" / "rt.js", media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"}
    )


@router.get("/public/{code}/rt")
def rt_page(request: Request, session: SessionDep, code: str) -> Response:
    return _rt(request, session, code, "html")


@router.get("/public/{code}/rt.json")
def rt_json(request: Request, session: SessionDep, code: str) -> Response:
    return _rt(request, session, code, "json")


@router.get("/public/{code}/rt.csv")
def rt_csv(request: Request, session: SessionDep, code: str) -> Response:
    return _rt(request, session, code, "csv")


def _rt(request: Request, session: Session, code: str, ext: str) -> Response:
    if ext != "html":
        return _twin(request, session, code, ext)
    ctx = Ctx(request)
    try:
        node = places.get(session, code)
    except NotFound:
        return _render(
            "notfound.html", request, ctx, 404, message=f"There is no jurisdiction with code '{code}'.", link="/public"
        )
    path = places.ancestors(session, node.id)
    try:
        params = Params(request)
        ctx = Ctx(request, **params.state())
        result = service.regional_rt(
            session,
            node.code,
            level=params.level,
            window=params.window,
            si_mean=params.si_mean,
            si_sd=params.si_sd,
            include_root=True,
        )
    except AccordError as exc:
        if exc.status >= 500 or exc.kind == "not-enough-data":
            return _render("rt.html", request, ctx, node=node, path=path, error=str(exc), params=None, result=None)
        return _render(
            "rt.html", request, ctx, exc.status, node=node, path=path, error=str(exc), params=None, result=None
        )
    withheld = service.withheld_cells(result, disclosure_pages.policy_of(request))
    latest = result.latest(withheld)
    chart = _chart(result, withheld, ctx, node.code)
    return _render(
        "rt.html",
        request,
        ctx,
        node=node,
        path=path,
        params=params,
        result=result,
        latest=latest.to_dict(orient="records"),
        names={u.code: ctx.name(u) for u in result.units},
        chart_json=script_json(chart),
        error=None,
    )


def _twin(request: Request, session: Session, code: str, ext: str) -> Response:
    params = Params(request)
    result = service.regional_rt(
        session,
        code,
        level=params.level,
        window=params.window,
        si_mean=params.si_mean,
        si_sd=params.si_sd,
        include_root=True,
    )
    withheld = service.withheld_cells(result, disclosure_pages.policy_of(request))
    frame = result.frame(withheld)
    meta = {**result.meta(), "latest": tables._jsonable(result.latest(withheld))}
    return tables.render(frame, ext, f"{code}_rt", meta)


def _chart(result: service.RegionalRt, withheld: Any, ctx: Ctx, root_code: str) -> dict[str, Any]:
    frame = result.frame(withheld)
    series = []
    for i, (code, rows) in enumerate(frame.groupby("jurisdiction", sort=False)):
        unit = next(u for u in result.units if u.code == code)
        series.append(
            {
                "code": str(code),
                "name": ctx.name(unit) + (f" ({_labels(ctx)['this']})" if code == root_code else ""),
                "root": code == root_code,
                "visible": i < CHART_VISIBLE,
                "x": pd.to_datetime(rows["date"]).dt.strftime("%Y-%m-%d").tolist(),
                "mean": [_num(v) for v in rows["mean"]],
                "lower": [_num(v) for v in rows["lower"]],
                "upper": [_num(v) for v in rows["upper"]],
            }
        )
    return {"series": series, "labels": {"rt": "Rt"}}
