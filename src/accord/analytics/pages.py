"""Public Rt page (no login): ``/public/{code}/rt`` shows Rt over time of the jurisdiction and each of its children
(posterior mean with its 95% credible band) and a table of their latest estimates; ``.json`` and ``.csv`` twins
at the same URL. State lives in the URL (``window``, ``si_mean``, ``si_sd``, ``level``, ``lang``). Published
figures only, under the small-count suppression policy of the public pages. Everything is escaped (Jinja2
autoescape; chart data in a JSON script element with ``<``, ``>`` and ``&`` escaped).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.routing import APIRoute
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlalchemy import text
from sqlalchemy.orm import Session

from accord.analytics import service
from accord.disclosure import mapview
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
        "map": "Latest Rt by area",
        "map_note": "Colours: the latest posterior mean of Rt; grey: no estimate or withheld.",
        "forecast": "Forecast of daily confirmed cases",
        "forecast_lead": (
            "Each area's reported cases are fitted by the metapopulation model (maximum likelihood) and continued "
            "{horizon} days by {members} stochastic runs. Dark band: 50% of runs; light band: 95%; line: median; "
            "dots: reported cases; thin line: the fit."
        ),
        "horizon": "Days ahead",
        "members": "Runs",
        "fit": "Fit",
        "r0": "R0",
        "r_now": "R now",
        "rho": "Reporting share",
        "median_total": "Median cases ahead",
        "no_forecast": "No forecast",
        "forecast_note": (
            "One age group per area; parameters are uncertain (intervals in the fit table) and that uncertainty is "
            "not in the fans, which show the randomness of transmission and reporting only."
        ),
        "weekly": "Weekly forecast, scored",
        "weekly_lead": (
            "Confirmed cases in each of the next four weeks by the renewal model: R from the last week with its "
            "uncertainty, how R has changed from week to week, reporting noise, and widths corrected by the "
            "model's own past errors here. Median with the 95% interval."
        ),
        "last_week": "Last week",
        "weeks_ahead": "{h} wk",
        "skill": "Measured skill",
        "skill_lead": (
            "Forecasts made every 7 days back over this area's own published history, each scored once its week "
            "was published, against the COVID-19 Forecast Hub's baseline (last week's count, spread from past "
            "changes). Relative WIS below 1: better than the baseline. Targets: 95% intervals cover 90-98% of "
            "outcomes; relative WIS below 1 at every horizon."
        ),
        "horizon_weeks": "Weeks ahead",
        "forecasts": "Forecasts scored",
        "relative_wis": "Relative WIS",
        "cover50": "50% interval covers",
        "cover95": "95% interval covers",
        "baseline": "baseline",
        "not_measured": (
            "Not measured yet: no earlier forecast of this area has its outcome published (the history is shorter "
            "than a week beyond the first forecast)."
        ),
        "no_fan": "No forecast",
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
        "map": "各地区最新 Rt",
        "map_note": "颜色：最新 Rt 后验均值；灰色：无估计或不予公布。",
        "forecast": "每日确诊病例预测",
        "forecast_lead": (
            "用集合种群模型（最大似然）拟合各地区报告病例，并以 {members} 次随机模拟向后预测 {horizon} 天。"
            "深色带：50% 的模拟；浅色带：95%；线：中位数；点：报告病例；细线：拟合值。"
        ),
        "horizon": "预测天数",
        "members": "模拟次数",
        "fit": "拟合",
        "r0": "R0",
        "r_now": "当前 R",
        "rho": "报告比例",
        "median_total": "预测病例中位数",
        "no_forecast": "暂无预测",
        "forecast_note": "每个地区一个年龄组；参数的不确定性见拟合表，预测带只反映传播和报告的随机性。",
        "weekly": "每周预测及其评分",
        "weekly_lead": (
            "用更新方程模型预测未来四周每周确诊病例：基于最近一周的 R 及其不确定性、R 每周的变化、报告噪声，"
            "并按模型在本地区过去的误差校正区间宽度。中位数及 95% 区间。"
        ),
        "last_week": "上周",
        "weeks_ahead": "{h} 周后",
        "skill": "实测预测能力",
        "skill_lead": (
            "在本地区已公布的历史数据上每隔 7 天做一次预测，待该周数据公布后评分，并与 COVID-19 Forecast Hub "
            "的基线模型（上周病例数，区间来自过去的变化）比较。相对 WIS 小于 1 表示优于基线。目标：95% 区间覆盖 "
            "90-98% 的结果；每个预测期的相对 WIS 均小于 1。"
        ),
        "horizon_weeks": "预测周数",
        "forecasts": "已评分预测",
        "relative_wis": "相对 WIS",
        "cover50": "50% 区间覆盖率",
        "cover95": "95% 区间覆盖率",
        "baseline": "基线",
        "not_measured": "尚未评估：本地区还没有结果已公布的早期预测。",
        "no_fan": "暂无预测",
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
    rt_map = rt_map_view(result, latest, ctx, node.code)
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
        rt_map=rt_map,
        rt_bins=RT_BINS,
        error=None,
    )


#: Rt colour bins (lower edges); class rt0 = no estimate
RT_BINS = (0.0, 0.8, 0.95, 1.05, 1.2, 1.5)


def rt_map_view(result: service.RegionalRt, latest: pd.DataFrame, ctx: Ctx, root_code: str) -> mapview.MapView:
    """The children's latest Rt as a choropleth of their stored boundaries (a grid cartogram where none are)."""
    means = dict(zip(latest["jurisdiction"], latest["mean"], strict=True))
    kids = [u for u in result.units if u.code != root_code]
    items = [mapview.Item(u.code, ctx.name(u), _num(means.get(u.code)), u.boundary, u.lon, u.lat) for u in kids]
    built = mapview.build(items)
    shapes = tuple(
        replace(sh, colour=0 if sh.value is None else sum(1 for b in RT_BINS if sh.value >= b)) for sh in built.shapes
    )
    return replace(built, shapes=shapes)


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


