"""Allocation plans: solved and stored as a proposal, edited, approved (every shipment dispatched in the
ledger, all or nothing), listed and read back with their shipments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import APPROVERS, Actor
from accord.db import utcnow
from accord.errors import AccordError, Conflict, NotFound
from accord.places import service as places
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.resources import catalog
from accord.resources.catalog_store import quantity_in_unit
from accord.resources.checks import require_role
from accord.resources.ledger import AccountKind, Leg, Movement
from accord.resources.ledger_store import Posting, account, write
from accord.resources.model import Need, Offer, Plan, ResourceType, Shipment
from accord.resources.planning import ProblemInstance, build_problem


def solve_plan(
    session: Session,
    actor: Actor,
    root_code: str,
    resource_codes: Sequence[str] | None = None,
    horizon_days: int = 14,
    *,
    start: date | None = None,
    equity: str = "total",
    duals: bool = False,
    max_shortfall_share: float | None = None,
) -> Plan:
    """Build the problem of a subtree, solve it and store the proposal (shipments in status ``planned``)."""
    from accord.resources import optimiser as opt

    require_role(actor, APPROVERS, "plan allocations")
    root = places.get(session, root_code)
    auth.require_scope(session, actor, root.id, root.code, "plan allocations")
    inst = build_problem(session, root_code, resource_codes, horizon_days, start=start)
    options = opt.Options(equity=equity, duals=duals, max_shortfall_share=max_shortfall_share)  # type: ignore[arg-type]
    try:
        result = opt.solve(inst.problem, options)
    except AccordError as exc:  # name places, not optimiser nodes
        exc.problems = [replace(p, message=_readable(session, inst, p.message)) for p in exc.problems]
        exc.title = _readable(session, inst, exc.title)
        raise
    return _store_plan(session, actor, inst, result, options)


def _node_label(session: Session, inst: ProblemInstance, i: int) -> str:
    return f"{inst.node_kind[i]} {inst.node_ref[i]} ({places.code_of(session, inst.node_place[i])})"


def _store_plan(session: Session, actor: Actor, inst: ProblemInstance, result: Any, options: Any) -> Plan:
    """Store a solved problem as a proposed plan, its shipments ``planned`` (nothing is booked before approval)."""
    p = inst.problem
    offers = _records_of(session, inst, "offer", Offer)
    needs = _records_of(session, inst, "need", Need)
    plan = Plan(
        root_id=inst.root_id,
        status="proposed",
        start=inst.start,
        horizon_days=p.days,
        options={
            "equity": options.equity,
            "duals": options.duals,
            "max_shortfall_share": options.max_shortfall_share,
            "resources": list(p.resources),
        },
        summary=_summary(session, inst, result, needs),
        created_by=actor.user_id,
    )
    session.add(plan)
    session.flush()
    _add_shipments(session, plan, inst, result, needs, offers)
    session.flush()
    auth.audit(session, actor.user_id, "resources.plan", places.code_of(session, inst.root_id), {"plan": plan.id})
    return plan


_Record = TypeVar("_Record", Need, Offer)


def _records_of(session: Session, inst: ProblemInstance, kind: str, model: type[_Record]) -> dict[int, _Record]:
    """The needs (or offers) behind the problem's nodes of ``kind``, by id."""
    ids = [r for k, r in zip(inst.node_kind, inst.node_ref, strict=True) if k == kind]
    return {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))}


def _summary(session: Session, inst: ProblemInstance, result: Any, needs: dict[int, Need]) -> dict[str, Any]:
    """What the plan achieves, as stored with it: solver figures, totals, each need's outcome, warnings (in
    places' names) and the largest dual prices."""
    p = inst.problem
    return {
        "solver": result.solver,
        "status": result.status,
        "equity": result.equity,
        "objective": float(result.objective),
        "build_seconds": round(float(result.build_seconds), 4),
        "solve_seconds": round(float(result.solve_seconds), 4),
        "model_size": {k: int(v) for k, v in result.model_size.items()},
        "demand": float(p.demand.sum()),
        "served": float(result.served.sum()),
        "shortfall": float(result.shortfall.sum()),
        "needs": _need_rows(session, inst, result, needs),
        "warnings": list(inst.warnings) + [_readable(session, inst, w) for w in result.warnings],
        "duals": _top_duals(session, inst, result),
    }


