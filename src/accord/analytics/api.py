"""HTTP API of the epidemic analytics: Rt of every unit under a jurisdiction, its latest value (for a map),
hospital census against capacity, nowcasts from the revision history, calibrated ensemble forecasts (fan-chart
quantiles and the fit report) and scenarios against their baseline. Thin: parse, call
:mod:`accord.analytics.service`, render JSON, CSV or Parquet.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from accord.analytics import service
from accord.auth.roles import Actor
from accord.epi import forecast
from accord.errors import AccordError, Forbidden, Problem
from accord.places import service as places
from accord.surveillance import service as surveillance
from accord.web import tables
from accord.web.deps import ActorDep, SessionDep, UploadDep
from accord.web.params import Day, Instant, check_range

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
    start: Day | None = None,
    end: Day | None = None,
    include_self: bool = False,
    format: str | None = None,
) -> Response:
    """One row per unit and day with an estimate: posterior mean, sd and 95% credible bounds, dated by the last
    day of the window; local, imported and unknown-origin cases in the window; ``missing_days`` (days without a
    report the estimate depends on, filled with 0); ``warning`` (under 12 local cases in the window, no
    infection pressure, or missing days). ``notes`` in the JSON say where totals were counted as local."""
    fmt = tables.choose(request, format)
    check_range(start, end)
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
    end: Day | None = None,
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
    end: Day | None = None,
    format: str | None = None,
) -> Response:
    """Census and trend without capacity (the store holds no capacity indicator yet): POST a capacity CSV to
    compare with it."""
    fmt = tables.choose(request, format)
    _check_view(session, actor, jurisdiction, view)
    demand = service.hospital_demand(session, jurisdiction, level=level or None, view=view, end=end)
    return tables.render(demand.table, fmt, f"{jurisdiction}_hospital", _hospital_meta(demand, view))


@router.post("/hospital", summary="Hospital and ICU census against capacity given as CSV (jurisdiction,beds,icu_beds)")
def post_hospital(
    request: Request,
    data: UploadDep,
    session: SessionDep,
    actor: ActorDep,
    jurisdiction: str,
    level: str | None = None,
    view: View = "public",
    end: Day | None = None,
    format: str | None = None,
) -> Response:
    """The request body is a CSV: ``jurisdiction`` and one or both of ``beds``, ``icu_beds``. Nothing is stored."""
    fmt = tables.choose(request, format)
    capacity = service.read_capacity(data, "capacity")
    _check_view(session, actor, jurisdiction, view)
    demand = service.hospital_demand(session, jurisdiction, level=level or None, view=view, end=end, capacity=capacity)
    return tables.render(demand.table, fmt, f"{jurisdiction}_hospital", _hospital_meta(demand, view))


def _hospital_meta(demand: service.HospitalDemand, view: str) -> dict[str, object]:
    return {"jurisdiction": demand.root.code, "view": view, "notes": demand.notes}


# --------------------------------------------------------------------------- nowcast, forecast, scenario
#: ensembles run inside a request are capped (the CLI and a Dask cluster take larger ones)
API_MAX_MEMBERS = 500


@router.get("/nowcast", summary="Nowcast of the last days for reporting delay, from the revision history")
def get_nowcast(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    jurisdiction: str,
    level: str | None = None,
    indicator: str = "new_confirmed",
    as_of: Instant | None = None,
    days: int = 60,
    max_delay: int = 14,
    last: Annotated[int, Query(ge=1, le=1000, description="days shown, the latest last")] = 14,
    format: str | None = None,
) -> Response:
    """Per unit and day: the provisional value, its delay, the completeness expected at that delay (measured from
    the revisions), the nowcast of the final value and its 95% interval. Reads provisional revisions, so only for
    users whose jurisdiction includes ``jurisdiction``."""
    fmt = tables.choose(request, format)
    _check_view(session, actor, jurisdiction, "all")
    result = service.regional_nowcast(
        session, jurisdiction, level=level or None, indicator=indicator, as_of=as_of, days=days, max_delay=max_delay
    )
    return tables.render(result.frame(last=last), fmt, f"{jurisdiction}_nowcast", result.meta())


def _forecast(
    session: SessionDep,
    actor: Actor,
    jurisdiction: str,
    level: str | None,
    end: Day | None,
    horizon: int,
    members: int,
    seed: int,
    change_date: Day | None,
    view: View,
) -> service.RegionalForecast:
    _check_view(session, actor, jurisdiction, view)
    if members > API_MAX_MEMBERS:
        raise AccordError(
            "too many members",
            [Problem(f"the API runs at most {API_MAX_MEMBERS} members; use `accord forecast`", field="members")],
            status=400,
        )
    return service.regional_forecast(
        session, jurisdiction, level=level or None, end=end, horizon=horizon, members=members, seed=seed,
        change_date=change_date, view=view,
    )  # fmt: skip


@router.get("/forecast", summary="Calibrated ensemble forecast of every child (or unit at a level)")
def get_forecast(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    jurisdiction: str,
    level: str | None = None,
    end: Day | None = None,
    horizon: int = service.FORECAST_HORIZON,
    members: int = 100,
    seed: int = 1,
    change_date: Day | None = None,
    view: View = "public",
    part: Literal["forecast", "fit"] = "forecast",
    format: str | None = None,
) -> Response:
    """``part=forecast``: per unit and day, observed and fitted cases, then the forecast quantiles (q025, q25, q50,
    q75, q975: the 95% and 50% fans). ``part=fit``: the fit report, one row per unit (R0, change factor, seed,
    reporting share with 95% intervals, negative binomial size, log-likelihood)."""
    fmt = tables.choose(request, format)
    result = _forecast(session, actor, jurisdiction, level, end, horizon, members, seed, change_date, view)
    frame = result.frame() if part == "forecast" else result.fit_frame()
    return tables.render(frame, fmt, f"{jurisdiction}_{part}", result.meta())


@router.get("/scenario", summary="A contact-rate scenario against the baseline forecast (common random numbers)")
def get_scenario(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    jurisdiction: str,
    contacts: float = 0.5,
    from_day: int = 0,
    regions: str | None = None,
    level: str | None = None,
    end: Day | None = None,
    horizon: int = service.FORECAST_HORIZON,
    members: int = 100,
    seed: int = 1,
    change_date: Day | None = None,
    view: View = "public",
    format: str | None = None,
) -> Response:
    """Contacts of the units in ``regions`` (comma-separated codes; default all) multiplied by ``contacts`` from
    forecast day ``from_day``. Per unit: quantiles of the total reported cases over the horizon under the baseline,
    the scenario and their member-by-member difference."""
    fmt = tables.choose(request, format)
    result = _forecast(session, actor, jurisdiction, level, end, horizon, members, seed, change_date, view)
    codes = [u.code for u in result.units]
    picked = None
    if regions:
        wanted = [c.strip() for c in regions.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in codes]
        if unknown:
            raise AccordError(
                "unknown scenario regions",
                [Problem(f"'{c}' is not among the forecast units", field="regions") for c in unknown[:5]],
                status=400,
            )
        picked = tuple(codes.index(c) for c in wanted)
    scenario = forecast.Scenario(f"contacts x{contacts:g} from day {from_day}", contacts, from_day, None, picked)
    try:
        alt = service.scenario_forecast(result, scenario)
    except ValueError as exc:
        raise AccordError("invalid scenario", [Problem(str(exc), field="contacts")], status=400) from None
    table = service.scenario_comparison(result, alt, scenario.name)
    return tables.render(table, fmt, f"{jurisdiction}_scenario", {**result.meta(), "scenario": scenario.name})