# ---------------------------------------------------------------------------------------------- forecast
FORECAST_SCRIPT = "/public/_analytics/forecast.js"
#: a page runs at most this many members (the API and CLI take more)
PAGE_MAX_MEMBERS = 300
_CACHE: dict[tuple[Any, ...], service.RegionalForecast] = {}
_CACHE_SIZE = 16


class ForecastParams:
    """The forecast page's URL state."""

    def __init__(self, request: Request) -> None:
        q = request.query_params
        problems: list[Problem] = []
        self.horizon = _parse(q.get("horizon"), int, service.FORECAST_HORIZON, "horizon", problems)
        self.members = _parse(q.get("members"), int, 100, "members", problems)
        self.seed = _parse(q.get("seed"), int, 1, "seed", problems)
        self.level = (q.get("level") or "").strip() or None
        change = (q.get("change_date") or "").strip()
        self.change_date = None
        if change:
            try:
                self.change_date = pd.Timestamp(change).date()
            except ValueError:
                problems.append(Problem(f"'{change[:40]}' is not a date (YYYY-MM-DD)", field="change_date"))
        if not 1 <= self.members <= PAGE_MAX_MEMBERS:
            problems.append(Problem(f"runs must be 1 to {PAGE_MAX_MEMBERS} on this page", field="members"))
        if problems:
            raise AccordError("invalid parameters", problems, status=400)

    def state(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon if self.horizon != service.FORECAST_HORIZON else None,
            "members": self.members if self.members != 100 else None,
            "seed": self.seed if self.seed != 1 else None,
            "level": self.level,
            "change_date": self.change_date.isoformat() if self.change_date else None,
        }


_WEEKLY: dict[tuple[Any, ...], service.WeeklyForecast] = {}


def _cached_weekly(session: Session, code: str, params: ForecastParams) -> service.WeeklyForecast:
    """The scored weekly forecast per page state and store version: published figures only."""
    version = session.execute(text("SELECT MAX(id), COUNT(*) FROM submission")).one()
    key = (str(session.get_bind().engine.url), code, params.level, params.seed, tuple(version))
    hit = _WEEKLY.get(key)
    if hit is None:
        hit = service.weekly_forecast(session, code, level=params.level, seed=params.seed, view="public")
        if len(_WEEKLY) >= _CACHE_SIZE:
            _WEEKLY.pop(next(iter(_WEEKLY)))
        _WEEKLY[key] = hit
    return hit


def _cached_forecast(session: Session, code: str, params: ForecastParams) -> service.RegionalForecast:
    """One calibration per page state and store version (the newest submission): published figures only."""
    version = session.execute(text("SELECT MAX(id), COUNT(*) FROM submission")).one()
    key = (
        str(session.get_bind().engine.url),
        code,
        params.level,
        params.horizon,
        params.members,
        params.seed,
        params.change_date,
        tuple(version),
    )
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    result = service.regional_forecast(
        session, code, level=params.level, horizon=params.horizon, members=params.members, seed=params.seed,
        change_date=params.change_date, view="public",
    )  # fmt: skip
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = result
    return result


