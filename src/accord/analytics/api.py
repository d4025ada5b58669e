"""HTTP API of the epidemic analytics: Rt of every unit under a jurisdiction, its latest value (for a map), and
hospital census against capacity. Thin: parse, call :mod:`accord.analytics.service`, render JSON, CSV or Parquet.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.analytics import service
from accord.auth.roles import Actor
from accord.errors import Forbidden
from accord.places import service as places
from accord.surveillance import service as surveillance
from accord.surveillance.api import read_limited
from accord.web import tables
from accord.web.deps import ActorDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

View = Literal["public", "all"]


def _check_view(session: SessionDep, actor: Actor, code: str, view: str) -> None:
    """``all`` (provisional figures too) only for users whose jurisdiction includes ``code``."""
    if view == "all":
        node = places.get(session, code)
        if not surveillance.can_see_provisional(session, actor, node.id):
            raise Forbidden(
                f"provisional figures are visible only to users whose jurisdiction includes '{code}'; use view=public"
            )


@router.get("/rt", summary="Rt (Cori et al.) of every child of a jurisdiction, or every unit at a level under it")
def get_rt(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    jurisdiction: str,
    level: str | None = None,
    window: int = service.WINDOW,
    si_mean: float = service.SI_MEAN,
    si_sd: float = service.SI_SD,
    view: View = "public",
    start: date | None = None,
    end: date | None = None,
    include_self: bool = False,
    format: str | None = None,
) -> Response:
    """One row per unit and day with an estimate: posterior mean, sd and 95% credible bounds, dated by the last
    day of the window; local, imported and unknown-origin cases in the window; ``missing_days`` (days without a
    report the estimate depends on, filled with 0); ``warning`` (under 12 local cases in the window, no
    infection pressure, or missing days). ``notes`` in the JSON say where totals were counted as local."""
    fmt = tables.choose(request, format)
    result = _regional_rt(
        session,
        actor,
        jurisdiction,
        level,
        window,
        si_mean,
        si_sd,
        view,
        start=start,
        end=end,
        include_root=include_self,
    )
    return tables.render(result.frame(), fmt, f"{jurisdiction}_rt", result.meta())


@router.get("/rt/latest", summary="The latest Rt of every child of a jurisdiction (or unit at a level), for a map")
def get_rt_latest(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    jurisdiction: str,
    level: str | None = None,
    window: int = service.WINDOW,
    si_mean: float = service.SI_MEAN,
    si_sd: float = service.SI_SD,
    view: View = "public",
    end: date | None = None,
    format: str | None = None,
) -> Response:
    """One row per unit: its last estimate (empty where there is none, with the reason in ``status``) and
    ``trend``: growing (lower bound above 1), declining (upper bound below 1) or uncertain."""
    fmt = tables.choose(request, format)
    result = _regional_rt(session, actor, jurisdiction, level, window, si_mean, si_sd, view, end=end)
    return tables.render(result.latest(), fmt, f"{jurisdiction}_rt_latest", result.meta())


def _regional_rt(
    session: SessionDep,
    actor: Actor,
    jurisdiction: str,
    level: str | None,
    window: int,
    si_mean: float,
    si_sd: float,
    view: View,
    **extra: Any,
) -> service.RegionalRt:
    """What both Rt endpoints share: the view check, then one vectorised estimate for every unit."""
    _check_view(session, actor, jurisdiction, view)
    return service.regional_rt(
        session, jurisdiction, level=level or None, window=window, si_mean=si_mean, si_sd=si_sd, view=view, **extra
    )


@router.get("/hospital", summary="Latest reported hospital and ICU census of every child (or unit at a level)")
def get_hospital(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    jurisdiction: str,
    level: str | None = None,
    view: View = "public",
    end: date | None = None,
    format: str | None = None,
) -> Response:
    """Census and trend without capacity (the store holds no capacity indicator yet): POST a capacity CSV to
    compare with it."""
    fmt = tables.choose(request, format)
    _check_view(session, actor, jurisdiction, view)
    demand = service.hospital_demand(session, jurisdiction, level=level or None, view=view, end=end)
    return tables.render(demand.table, fmt, f"{jurisdiction}_hospital", _hospital_meta(demand, view))


@router.post("/hospital", summary="Hospital and ICU census against capacity given as CSV (jurisdiction,beds,icu_beds)")
async def post_hospital(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    settings: SettingsDep,
    jurisdiction: str,
    level: str | None = None,
    view: View = "public",
    end: date | None = None,
    format: str | None = None,
) -> Response:
    """The request body is a CSV: ``jurisdiction`` and one or both of ``beds``, ``icu_beds``. Nothing is stored."""
    fmt = tables.choose(request, format)
    capacity = service.read_capacity(await read_limited(request, settings.max_upload_bytes), "capacity")
    _check_view(session, actor, jurisdiction, view)
    demand = service.hospital_demand(session, jurisdiction, level=level or None, view=view, end=end, capacity=capacity)
    return tables.render(demand.table, fmt, f"{jurisdiction}_hospital", _hospital_meta(demand, view))


def _hospital_meta(demand: service.HospitalDemand, view: str) -> dict[str, object]:
    return {"jurisdiction": demand.root.code, "view": view, "notes": demand.notes}
