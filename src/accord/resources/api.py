"""HTTP API of the resources capability (``/api/v1/resources``).

Reads are public (stock, needs, offers, plans, early warning: transparency is the default; the early warning
uses provisional census figures only for users whose subtree holds its root, approved ones for everyone else).
Writes need a token; role and scope apply. Every list comes as JSON, CSV or Parquet (``format=`` or ``Accept``);
errors are RFC 9457 problem documents.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from accord.errors import AccordError, Problem
from accord.resources import (
    capacity_import,
    catalog_store,
    early_warning,
    ledger_store,
    movements,
    needs_offers,
    network,
    plans,
    shipments,
    warning,
)
from accord.web import tables
from accord.web.deps import ActorDep, SessionDep, UploadDep, UserDep
from accord.web.params import Day, PathId

router = APIRouter(prefix="/api/v1/resources", tags=["resources"])

Quantity = Annotated[float | str, Field(description="a non-negative number (in `unit`, default the resource's unit)")]


class MovementIn(BaseModel):
    movement: str = Field(description="receipt, donation, transfer, consume or count")
    resource: str = Field(max_length=64)
    quantity: Quantity
    unit: str | None = Field(default=None, max_length=40)
    source: str = Field(alias="from", max_length=300, description="kind:CODE[:warehouse], e.g. supply:AR-01")
    target: str = Field(alias="to", max_length=300, description="kind:CODE[:warehouse], e.g. stock:AR-01")
    day: Day | None = None
    memo: str | None = Field(default=None, max_length=500)


class ReversalIn(BaseModel):
    reason: str = Field(max_length=500)


class NeedIn(BaseModel):
    jurisdiction: str = Field(max_length=64)
    resource: str = Field(max_length=64)
    quantity: Quantity
    unit: str | None = Field(default=None, max_length=40)
    by_date: Day | None = None
    priority: int = 1
    justification: str = Field(max_length=2000)


class OfferIn(BaseModel):
    jurisdiction: str = Field(max_length=64)
    resource: str = Field(max_length=64)
    quantity: Quantity
    unit: str | None = Field(default=None, max_length=40)
    from_date: Day | None = None
    terms: str = "donation"
    unit_price: float = 0.0
    earmark: str | None = Field(default=None, max_length=64)
    partners_only: bool = False
    source: str = Field(default="stock", description="stock or stockpile")
    warehouse: str = Field(default="main", max_length=100)


class RouteIn(BaseModel):
    origin: str = Field(max_length=64)
    destination: str = Field(max_length=64)
    lead_days: int = 1
    unit_cost: float = 1.0
    closed: bool = False
    note: str | None = Field(default=None, max_length=500)


class PairingIn(BaseModel):
    supporter: str = Field(max_length=64)
    supported: str = Field(max_length=64)
    exclusive: bool = False
    note: str | None = Field(default=None, max_length=500)


class PlanIn(BaseModel):
    root: str = Field(max_length=64)
    resources: list[str] | None = Field(default=None, max_length=100)
    horizon_days: int = 14
    start: Day | None = None
    equity: str = "total"
    duals: bool = False
    max_shortfall_share: float | None = None


class ShipmentEdit(BaseModel):
    quantity: Quantity


class ReceiptIn(BaseModel):
    quantity: Quantity
    unit: str | None = Field(default=None, max_length=40)
    day: Day | None = None
    note: str | None = Field(default=None, max_length=500)
    final: bool = False


def _table(request: Request, frame: Any, fmt: str | None, name: str, **meta: Any) -> Response:
    return tables.render(frame, tables.choose(request, fmt), name, meta)


# ------------------------------------------------------------------------------------------ catalog
@router.get("/catalog")
def get_catalog(request: Request, session: SessionDep, format: str | None = None) -> Response:
    return _table(request, catalog_store.catalog_frame(session), format, "resources")


@router.get("/rules")
def get_rules(request: Request, session: SessionDep, format: str | None = None) -> Response:
    return _table(request, catalog_store.rules_frame(session), format, "need-rules")


# ------------------------------------------------------------------------------------------- ledger
@router.get("/stock")
def get_stock(
    request: Request,
    session: SessionDep,
    root: str,
    at: Annotated[Day | None, Query(alias="date")] = None,
    resource: str | None = None,
    format: str | None = None,
) -> Response:
    frame = ledger_store.stock(session, root, at, resource)
    return _table(request, frame, format, f"stock-{root}", root=root, date=(at or date.today()).isoformat())


@router.get("/transactions")
def get_transactions(
    request: Request, session: SessionDep, root: str, limit: int = 200, format: str | None = None
) -> Response:
    return _table(
        request, movements.transactions_frame(session, root, min(max(limit, 1), 5000)), format, f"ledger-{root}"
    )


@router.post("/movements", status_code=201)
def post_movement(body: MovementIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    txn = movements.post_movement(
        session,
        actor,
        body.movement,
        resource=body.resource,
        quantity=body.quantity,
        unit=body.unit,
        source=movements.parse_side(body.source),
        target=movements.parse_side(body.target),
        day=body.day,
        memo=body.memo,
    )
    return {"transaction": txn.id, "movement": txn.kind, "day": txn.day.isoformat()}


@router.post("/transactions/{txn_id}/reversal", status_code=201)
def post_reversal(txn_id: PathId, body: ReversalIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    rev = movements.reverse_transaction(session, actor, txn_id, body.reason)
    return {"transaction": rev.id, "reverses": txn_id}


# ------------------------------------------------------------------------------------ needs, offers
@router.get("/needs")
def get_needs(
    request: Request, session: SessionDep, root: str, status: str | None = None, format: str | None = None
) -> Response:
    return _table(request, needs_offers.needs_frame(session, root, status), format, f"needs-{root}")


@router.post("/needs", status_code=201)
def post_need(body: NeedIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    n = needs_offers.post_need(
        session,
        actor,
        body.jurisdiction,
        body.resource,
        body.quantity,
        unit=body.unit,
        by_date=body.by_date,
        priority=body.priority,
        justification=body.justification,
    )
    return {"need": n.id, "status": "open"}


@router.post("/needs/{need_id}/close")
def close_need(need_id: PathId, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    needs_offers.close_need(session, actor, need_id)
    return {"need": need_id, "status": "closed"}


@router.get("/offers")
def get_offers(
    request: Request, session: SessionDep, root: str, status: str | None = None, format: str | None = None
) -> Response:
    return _table(request, needs_offers.offers_frame(session, root, status), format, f"offers-{root}")


@router.post("/offers", status_code=201)
def post_offer(body: OfferIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    o = needs_offers.post_offer(
        session,
        actor,
        body.jurisdiction,
        body.resource,
        body.quantity,
        unit=body.unit,
        from_date=body.from_date,
        terms=body.terms,
        unit_price=body.unit_price,
        earmark=body.earmark,
        partners_only=body.partners_only,
        source=body.source,
        warehouse=body.warehouse,
    )
    return {"offer": o.id, "status": "open"}


@router.post("/offers/{offer_id}/close")
def close_offer(offer_id: PathId, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    needs_offers.close_offer(session, actor, offer_id)
    return {"offer": offer_id, "status": "closed"}


# ---------------------------------------------------------------------------------- routes, pairing
@router.get("/routes")
def get_routes(request: Request, session: SessionDep, format: str | None = None) -> Response:
    return _table(request, network.routes_frame(session), format, "routes")


@router.put("/routes")
def put_route(body: RouteIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    r = network.set_route(
        session,
        actor,
        body.origin,
        body.destination,
        lead_days=body.lead_days,
        unit_cost=body.unit_cost,
        closed=body.closed,
        note=body.note,
    )
    return {"route": r.id, "closed": r.closed}


@router.get("/pairings")
def get_pairings(request: Request, session: SessionDep, format: str | None = None) -> Response:
    return _table(request, network.pairings_frame(session), format, "pairings")


@router.put("/pairings")
def put_pairing(body: PairingIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    p = network.set_pairing(session, actor, body.supporter, body.supported, exclusive=body.exclusive, note=body.note)
    return {"pairing": p.id, "exclusive": p.exclusive}


# -------------------------------------------------------------------------------------------- plans
@router.post("/plans", status_code=201)
def post_plan(body: PlanIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    plan = plans.solve_plan(
        session,
        actor,
        body.root,
        body.resources,
        body.horizon_days,
        start=body.start,
        equity=body.equity,
        duals=body.duals,
        max_shortfall_share=body.max_shortfall_share,
    )
    return _plan_json(session, plan.id)


def _plan_json(session: SessionDep, plan_id: int) -> dict[str, Any]:
    plan, ships = plans.plan_frames(session, plan_id)
    return {**plans.plan_dict(session, plan), "shipments": tables._jsonable(ships)}


@router.get("/plans")
def get_plans(request: Request, session: SessionDep, root: str, format: str | None = None) -> Response:
    return _table(request, plans.plans_frame(session, root), format, f"plans-{root}")


@router.get("/plans/{plan_id}")
def get_plan(plan_id: PathId, session: SessionDep) -> dict[str, Any]:
    return _plan_json(session, plan_id)


@router.get("/plans/{plan_id}/shipments")
def get_shipments(request: Request, plan_id: PathId, session: SessionDep, format: str | None = None) -> Response:
    _, ships = plans.plan_frames(session, plan_id)
    return _table(request, ships, format, f"plan-{plan_id}-shipments")


@router.patch("/plans/{plan_id}/shipments/{shipment_id}")
def patch_shipment(
    plan_id: PathId, shipment_id: PathId, body: ShipmentEdit, session: SessionDep, actor: UserDep
) -> dict[str, Any]:
    s = plans.edit_shipment(session, actor, plan_id, shipment_id, body.quantity)
    return {"shipment": s.id, "quantity": s.quantity / 1000, "proposed_quantity": s.proposed_quantity / 1000}


@router.post("/plans/{plan_id}/approval")
def approve(plan_id: PathId, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    plans.approve_plan(session, actor, plan_id)
    return _plan_json(session, plan_id)


@router.post("/shipments/{shipment_id}/receipts", status_code=201)
def post_receipt(shipment_id: PathId, body: ReceiptIn, session: SessionDep, actor: UserDep) -> dict[str, Any]:
    s = shipments.receive(
        session, actor, shipment_id, body.quantity, unit=body.unit, day=body.day, note=body.note, final=body.final
    )
    return {
        "shipment": s.id,
        "status": s.status,
        "received": s.received / 1000,
        "discrepancy": s.discrepancy / 1000,
    }


# ------------------------------------------------------------------------------------ early warning
@router.get("/warnings")
def get_warnings(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    root: str,
    at: Annotated[Day | None, Query(alias="date")] = None,
    level: str | None = None,
    horizon: int = 14,
    resource: str | None = None,
    fed_share: float = 0.0,
    thresholds: Annotated[str | None, Query(description="e.g. medical:3:7,food:5:14")] = None,
    format: str | None = None,
) -> Response:
    view = early_warning.warning_view(session, actor, root)
    frame = early_warning.early_warning(
        session,
        root,
        at,
        level=level,
        horizon=horizon,
        resource=resource,
        view=view,
        fed_share=fed_share,
        thresholds=warning.parse_thresholds(thresholds),
    )
    return _table(request, frame, format, f"warnings-{root}", root=root, view=view)


@router.post("/capacity", status_code=201)
def post_capacity(
    data: UploadDep,
    session: SessionDep,
    actor: UserDep,
    format: Annotated[str, Query(description="saner or covid19scenarios")] = "saner",
    at: Annotated[Day | None, Query(alias="date", description="covid19scenarios: the day the figures are for")] = None,
    skip_unknown: bool = False,
    filename: str = "upload.csv",
) -> JSONResponse:
    """Import a capacity report (the request body: CSV or TSV text) as stock counts, whole or not at all."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AccordError("unreadable upload", [Problem("the file is not UTF-8 text", file=filename)]) from None
    result = capacity_import.import_capacity(
        session, actor, text, file=filename, fmt=format, day=at, skip_unknown=skip_unknown
    )
    return JSONResponse(
        {
            "rows": result.rows,
            "postings": result.postings,
            "skipped_measures": result.skipped_measures,
            "unknown_places": result.unknown_places[:200],
        },
        status_code=201,
    )