@router.get(FORECAST_SCRIPT)
def forecast_script() -> FileResponse:
    return FileResponse(
        HERE / "templates" / "forecast.js",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/public/{code}/forecast")
def forecast_page(request: Request, session: SessionDep, code: str) -> Response:
    ctx = Ctx(request)
    try:
        node = places.get(session, code)
    except NotFound:
        return _render(
            "notfound.html", request, ctx, 404, message=f"There is no jurisdiction with code '{code}'.", link="/public"
        )
    path = places.ancestors(session, node.id)
    try:
        params = ForecastParams(request)
        ctx = Ctx(request, **params.state())
        result = _cached_forecast(session, node.code, params)
    except AccordError as exc:
        status = 200 if exc.kind == "not-enough-data" else exc.status
        return _render("forecast.html", request, ctx, status, node=node, path=path, error=str(exc), params=None,
                       result=None)  # fmt: skip
    fits = result.fit_frame().to_dict(orient="records")
    weekly = _cached_weekly(session, node.code, params)
    return _render(
        "forecast.html",
        request,
        ctx,
        node=node,
        path=path,
        params=params,
        result=result,
        fits=fits,
        names={u.code: ctx.name(u) for u in result.units},
        chart_json=script_json(_forecast_chart(result, ctx, _no_forecast(weekly))),
        forecast_script=FORECAST_SCRIPT,
        error=None,
        weekly=_weekly_rows(weekly, ctx),
        skill=weekly.skill().to_dict(orient="records") if weekly.measured() else None,
        origins=weekly.origins,
        no_fan=_no_forecast(weekly),
    )


def _no_forecast(weekly: service.WeeklyForecast) -> dict[str, str]:
    """Why the data of a unit cannot support a forecast (units that can are absent)."""
    return {u.code: weekly.why[i] for i, u in enumerate(weekly.units) if not weekly.supported[i]}


def _weekly_rows(weekly: service.WeeklyForecast, ctx: Ctx) -> list[dict[str, Any]]:
    frame = weekly.frame()
    rows = []
    for u in weekly.units:
        part = frame[frame["jurisdiction"] == u.code]
        why = str(part["no_forecast"].iloc[0])
        rows.append(
            {
                "code": u.code,
                "name": ctx.name(u),
                "last_week": float(part["last_week"].iloc[0]),
                "why": why,
                "weeks": [] if why else part[["q025", "q50", "q975"]].to_dict(orient="records"),
            }
        )
    return rows


@router.get("/public/{code}/forecast.json")
def forecast_json(request: Request, session: SessionDep, code: str) -> Response:
    return _forecast_twin(request, session, code, "json")


@router.get("/public/{code}/forecast.csv")
def forecast_csv(request: Request, session: SessionDep, code: str) -> Response:
    return _forecast_twin(request, session, code, "csv")


def _forecast_twin(request: Request, session: Session, code: str, ext: str) -> Response:
    params = ForecastParams(request)
    result = _cached_forecast(session, code, params)
    weekly = _cached_weekly(session, code, params)
    meta = {
        **result.meta(),
        "fit": tables._jsonable(result.fit_frame()),
        "no_forecast": _no_forecast(weekly),
        "weekly": tables._jsonable(weekly.frame()),
        "skill": tables._jsonable(weekly.skill()),
    }
    return tables.render(result.frame(), ext, f"{code}_forecast", meta)


def _forecast_chart(result: service.RegionalForecast, ctx: Ctx, no_forecast: dict[str, str]) -> dict[str, Any]:
    q = result.quantiles
    past = [d.strftime("%Y-%m-%d") for d in result.dates]
    future = [d.strftime("%Y-%m-%d") for d in result.forecast_dates]
    series = []
    for i, u in enumerate(result.units):
        series.append(
            {
                "code": u.code,
                "name": ctx.name(u),
                "x": past,
                "observed": [_num(v) for v in result.observed[:, i]],
                "fitted": [_num(v) for v in result.fit.fitted[:, i]],
                "xf": future,
                # where the data cannot support a forecast the page draws the reported cases and says why
                "q": [] if u.code in no_forecast else [[_num(v) for v in q[j, :, i]] for j in range(q.shape[0])],
                "why": no_forecast.get(u.code, ""),
            }
        )
    return {"series": series[:CHART_VISIBLE], "more": max(0, len(series) - CHART_VISIBLE)}
