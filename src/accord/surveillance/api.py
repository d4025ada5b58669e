"""HTTP API of surveillance: submissions, imports, series, history, flags, approvals, exports."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from accord.auth.roles import Actor
from accord.db import utcnow
from accord.errors import Forbidden
from accord.places import service as places
from accord.surveillance import exchange, service, validation
from accord.surveillance import indicators as ind
from accord.web import tables
from accord.web.deps import ActorDep, SessionDep, SettingsDep, UploadDep, UserDep
from accord.web.params import Day, Instant, Offset, check_range

router = APIRouter(prefix="/api/v1", tags=["surveillance"])
#: compliance is computed per unit and day of the range: one request covers at most a year
MAX_COMPLIANCE_DAYS = 366


class ObservationIn(BaseModel):
    jurisdiction: str = Field(min_length=1, max_length=64)
    date: Day
    indicator: str
    disaggregation: str = ""
    value: float = Field(ge=-validation.MAX_VALUE, le=validation.MAX_VALUE)
    reason: str | None = Field(default=None, max_length=validation.MAX_REASON_CHARS)


class SubmissionIn(BaseModel):
    observations: list[ObservationIn] = Field(min_length=1, max_length=1_000_000)
    source: str | None = Field(default=None, max_length=200)


class DaysIn(BaseModel):
    jurisdiction: str
    dates: list[Day] = Field(min_length=1, max_length=10_000)


@router.get("/indicators", summary="The indicator catalog with aggregation semantics")
def list_indicators() -> dict[str, Any]:
    return {
        "data": [
            {
                "code": i.code,
                "label": i.label,
                "label_zh": i.label_zh,
                "unit": i.unit,
                "aggregation": i.aggregation.value,
                "disaggregations": list(i.disaggregations),
                "derived_from": i.derived_from,
                "description": i.description,
            }
            for i in ind.CORE_INDICATORS
        ]
    }


@router.post("/submissions", status_code=201, summary="Submit a batch of observations (JSON)")
def post_submission(
    body: SubmissionIn,
    session: SessionDep,
    actor: UserDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    frame = pd.DataFrame([o.model_dump() for o in body.observations])
    frame["reason"] = frame["reason"].fillna("")
    frame["line"] = range(1, len(frame) + 1)
    result = service.submit(
        session,
        frame,
        actor=actor,
        source=body.source or f"api:{actor.username}",
        idempotency_key=idempotency_key,
        file="observations",
    )
    return result.as_dict()


@router.post("/imports", status_code=201, summary="Import a file in one of the supported formats")
def post_import(
    data: UploadDep,
    session: SessionDep,
    actor: UserDep,
    format: Annotated[str, Query(description="csv, owid, jhu, who, dhis2, adx, canghailan")],
    filename: Annotated[str, Query(max_length=200)] = "upload",
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    return exchange.import_bytes(session, format, data, filename, actor=actor, idempotency_key=idempotency_key)


def _guard_small_counts(
    session: SessionDep,
    settings: SettingsDep,
    actor: Actor,
    code: str,
    level: str | None = None,
    whole_subtree: bool = False,
) -> None:
    """With suppression on, the raw figures of deep units are for signed-in users only: the public reads them
    through the suppressed pages and downloads, so the API cannot undo what the pages withhold."""
    if not actor.is_public or settings.suppress_below < 2:
        return
    node = places.get(session, code)
    deepest = node.depth
    if level is not None or whole_subtree:
        members = places.subtree(session, node.id, level=level)
        deepest = max((j.depth for j, _ in members), default=node.depth)
    if deepest >= settings.suppress_from_depth:
        raise Forbidden(
            f"small counts are suppressed from depth {settings.suppress_from_depth} on this instance; the public "
            f"figures of '{code}' are at /public/{code}.json and its open-data downloads"
        )


def _view(session: SessionDep, actor: Actor, code: str, view: str) -> str:
    if view == "all":
        node = places.get(session, code)
        if not service.can_see_provisional(session, actor, node.id):
            raise Forbidden(
                f"provisional figures are visible only to users whose jurisdiction includes '{code}'; use view=public"
            )
    return view


@router.get("/series", summary="Daily series of one jurisdiction and indicator (JSON, CSV or Parquet)")
def get_series(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    jurisdiction: str,
    indicator: str,
    disaggregation: str = "",
    start: Day | None = None,
    end: Day | None = None,
    as_of: Instant | None = None,
    view: Literal["public", "all"] = "public",
    format: str | None = None,
) -> Response:
    view = "all" if _view(session, actor, jurisdiction, view) == "all" else "public"
    _guard_small_counts(session, settings, actor, jurisdiction)
    check_range(start, end)
    frame = service.series(
        session, jurisdiction, indicator, disaggregation=disaggregation, start=start, end=end, view=view, as_of=as_of
    )
    fmt = tables.choose(request, format)
    meta = {
        "jurisdiction": jurisdiction,
        "indicator": indicator,
        "disaggregation": disaggregation,
        "view": view,
        "as_of": as_of.isoformat() if as_of else None,
    }
    return tables.render(frame, fmt, f"{jurisdiction}_{indicator}", meta)


@router.get("/history", summary="Every revision behind one figure (provenance)")
def get_history(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    jurisdiction: str,
    indicator: str,
    date: Day,
    settings: SettingsDep,
    disaggregation: str = "",
    format: str | None = None,
) -> Response:
    _guard_small_counts(session, settings, actor, jurisdiction)
    frame = service.history(session, jurisdiction, indicator, date, disaggregation)
    node = places.get(session, jurisdiction)
    if not service.can_see_provisional(session, actor, node.id):
        days = service.report_day_status(session, jurisdiction, date, date)
        if not days or days[0].status != "approved":
            frame = frame.iloc[0:0]
        frame = frame.drop(columns=["submitter"])
    return tables.render(
        frame,
        tables.choose(request, format),
        f"{jurisdiction}_{indicator}_{date}_history",
        {"jurisdiction": jurisdiction, "indicator": indicator, "date": date.isoformat()},
    )


@router.get("/flags", summary="Validation flags (warnings stored with the data)")
def get_flags(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: UserDep,
    jurisdiction: str | None = None,
    code: str | None = None,
    severity: str | None = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    offset: Offset = 0,
    format: str | None = None,
) -> Response:
    limit = min(limit, settings.max_page_size)
    # flags quote reported values, provisional ones included: for users of the subtree only
    if not actor.unrestricted:
        scope = places.code_of(session, actor.scope_id) if actor.scope_id is not None else None
        if scope is None:
            raise Forbidden(f"{actor.username} has no jurisdiction")
        if jurisdiction is None:
            jurisdiction = scope
        elif not places.is_within(session, actor.scope_id, places.get(session, jurisdiction).id):  # type: ignore[arg-type]
            raise Forbidden(f"{actor.username} may read flags only within '{scope}', not of '{jurisdiction}'")
    rows, total = service.flags(
        session, root_code=jurisdiction, code=code, severity=severity, limit=limit, offset=offset
    )
    meta: dict[str, Any] = {"total": total, "limit": limit, "offset": offset}
    if offset + limit < total:
        meta["next"] = str(request.url.include_query_params(offset=offset + limit))
    return tables.render(pd.DataFrame(rows), tables.choose(request, format), "flags", meta)


@router.post("/approvals", summary="Approve (lock and publish) a unit's days")
def post_approvals(body: DaysIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    n = service.approve(session, actor, body.jurisdiction, body.dates, now=utcnow())
    return {"jurisdiction": body.jurisdiction, "approved": n}


@router.post("/holds", summary="Hold days from auto-publication (or release them with release=true)")
def post_holds(body: DaysIn, session: SessionDep, actor: UserDep, release: bool = False) -> dict[str, Any]:
    n = service.set_hold(session, actor, body.jurisdiction, body.dates, hold=not release)
    return {"jurisdiction": body.jurisdiction, "changed": n, "status": "provisional" if release else "held"}


@router.get("/report-days", summary="Approval state of a unit's reporting days")
def get_report_days(
    request: Request,
    session: SessionDep,
    jurisdiction: str,
    start: Day | None = None,
    end: Day | None = None,
    format: str | None = None,
) -> Response:
    check_range(start, end)
    days = service.report_day_status(session, jurisdiction, start, end)
    frame = pd.DataFrame(
        [
            {
                "date": d.date,
                "status": d.status,
                "first_submitted_at": d.first_submitted_at,
                "last_submitted_at": d.last_submitted_at,
                "approved_at": d.approved_at,
                "auto_published": d.auto_published,
            }
            for d in days
        ]
    )
    return tables.render(frame, tables.choose(request, format), f"{jurisdiction}_days")


@router.get("/compliance", summary="On-time, late, missing and pending reports against schedules")
def get_compliance(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    jurisdiction: str,
    start: Day,
    end: Day,
    format: str | None = None,
) -> Response:
    check_range(start, end, max_days=MAX_COMPLIANCE_DAYS)
    frame = service.compliance(session, jurisdiction, start, end, utcnow(), settings.timezone)
    return tables.render(frame, tables.choose(request, format), f"{jurisdiction}_compliance")


@router.get("/export", summary="Bulk export in OWID, JHU, WHO, DHIS2, ADX or our long CSV layout")
def get_export(
    session: SessionDep,
    settings: SettingsDep,
    actor: ActorDep,
    format: str,
    jurisdiction: str,
    level: str | None = None,
    start: Day | None = None,
    end: Day | None = None,
) -> Response:
    _guard_small_counts(session, settings, actor, jurisdiction, level=level, whole_subtree=level is None)
    check_range(start, end)
    data, media, name = exchange.export_bytes(session, format, jurisdiction, level=level, start=start, end=end)
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
