"""The international pool in a member's own books: each accepted pool shipment booked once into the
resource ledger (a donation or receipt in, a consumption out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from accord.auth.roles import SYSTEM
from accord.db import transaction, utcnow
from accord.errors import AccordError, Forbidden
from accord.federation import transport
from accord.federation.identity import active_key_row
from accord.federation.model import PoolBooking
from accord.federation.peers import parent


def book_shipment(session: Session, shipment: dict[str, Any], me: str, hub_code: str, now: datetime) -> int | None:
    """Book one accepted pool shipment into this member's resource ledger; returns the ledger transaction id
    (None when it was booked before). Receiving: a donation (or, when sold, a receipt) into ``stock:ME`` on the
    arrival day; sending: units leave ``stock:ME`` on the departure day (booked as consumed here: they left)."""
    from accord.resources import movements
    from accord.resources.ledger import AccountKind

    if session.get(PoolBooking, (hub_code, int(shipment["id"]))) is not None:
        return None
    memo = f"international pool shipment {shipment['id']} ({shipment['origin']} -> {shipment['destination']})"
    common = {
        "resource": str(shipment["resource"]),
        "quantity": float(shipment["quantity"]),
        "unit": None,
        "memo": memo,
    }
    if shipment["destination"] == me:
        side = "destination"
        source_kind = AccountKind.DONATED if not shipment.get("price") else AccountKind.SUPPLY
        txn = movements.post_movement(
            session,
            SYSTEM,
            "donation" if source_kind is AccountKind.DONATED else "receipt",
            source=movements.Side(source_kind, me),
            target=movements.Side(AccountKind.STOCK, me),
            day=str(shipment["arrive_day"]),
            **common,  # type: ignore[arg-type]
        )
    elif shipment["origin"] == me:
        side = "origin"
        txn = movements.post_movement(
            session,
            SYSTEM,
            "consume",
            source=movements.Side(AccountKind.STOCK, me),
            target=movements.Side(AccountKind.CONSUMED, me),
            day=str(shipment["depart_day"]),
            **common,  # type: ignore[arg-type]
        )
    else:
        raise Forbidden(f"shipment {shipment['id']} is neither from nor to '{me}'")
    session.add(
        PoolBooking(hub=hub_code, shipment_id=int(shipment["id"]), side=side, transaction_id=txn.id, booked_at=now)
    )
    session.flush()
    return int(txn.id)


def book_accepted(
    sessions: sessionmaker[Session],
    client: httpx.Client,
    *,
    parent_code: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Fetch this member's accepted pool shipments from the hub and book each once (each in its own
    transaction: one that cannot be booked, e.g. for lack of stock, is reported and the others go on)."""
    now = now or utcnow()
    with transaction(sessions) as session:
        link_peer = parent(session, parent_code)
        me = active_key_row(session)
        assert me is not None
        url, hub_code, code = str(link_peer.url or "").rstrip("/"), link_peer.code, me.jurisdiction
    if not url:
        raise AccordError(f"parent '{hub_code}' has no URL; register it with --url")
    found = transport.get_json(
        client,
        url + transport.API + "/pool/shipments",
        "reading the pool's shipments",
        params={"member": code, "status": "accepted"},
    )
    booked, failed = [], []
    for shipment in found["data"]:
        try:
            with transaction(sessions) as session:
                txn = book_shipment(session, shipment, code, hub_code, now)
            if txn is not None:
                booked.append({"shipment": shipment["id"], "transaction": txn})
        except AccordError as exc:
            failed.append({"shipment": shipment["id"], "error": str(exc)})
    return {"booked": booked, "failed": failed}
