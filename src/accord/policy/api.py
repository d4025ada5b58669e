"""HTTP API of the policy capability (``/api/v1/policy``): the measures registry, what is in force where and who
ordered it, the inbox of each jurisdiction, and risk areas. Reading measures and risk areas is public; issuing
measures, reading inboxes and classifying need a token. Lists come as JSON, CSV or Parquet (``format=``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from accord.errors import AccordError, Problem
from accord.policy import in_force as measures_in_force
from accord.policy import indices, measures, risk
from accord.policy import risk_areas as risk_area_store
from accord.policy.measures import MeasureInput
from accord.web import tables
from accord.web.deps import SessionDep, UserDep
from accord.web.params import Day, Offset, PathId

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])

FormatQ = Annotated[str | None, Query(alias="format", description="json, csv or parquet")]


class MeasureIn(BaseModel):
    jurisdiction: str = Field(max_length=64, description="code of the issuing jurisdiction")
    indicator: str = Field(max_length=4, description="OxCGRT code: C1-C8, E1-E2, H1-H3, H6-H8")
    level: int = Field(ge=-1000, le=1000, description="ordinal level, 0 to the indicator's maximum")
    start: Day
    end: Day | None = Field(default=None, description="last day (inclusive); none = until further notice")
    targeted: bool = False
    allow_relaxation: bool = False
    notes: str | None = Field(default=None, max_length=10_000)
    source: str | None = Field(default=None, max_length=500)


class EndIn(BaseModel):
    end: Day


class RuleIn(BaseModel):
    version: str = Field(max_length=40)
    level: str = Field(default=risk.DEFAULT_RULE.level, max_length=40)
    window_days: int = risk.DEFAULT_RULE.window_days
    high_cases: int = risk.DEFAULT_RULE.high_cases
    medium_cases: int = risk.DEFAULT_RULE.medium_cases
    cluster_cases: int = risk.DEFAULT_RULE.cluster_cases
    high_needs_cluster: bool = True


class ClassifyIn(BaseModel):
    root: str = Field(max_length=64)
    start: Day
    end: Day | None = None
    rule: str | None = Field(default=None, max_length=40)


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates and timestamps as ISO text, so JSON, CSV and Parquet all carry them the same way."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object and len(out) and isinstance(out[col].iloc[0], (date, datetime)):
            out[col] = out[col].map(lambda v: v.isoformat() if v is not None else None)
    return out


@router.get("/indicators", summary="The OxCGRT indicator catalogue: levels, flags, index components")
def catalogue() -> dict[str, Any]:
    return {
        "indicators": [
            {
                "code": d.code,
                "name": d.name,
                "max_level": d.max_level,
                "has_flag": d.has_flag,
                "flag_0_means": d.flag_meaning or None,
                "levels": list(d.levels),
            }
            for d in indices.INDICATORS.values()
        ],
        "indices": {k: list(v) for k, v in indices.INDEX_COMPONENTS.items()},
    }


@router.get("/measures", summary="Registered measures, newest first (filter by place, indicator, day, kind)")
def list_measures(
    request: Request,
    session: SessionDep,
    jurisdiction: Annotated[str | None, Query(max_length=64)] = None,
    indicator: Annotated[str | None, Query(max_length=4)] = None,
    on: Day | None = None,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Offset = 0,
    fmt: FormatQ = None,
) -> Response:
    rows, total = measures.list_measures(
        session, jurisdiction, indicator=indicator, on=on, kind=kind, limit=limit, offset=offset
    )
    frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["id"])
    return tables.render(frame, tables.choose(request, fmt), "measures", {"total": total, "limit": limit})


@router.post("/measures", status_code=201, summary="Issue a measure at a jurisdiction (applies to its subtree)")
def add_measure(body: MeasureIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    data = MeasureInput(
        body.jurisdiction,
        body.indicator.upper(),
        body.level,
        body.start,
        body.end,
        body.targeted,
        body.allow_relaxation,
        body.notes,
        body.source,
    )
    m = measures.add_measure(session, actor, data)
    session.commit()
    return measures.measure_dict(m, body.jurisdiction, "")


@router.post("/measures/{measure_id}/end", summary="Lift a measure: set its last day")
def end_measure(measure_id: PathId, body: EndIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    m = measures.end_measure(session, actor, measure_id, body.end)
    session.commit()
    return {"id": m.id, "end": body.end.isoformat()}


@router.get("/in-force/{code}", summary="What is in force at a place on a day, and who ordered it")
def in_force(code: str, session: SessionDep, on: Day) -> dict[str, Any]:
    return {
        "jurisdiction": code,
        "date": on.isoformat(),
        "data": [f.as_dict() for f in measures_in_force.in_force(session, code, on)],
    }


@router.get("/indices/{code}", summary="Indices computed from the registry at a place, beside published ones")
def index_series(
    request: Request, code: str, session: SessionDep, start: Day, end: Day, fmt: FormatQ = None
) -> Response:
    if (end - start).days > 1100 or end < start:
        raise AccordError("the dates are not valid", [Problem("give start <= end, at most 1,100 days", field="end")])
    frame = measures_in_force.index_series(session, code, start, end)
    return tables.render(plain(frame), tables.choose(request, fmt), f"indices-{code}", {"jurisdiction": code})


@router.get("/inbox/{code}", summary="Directives that reached a jurisdiction (token needed, within scope)")
def inbox(
    code: str,
    session: SessionDep,
    actor: UserDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    return {"jurisdiction": code, "data": measures.inbox(session, actor, code, unread_only=unread, limit=limit)}


@router.post("/inbox/{code}/read", summary="Mark a jurisdiction's inbox read")
def inbox_read(code: str, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    n = measures.mark_read(session, actor, code)
    session.commit()
    return {"jurisdiction": code, "marked": n}


@router.get("/risk/rules", summary="The published versions of the risk rule")
def risk_rules(session: SessionDep) -> dict[str, Any]:
    return {"data": risk_area_store.list_rules(session)}


@router.post("/risk/rules", status_code=201, summary="Publish a new version of the risk rule")
def publish_rule(body: RuleIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    rule = risk_area_store.publish_rule(session, actor, risk.RiskRule(**body.model_dump()))
    session.commit()
    return {**rule.as_dict(), "description": rule.describe()}


@router.post("/risk/classify", summary="Classify every jurisdiction at the rule's level for each day")
def classify(body: ClassifyIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    rule = risk_area_store.current_rule(session, body.rule)
    out = risk_area_store.classify(session, actor, body.root, body.start, body.end, rule=rule)
    session.commit()
    counts = {str(k): int(v) for k, v in out.frame["level"].value_counts().items()}
    return {"rule": rule.version, "region_days": len(out.frame), **counts}


@router.get("/risk", summary="Risk areas of a day (the stored classification; public)")
def risk_areas(
    request: Request,
    session: SessionDep,
    on: Day,
    level: Annotated[str | None, Query(description="high, medium or low")] = None,
    rule: Annotated[str | None, Query(max_length=40)] = None,
    fmt: FormatQ = None,
) -> Response:
    table = risk_area_store.risk_table(session, on, rule)
    if level:
        if level not in risk.LEVELS:
            raise AccordError("unknown risk level", [Problem(f"'{level}' is not high, medium or low", field="level")])
        table = table[table["level"] == level]
    table = table.drop(columns=["computed_at"])
    version = rule or risk_area_store.current_rule(session).version
    meta = {"date": on.isoformat(), "rule": version}
    return tables.render(plain(table), tables.choose(request, fmt), f"risk-{on}", meta)


@router.get("/risk/{code}/history", summary="Every stored classification of one jurisdiction")
def risk_history(request: Request, code: str, session: SessionDep, fmt: FormatQ = None) -> Response:
    frame = risk_area_store.risk_history(session, code)
    return tables.render(plain(frame), tables.choose(request, fmt), f"risk-history-{code}", {"jurisdiction": code})