def _need_rows(session: Session, inst: ProblemInstance, result: Any, needs: dict[int, Need]) -> list[dict[str, Any]]:
    p = inst.problem
    served = result.served.sum(axis=2)
    short = result.shortfall.sum(axis=2)
    rows = []
    for i, kind in enumerate(inst.node_kind):
        if kind != "need":
            continue
        n = needs[inst.node_ref[i]]
        r = inst.resource_ids.index(n.resource_id)
        rows.append(
            {
                "need": n.id,
                "jurisdiction": places.code_of(session, n.jurisdiction_id),
                "resource": p.resources[r],
                "demand": float(p.demand[i, r].sum()),
                "served": float(served[i, r]),
                "shortfall": float(short[i, r]),
                "priority": n.priority,
            }
        )
    return rows


def _top_duals(session: Session, inst: ProblemInstance, result: Any) -> list[dict[str, Any]]:
    """The ten largest positive dual prices (what one more unit would be worth, node and resource)."""
    if result.duals is None:
        return []
    flat = result.duals.sum(axis=2)
    top = []
    for i, r in zip(*np.unravel_index(np.argsort(-flat, axis=None)[:10], flat.shape), strict=True):
        if flat[i, r] > 1e-9:
            top.append(
                {
                    "node": _node_label(session, inst, int(i)),
                    "resource": inst.problem.resources[int(r)],
                    "value": float(flat[i, r]),
                }
            )
    return top


def _add_shipments(
    session: Session,
    plan: Plan,
    inst: ProblemInstance,
    result: Any,
    needs: dict[int, Need],
    offers: dict[int, Offer],
) -> None:
    """A planned shipment per positive flow of the solution, from the account it leaves (the offer's or the
    stockpile's) to the need it serves."""
    node_at = {name: k for k, name in enumerate(inst.problem.nodes)}
    rid_of = dict(zip(inst.problem.resources, inst.resource_ids, strict=True))
    for s in result.shipments.itertuples(index=False):
        i, j = node_at[s.origin], node_at[s.destination]
        q = catalog.to_milli(float(s.quantity))
        if q <= 0:
            continue
        need = needs[inst.node_ref[j]]
        if inst.node_kind[i] == "offer":
            offer = offers[inst.node_ref[i]]
            src_acc, offer_id = offer.account_id, offer.id
        else:
            src_acc, offer_id = inst.node_ref[i], None
        session.add(
            Shipment(
                plan_id=plan.id,
                resource_id=rid_of[s.resource],
                source_account_id=src_acc,
                offer_id=offer_id,
                need_id=need.id,
                origin_id=inst.node_place[i],
                destination_id=need.jurisdiction_id,
                depart_day=inst.start + timedelta(days=int(s.depart_day)),
                arrive_day=inst.start + timedelta(days=int(s.arrive_day)),
                quantity=q,
                proposed_quantity=q,
                unit_cost=float(s.unit_cost),
                status="planned",
                received=0,
                discrepancy=0,
            )
        )


def _readable(session: Session, inst: ProblemInstance, text: str) -> str:
    """The optimiser names nodes ``need:12``; say which place that is."""
    for i, name in enumerate(inst.problem.nodes):
        quoted = f"'{name}'"
        if quoted in text:
            text = text.replace(quoted, _node_label(session, inst, i))
    return text


