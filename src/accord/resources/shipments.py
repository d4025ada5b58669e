"""Receiving the shipments of an approved plan: arrivals into the destination's stock, and on closing,
whatever was sent and not received booked as a discrepancy (never dropped).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import SUBMITTERS, Actor
from accord.db import utcnow
from accord.errors import AccordError, Conflict, NotFound, Problem
from accord.places import service as places
from accord.resources import catalog
from accord.resources.catalog_store import quantity_in_unit
from accord.resources.checks import parse_day, require_role
from accord.resources.ledger import AccountKind, Leg, Movement
from accord.resources.ledger_store import Posting, account, write
from accord.resources.model import Need, Offer, Receipt, ResourceType, Shipment


def receive(
    session: Session,
    actor: Actor,
    shipment_id: int,
    quantity: object,
    *,
    unit: str | None = None,
    day: date | str | None = None,
    note: str | None = None,
    final: bool = False,
    warehouse: str = "main",
) -> Shipment:
    """Record units received from a shipment. ``final`` closes it: what was sent and not received is booked as a
    discrepancy (in transit -> lost at the destination) with the note, never dropped."""
    require_role(actor, SUBMITTERS, "receive shipments")
    s, code = _receivable(session, actor, shipment_id)
    r = session.get(ResourceType, s.resource_id)
    assert r is not None
    milli = quantity_in_unit(r, quantity, unit)
    outstanding = s.quantity - s.received - s.discrepancy
    when = _check_receipt(s, r, milli, outstanding, day, final)
    missing = outstanding - milli if final else 0
    postings = _receipt_postings(session, s, r.id, milli, missing, when, note, warehouse)
    txns = write(session, actor, postings)
    if milli > 0:
        session.add(
            Receipt(shipment_id=s.id, day=when, quantity=milli, note=note, txn_id=txns[0], user_id=actor.user_id)
        )
    _account_for(session, s, milli, missing, note)
    auth.audit(session, actor.user_id, "resources.receive", code, {"shipment": s.id, "quantity": milli, "final": final})
    return s


def _receivable(session: Session, actor: Actor, shipment_id: int) -> tuple[Shipment, str]:
    """A dispatched shipment to a place in the actor's scope, and that place's code."""
    s = session.get(Shipment, shipment_id)
    if s is None:
        raise NotFound(f"no shipment {shipment_id}")
    code = places.code_of(session, s.destination_id) or ""
    auth.require_scope(session, actor, s.destination_id, code, "receive shipments")
    if s.status not in ("dispatched", "received"):
        raise Conflict(f"shipment {shipment_id} is {s.status}: only a dispatched shipment can be received")
    return s, code


def _check_receipt(
    s: Shipment, r: ResourceType, milli: int, outstanding: int, day: date | str | None, final: bool
) -> date:
    """The receipt's day (default: today, or the departure day if later), once the quantity fits what is still on
    the way and the day is not before departure."""
    if milli > outstanding:
        raise AccordError(
            "receipt larger than the shipment",
            [
                Problem(
                    f"{catalog.from_milli(milli):g} {r.unit} is more than the {catalog.from_milli(outstanding):g} "
                    f"{r.unit} still on the way in shipment {s.id}",
                    field="quantity",
                )
            ],
        )
    when = parse_day(day, max(utcnow().date(), s.depart_day), "day")
    if when < s.depart_day:
        raise AccordError(
            "receipt before departure", [Problem(f"shipment {s.id} leaves on {s.depart_day}", field="day")]
        )
    if milli == 0 and not final:
        raise AccordError(
            "invalid quantity", [Problem("receive more than zero, or close the shipment", field="quantity")]
        )
    return when


def _receipt_postings(
    session: Session,
    s: Shipment,
    rid: int,
    milli: int,
    missing: int,
    when: date,
    note: str | None,
    warehouse: str,
) -> list[Posting]:
    """In transit -> the destination's stock for what arrived; in transit -> lost for what never will."""
    transit = account(session, AccountKind.IN_TRANSIT, s.destination_id)
    postings = []
    if milli > 0:
        target = account(session, AccountKind.STOCK, s.destination_id, warehouse)
        postings.append(
            Posting(
                Movement.ARRIVAL,
                when,
                [Leg(transit.id, rid, -milli), Leg(target.id, rid, milli)],
                note,
                shipment_id=s.id,
            )
        )
    if missing > 0:
        lost = account(session, AccountKind.LOST, s.destination_id)
        postings.append(
            Posting(
                Movement.LOSS,
                when,
                [Leg(transit.id, rid, -missing), Leg(lost.id, rid, missing)],
                f"discrepancy on shipment {s.id}: {note or 'no note'}",
                shipment_id=s.id,
            )
        )
    return postings


def _account_for(session: Session, s: Shipment, milli: int, missing: int, note: str | None) -> None:
    """Move the shipment, its need and its offer on by what was received and what was lost."""
    s.received += milli
    s.discrepancy += missing
    if missing:
        s.discrepancy_note = (note or "received less than sent")[:500]
    # partly received stays "received" (more may come); everything accounted for closes it
    s.status = "closed" if s.received + s.discrepancy >= s.quantity else "received"
    need = session.get(Need, s.need_id)
    assert need is not None
    need.received += milli
    # what was lost on the way is needed again: it goes back to the need's remaining quantity
    need.allocated -= missing
    if s.offer_id is not None:
        offer = session.get(Offer, s.offer_id)
        assert offer is not None
        offer.received += milli
