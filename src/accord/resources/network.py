"""The network plans ship over: routes between two places (lead time, unit cost, closed) and pairing
assistance (a supporting jurisdiction paired with a struck one).
"""

from __future__ import annotations

import math

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.auth import service as auth
from accord.auth.roles import APPROVERS, Actor
from accord.errors import AccordError, Problem
from accord.places.model import Jurisdiction
from accord.resources.checks import MAX_HORIZON_DAYS, place_named, require_role
from accord.resources.model import Pairing, Route


def set_route(
    session: Session,
    actor: Actor,
    origin: str,
    destination: str,
    *,
    lead_days: int,
    unit_cost: float = 1.0,
    closed: bool = False,
    note: str | None = None,
) -> Route:
    require_role(actor, APPROVERS, "set routes")
    o, d = place_named(session, origin, field="origin"), place_named(session, destination, field="destination")
    auth.require_scope(session, actor, o.id, o.code, "set routes")
    problems = []
    if not (0 <= int(lead_days) <= MAX_HORIZON_DAYS):
        problems.append(Problem(f"lead time is 0 to {MAX_HORIZON_DAYS} days, not {lead_days}", field="lead_days"))
    cost = float(unit_cost)
    if not (math.isfinite(cost) and cost >= 0):
        problems.append(Problem(f"unit cost must be a non-negative number, not {unit_cost}", field="unit_cost"))
    if o.id == d.id:
        problems.append(Problem("a route joins two different places", field="destination"))
    if problems:
        raise AccordError("invalid route", problems)
    route = session.scalar(select(Route).where(Route.origin_id == o.id, Route.destination_id == d.id))
    if route is None:
        route = Route(origin_id=o.id, destination_id=d.id, lead_days=0, unit_cost=0.0)
        session.add(route)
    route.lead_days, route.unit_cost, route.closed, route.note = int(lead_days), cost, bool(closed), note
    session.flush()
    auth.audit(session, actor.user_id, "resources.route", o.code, {"to": d.code, "closed": closed})
    return route


def set_pairing(
    session: Session, actor: Actor, supporter: str, supported: str, *, exclusive: bool = False, note: str | None = None
) -> Pairing:
    require_role(actor, APPROVERS, "pair jurisdictions")
    s, t = place_named(session, supporter, field="supporter"), place_named(session, supported, field="supported")
    auth.require_scope(session, actor, s.id, s.code, "pair jurisdictions")
    if s.id == t.id:
        raise AccordError("invalid pairing", [Problem("a place cannot be paired with itself", field="supported")])
    pair = session.scalar(select(Pairing).where(Pairing.supporter_id == s.id, Pairing.supported_id == t.id))
    if pair is None:
        pair = Pairing(supporter_id=s.id, supported_id=t.id)
        session.add(pair)
    pair.exclusive, pair.note = bool(exclusive), note
    session.flush()
    auth.audit(session, actor.user_id, "resources.pairing", s.code, {"supported": t.code, "exclusive": exclusive})
    return pair


def routes_frame(session: Session) -> pd.DataFrame:
    o, d = Jurisdiction.__table__.alias("o"), Jurisdiction.__table__.alias("d")
    rows = session.execute(
        select(o.c.code, d.c.code, Route.lead_days, Route.unit_cost, Route.closed, Route.note)
        .join(o, o.c.id == Route.origin_id)
        .join(d, d.c.id == Route.destination_id)
        .order_by(o.c.code, d.c.code)
    ).all()
    return pd.DataFrame(rows, columns=["origin", "destination", "lead_days", "unit_cost", "closed", "note"])


def pairings_frame(session: Session) -> pd.DataFrame:
    s, t = Jurisdiction.__table__.alias("s"), Jurisdiction.__table__.alias("t")
    rows = session.execute(
        select(s.c.code, t.c.code, Pairing.exclusive, Pairing.note)
        .join(s, s.c.id == Pairing.supporter_id)
        .join(t, t.c.id == Pairing.supported_id)
        .order_by(s.c.code, t.c.code)
    ).all()
    return pd.DataFrame(rows, columns=["supporter", "supported", "exclusive", "note"])