def get_plan(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    return plan


def edit_shipment(session: Session, actor: Actor, plan_id: int, shipment_id: int, quantity: object) -> Shipment:
    """A coordinator changes a planned quantity (0 drops the lane) before approval."""
    require_role(actor, APPROVERS, "edit plans")
    plan = get_plan(session, plan_id)
    auth.require_scope(session, actor, plan.root_id, places.code_of(session, plan.root_id) or "", "edit plans")
    if plan.status != "proposed":
        raise Conflict(f"plan {plan_id} is {plan.status}; only a proposed plan can be edited")
    s = session.get(Shipment, shipment_id)
    if s is None or s.plan_id != plan_id:
        raise NotFound(f"plan {plan_id} has no shipment {shipment_id}")
    r = session.get(ResourceType, s.resource_id)
    assert r is not None
    s.quantity = quantity_in_unit(r, quantity, None)
    auth.audit(session, actor.user_id, "resources.plan.edit", None, {"plan": plan_id, "shipment": shipment_id})
    return s


def approve_plan(session: Session, actor: Actor, plan_id: int) -> Plan:
    """Approve a proposed plan: every shipment is dispatched in the ledger (its source account -> in transit to the
    destination, dated its departure day), its need and offer allocated. All or nothing: a plan that is stale
    (its needs or offers changed, or its stock went elsewhere) is refused as a whole."""
    require_role(actor, APPROVERS, "approve plans")
    plan = get_plan(session, plan_id)
    auth.require_scope(session, actor, plan.root_id, places.code_of(session, plan.root_id) or "", "approve plans")
    _mark_approved(session, actor, plan)
    ships = session.scalars(
        select(Shipment).where(Shipment.plan_id == plan_id, Shipment.quantity > 0).order_by(Shipment.id)
    ).all()
    _allocate(session, plan_id, ships)
    _dispatch(session, actor, plan_id, ships)
    session.execute(update(Shipment).where(Shipment.plan_id == plan_id, Shipment.quantity == 0).values(status="closed"))
    auth.audit(
        session, actor.user_id, "resources.plan.approve", places.code_of(session, plan.root_id), {"plan": plan_id}
    )
    return plan


def _mark_approved(session: Session, actor: Actor, plan: Plan) -> None:
    """Flip the plan from proposed to approved in one conditional UPDATE, so that of two concurrent approvals
    exactly one goes on (the other is told when it was approved)."""
    now = utcnow()
    flipped = session.execute(  # type: ignore[attr-defined]
        update(Plan)
        .where(Plan.id == plan.id, Plan.status == "proposed")
        .values(status="approved", approved_at=now, approved_by=actor.user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if flipped != 1:
        session.refresh(plan)
        when = plan.approved_at.isoformat(timespec="seconds") if plan.approved_at else "earlier"
        raise Conflict(f"plan {plan.id} was already approved ({when}); a plan is approved once")
    session.refresh(plan)


def _allocate(session: Session, plan_id: int, ships: Sequence[Shipment]) -> None:
    """Allocate the shipped quantities to their needs and offers; refuse a stale plan (a need or offer closed,
    or no longer holding what the plan sends)."""
    per_need: dict[int, int] = {}
    per_offer: dict[int, int] = {}
    for s in ships:
        per_need[s.need_id] = per_need.get(s.need_id, 0) + s.quantity
        if s.offer_id is not None:
            per_offer[s.offer_id] = per_offer.get(s.offer_id, 0) + s.quantity
    for nid, q in per_need.items():
        need = session.get(Need, nid)
        assert need is not None
        if need.closed_at is not None or need.allocated + q > need.quantity:
            raise Conflict(
                f"plan {plan_id} is stale: need {nid} has {catalog.from_milli(need.quantity - need.allocated):g} "
                f"left unallocated{' and is closed' if need.closed_at else ''}, the plan sends "
                f"{catalog.from_milli(q):g}; solve again"
            )
        need.allocated += q
    for oid, q in per_offer.items():
        offer = session.get(Offer, oid)
        assert offer is not None
        if offer.closed_at is not None or offer.allocated + q > offer.quantity:
            raise Conflict(
                f"plan {plan_id} is stale: offer {oid} no longer has {catalog.from_milli(q):g} available; solve again"
            )
        offer.allocated += q


def _dispatch(session: Session, actor: Actor, plan_id: int, ships: Sequence[Shipment]) -> None:
    """Book every shipment's dispatch (source account -> in transit to the destination, on its departure day);
    a source that no longer holds the units refuses the whole plan."""
    postings = []
    for s in ships:
        transit = account(session, AccountKind.IN_TRANSIT, s.destination_id)
        postings.append(
            Posting(
                Movement.DISPATCH,
                s.depart_day,
                [Leg(s.source_account_id, s.resource_id, -s.quantity), Leg(transit.id, s.resource_id, s.quantity)],
                f"plan {plan_id} shipment {s.id}",
                shipment_id=s.id,
            )
        )
        s.status = "dispatched"
    try:
        write(session, actor, postings)
    except AccordError as exc:
        raise Conflict(
            f"plan {plan_id} cannot be dispatched: {exc.problems[0].message if exc.problems else exc}"
        ) from None


def plan_frames(session: Session, plan_id: int) -> tuple[Plan, pd.DataFrame]:
    """A plan and its shipments with places (names, coordinates) and resources spelled out."""
    plan = get_plan(session, plan_id)
    o, d = Jurisdiction.__table__.alias("o"), Jurisdiction.__table__.alias("d")
    rows = session.execute(
        select(
            Shipment.id,
            ResourceType.code,
            ResourceType.unit,
            o.c.code,
            o.c.name,
            o.c.lon,
            o.c.lat,
            d.c.code,
            d.c.name,
            d.c.lon,
            d.c.lat,
            Shipment.need_id,
            Shipment.offer_id,
            Shipment.depart_day,
            Shipment.arrive_day,
            Shipment.quantity,
            Shipment.proposed_quantity,
            Shipment.received,
            Shipment.discrepancy,
            Shipment.status,
            Shipment.unit_cost,
        )
        .join(ResourceType, ResourceType.id == Shipment.resource_id)
        .join(o, o.c.id == Shipment.origin_id)
        .join(d, d.c.id == Shipment.destination_id)
        .where(Shipment.plan_id == plan_id)
        .order_by(Shipment.id)
    ).all()
    frame = pd.DataFrame(rows, columns=SHIPMENT_COLUMNS)
    for col in ("quantity", "proposed_quantity", "received", "discrepancy"):
        frame[col] = frame[col].astype(float) / catalog.SCALE
    for col in ("depart_day", "arrive_day"):
        frame[col] = frame[col].map(lambda v: v.isoformat() if v is not None else None)
    return plan, frame


SHIPMENT_COLUMNS = [
    "id",
    "resource",
    "unit",
    "origin",
    "origin_name",
    "origin_lon",
    "origin_lat",
    "destination",
    "destination_name",
    "destination_lon",
    "destination_lat",
    "need",
    "offer",
    "depart_day",
    "arrive_day",
    "quantity",
    "proposed_quantity",
    "received",
    "discrepancy",
    "status",
    "unit_cost",
]


def plan_dict(session: Session, plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "root": places.code_of(session, plan.root_id),
        "status": plan.status,
        "start": plan.start.isoformat(),
        "horizon_days": plan.horizon_days,
        "options": plan.options,
        "summary": plan.summary,
        "created_at": plan.created_at.isoformat(timespec="seconds"),
        "approved_at": plan.approved_at.isoformat(timespec="seconds") if plan.approved_at else None,
    }


def plans_frame(session: Session, root_code: str) -> pd.DataFrame:
    root = places.get(session, root_code)
    sub = select(JurisdictionClosure.descendant_id).where(JurisdictionClosure.ancestor_id == root.id)
    plans = session.scalars(select(Plan).where(Plan.root_id.in_(sub)).order_by(Plan.id.desc())).all()
    return pd.DataFrame(
        [
            {
                "id": p.id,
                "root": places.code_of(session, p.root_id),
                "status": p.status,
                "start": p.start.isoformat(),
                "horizon_days": p.horizon_days,
                "resources": ",".join(p.options.get("resources", [])),
                "demand": p.summary.get("demand"),
                "served": p.summary.get("served"),
                "shortfall": p.summary.get("shortfall"),
                "created_at": p.created_at.isoformat(timespec="seconds"),
            }
            for p in plans
        ],
        columns=[
            "id",
            "root",
            "status",
            "start",
            "horizon_days",
            "resources",
            "demand",
            "served",
            "shortfall",
            "created_at",
        ],
    )
