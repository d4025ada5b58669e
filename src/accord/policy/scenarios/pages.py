"""``/public/{code}/scenarios``: the Pareto frontier of health vs economic cost of a scenario grid for the units under
a jurisdiction (dominated scenarios greyed), linked to each scenario's epidemic curves (click a point), with the
table; ``.json`` and ``.csv`` twins; grid state in the URL. :mod:`accord.app` calls :func:`install`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from accord.disclosure import pages as disclosure_pages
from accord.disclosure.pages import Ctx
from accord.errors import AccordError
from accord.policy.scenarios import api as scenario_api
from accord.web.deps import SessionDep
from accord.web.mount import install_ahead

HERE = Path(__file__).parent
SCRIPT = "/public/_scenarios/scenario_grid.js"
router = APIRouter(include_in_schema=False)
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(disclosure_pages.HERE / "templates")]),
    autoescape=True,
)
LABELS = {
    "en": {
        "scenarios": "Epidemic and economy: scenarios",
        "frontier": "Health vs economic cost",
        "lead": "Each point is a measure schedule (when it starts, how strict, how long) run through the epidemic "
        "model for every unit; grey points are dominated: another schedule is no worse on both costs.",
        "curves": "Epidemic curves of the selected scenarios",
        "table": "Scenarios",
        "name": "Scenario",
        "deaths": "Deaths",
        "infections": "Infections",
        "peak_icu": "Peak ICU",
        "over": "Days over ICU capacity",
        "cost": "Economic cost",
        "frontier_col": "On the frontier",
        "yes": "yes",
        "no": "–",
        "data": "Data",
        "timings": "Start days",
        "intensities": "Intensities",
        "durations": "Durations",
        "days": "Horizon",
        "show": "Run",
        "error": "No scenarios",
        "start": "From",
        "units": "{n} units",
        "in_force": "measures already in force (registry) at {n} of them, kept under every scenario",
    },
    "zh": {
        "scenarios": "疫情与经济：情景分析",
        "frontier": "健康代价与经济代价",
        "lead": "每个点是一套措施安排（何时开始、力度、持续多久），对每个地区运行疫情模型；"
        "灰色点被其他方案在两项代价上同时优于或持平。",
        "curves": "所选情景的疫情曲线",
        "table": "情景",
        "name": "情景",
        "deaths": "死亡",
        "infections": "感染",
        "peak_icu": "重症峰值",
        "over": "重症超容天数",
        "cost": "经济代价",
        "frontier_col": "前沿",
        "yes": "是",
        "no": "–",
        "data": "数据",
        "timings": "开始日",
        "intensities": "力度",
        "durations": "持续天数",
        "days": "预测天数",
        "show": "运行",
        "error": "无法计算",
        "start": "起始",
        "units": "{n} 个地区",
        "in_force": "其中 {n} 个已有措施（登记在案），所有情景均保留",
    },
}


def install(app: FastAPI) -> None:
    """Mount the page (ahead of the disclosure catch-alls) and ``/api/v1/scenarios``."""
    install_ahead(app, router, scenario_api.router)


def _script_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@router.get(SCRIPT)
def scenarios_script() -> FileResponse:
    return FileResponse(HERE / "templates" / "scenario_grid.js", media_type="text/javascript")


@router.get("/public/{code}/scenarios")
def scenarios_page(request: Request, session: SessionDep, code: str) -> Response:
    return _page(request, session, code, "html")


@router.get("/public/{code}/scenarios.json")
def scenarios_json(request: Request, session: SessionDep, code: str) -> Response:
    return _page(request, session, code, "json")


@router.get("/public/{code}/scenarios.csv")
def scenarios_csv(request: Request, session: SessionDep, code: str) -> Response:
    return _page(request, session, code, "csv")


def _page(request: Request, session: Any, code: str, ext: str) -> Response:
    ctx = Ctx(request)
    t = {**ctx.t, **LABELS.get(ctx.lang, LABELS["en"])}
    try:
        params = scenario_api.GridParams(request)
        grid = params.run(session, code)
    except AccordError as exc:
        detail = "; ".join(p.sentence() for p in exc.problems) or str(exc)
        if ext != "html":
            problem = {"type": "/problems/invalid", "title": str(exc), "status": exc.status, "detail": detail}
            return JSONResponse(problem, status_code=exc.status, media_type="application/problem+json")
        template = env.get_template("scenario_grid.html")
        html = template.render(
            ctx=ctx,
            t=t,
            static=disclosure_pages.STATIC,
            code=code,
            error=detail,
            grid=None,
            p=None,
            request_path=request.url.path,
        )
        return HTMLResponse(html, status_code=exc.status)
    if ext == "csv":
        return scenario_api.grid_csv(grid)
    payload = scenario_api.grid_payload(grid)
    if ext == "json":
        return JSONResponse(payload)
    ctx = Ctx(request, **params.state())
    chart = {"health": grid.records[0]["health_metric"] if grid.records else "deaths", "start": grid.start,
             "scenarios": payload["scenarios"]}  # fmt: skip
    html = env.get_template("scenario_grid.html").render(
        ctx=ctx, t=t, static=disclosure_pages.STATIC, plotly=disclosure_pages.PLOTLY, script=SCRIPT, code=code,
        grid=grid, p=params, rows=grid.records, chart_json=_script_json(chart), error=None,
        request_path=request.url.path, node={"code": grid.root_code},
    )  # fmt: skip
    return HTMLResponse(html)
