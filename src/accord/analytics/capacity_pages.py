"""Page and API of hospital demand from the model against stored capacity: ``/public/{code}/capacity`` (a map, or a
ranking where units have no boundaries, of days until ICU capacity is exceeded; census against capacity per unit;
the table) with ``.json`` and ``.csv`` twins, and ``GET /api/v1/capacity?jurisdiction=&level=&horizon=``. State in
the URL (``level``, ``horizon``, ``reporting``, ``r_default``, ``lang``). :mod:`accord.app` calls :func:`install`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from sqlalchemy.orm import Session

from accord.analytics import capacity
from accord.disclosure import pages as disclosure_pages
from accord.disclosure.pages import Ctx
from accord.errors import AccordError, NotFound, Problem
from accord.web.deps import SessionDep
from accord.web.mount import install_ahead

HERE = Path(__file__).parent
SCRIPT = "/public/_capacity/capacity.js"
router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["analytics"])
env = Environment(
    loader=ChoiceLoader([FileSystemLoader(HERE / "templates"), FileSystemLoader(disclosure_pages.HERE / "templates")]),
    autoescape=True,
)
LABELS = {
    "en": {
        "capacity": "Hospital capacity outlook",
        "lead": "Census of general beds, ICU beds and ventilators from the epidemic model, against the capacity "
        "each unit reports; the first day capacity is exceeded within {horizon} days.",
        "horizon": "Horizon (days)",
        "reporting": "Reporting fraction",
        "r_default": "Rt where unknown",
        "show": "Show",
        "map": "Days until ICU capacity is exceeded",
        "census": "ICU census against capacity",
        "table": "Units",
        "name": "Unit",
        "rt": "Rt used",
        "beds": "Beds",
        "icu": "ICU",
        "vent": "Ventilators",
        "capacity_col": "capacity",
        "peak": "peak",
        "exceeded": "exceeded in",
        "days": "days",
        "never": "not within the horizon",
        "unknown": "capacity not reported",
        "notes": "How this is computed",
        "data": "Data",
        "error": "No outlook",
    },
    "zh": {
        "capacity": "医疗资源承载预测",
        "lead": "模型预测的普通床位、重症床位与呼吸机需求，对照各地上报的容量；{horizon}天内首次超出容量的日期。",
        "horizon": "预测天数",
        "reporting": "报告比例",
        "r_default": "缺省 Rt",
        "show": "显示",
        "map": "距重症床位饱和天数",
        "census": "重症床位需求与容量",
        "table": "各地",
        "name": "地区",
        "rt": "所用 Rt",
        "beds": "床位",
        "icu": "重症",
        "vent": "呼吸机",
        "capacity_col": "容量",
        "peak": "峰值",
        "exceeded": "超出于",
        "days": "天",
        "never": "预测期内不超出",
        "unknown": "未上报容量",
        "notes": "计算方法",
        "data": "数据",
        "error": "无法预测",
    },
}


def install(app: FastAPI) -> None:
    """Mount the page (ahead of the disclosure catch-alls) and the API."""
    install_ahead(app, router, api)


def _labels(ctx: Ctx) -> dict[str, str]:
    return {**ctx.t, **LABELS.get(ctx.lang, LABELS["en"])}


def _script_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _clean(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _clean(v) for k, v in row.items()} for row in table.astype(object).to_dict("records")]


class Params:
    def __init__(self, request: Request) -> None:
        q = request.query_params
        problems: list[Problem] = []
        self.level = (q.get("level") or "").strip() or None
        self.horizon = int(_number(q.get("horizon"), capacity.HORIZON, "horizon", problems, whole=True))
        self.reporting = _number(q.get("reporting"), capacity.REPORTING, "reporting", problems)
        self.r_default = _number(q.get("r_default"), capacity.R_DEFAULT, "r_default", problems)
        if problems:
            raise AccordError("invalid parameters", problems, status=400)
        capacity.check(self.horizon, self.reporting, self.r_default)

    def state(self) -> dict[str, Any]:
        return {"level": self.level, "horizon": None if self.horizon == capacity.HORIZON else self.horizon,
                "reporting": None if self.reporting == capacity.REPORTING else self.reporting,
                "r_default": None if self.r_default == capacity.R_DEFAULT else self.r_default}  # fmt: skip


def _number(text: str | None, default: float, name: str, problems: list[Problem], whole: bool = False) -> float:
    if text is None or not text.strip():
        return default
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        problems.append(Problem(f"'{text[:40]}' is not {'a whole number' if whole else 'a number'}", field=name))
        return default
    if not math.isfinite(value):
        problems.append(Problem(f"'{text[:40]}' is not a finite number", field=name))
        return default
    return value


def _outlook(session: Session, code: str, p: Params) -> capacity.CapacityOutlook:
    return capacity.capacity_outlook(session, code, level=p.level, horizon=p.horizon, reporting=p.reporting,
                                     r_default=p.r_default, view="public")  # fmt: skip


def _twin(outlook: capacity.CapacityOutlook, ext: str) -> Response:
    if ext == "csv":
        return Response(outlook.table.to_csv(index=False), media_type="text/csv; charset=utf-8")
    payload = {**outlook.meta(), "units": _records(outlook.table)}
    return JSONResponse(json.loads(json.dumps(payload, default=str)))


@router.get(SCRIPT)
def capacity_script() -> FileResponse:
    return FileResponse(HERE / "templates" / "capacity.js", media_type="text/javascript")


@router.get("/public/{code}/capacity")
def capacity_page(request: Request, session: SessionDep, code: str) -> Response:
    return _page(request, session, code, "html")


@router.get("/public/{code}/capacity.json")
def capacity_json(request: Request, session: SessionDep, code: str) -> Response:
    return _page(request, session, code, "json")


@router.get("/public/{code}/capacity.csv")
def capacity_csv(request: Request, session: SessionDep, code: str) -> Response:
    return _page(request, session, code, "csv")


def _page(request: Request, session: Session, code: str, ext: str) -> Response:
    try:
        p = Params(request)
        outlook = _outlook(session, code, p)
    except AccordError as exc:
        if ext != "html":
            return JSONResponse({"type": "/problems/invalid", "title": str(exc), "status": exc.status,
                                 "detail": "; ".join(x.sentence() for x in exc.problems)},
                                status_code=exc.status, media_type="application/problem+json")  # fmt: skip
        ctx = Ctx(request)
        html = env.get_template("capacity.html").render(
            ctx=ctx, t=_labels(ctx), static=disclosure_pages.STATIC, plotly=disclosure_pages.PLOTLY, script=SCRIPT,
            node=None, code=code, error="; ".join(x.sentence() for x in exc.problems) or str(exc), p=None,
            request_path=request.url.path,
        )  # fmt: skip
        return HTMLResponse(html, status_code=exc.status)
    if ext != "html":
        return _twin(outlook, ext)
    ctx = Ctx(request, **p.state())
    chart = {
        "units": [{"code": u.code, "name": ctx.name(u), "boundary": u.boundary} for u in outlook.units],
        "days_to_icu": [_clean(v) for v in outlook.table["icu_days_to_capacity"].astype(object)],
        "icu_capacity": [_clean(v) for v in outlook.table["icu_capacity"]],
        "icu": [[None if math.isnan(x) else round(float(x), 2) for x in row] for row in outlook.icu],
        "dates": [str(pd.Timestamp(outlook.start) + pd.Timedelta(days=k + 1))[:10] for k in range(outlook.horizon)],
        "horizon": outlook.horizon,
    }
    html = env.get_template("capacity.html").render(
        ctx=ctx, t=_labels(ctx), static=disclosure_pages.STATIC, plotly=disclosure_pages.PLOTLY, script=SCRIPT,
        node=outlook.root, code=outlook.root.code, outlook=outlook, rows=_records(outlook.table), p=p,
        chart_json=_script_json(chart), error=None, request_path=request.url.path,
    )  # fmt: skip
    return HTMLResponse(html)


@api.get("/capacity")
def capacity_api(request: Request, session: SessionDep, jurisdiction: str, format: str = "json") -> Response:
    """Model census against stored capacity for every unit under ``jurisdiction`` (JSON or CSV)."""
    if format not in ("json", "csv"):
        raise AccordError("invalid parameters", [Problem("format is json or csv", field="format")], status=400)
    p = Params(request)
    outlook = _outlook(session, jurisdiction, p)
    return _twin(outlook, format)


__all__ = ["NotFound", "install"]
