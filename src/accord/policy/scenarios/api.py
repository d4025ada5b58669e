"""``GET /api/v1/scenarios/grid``: a scenario grid for the units under a jurisdiction (JSON with daily curves, or
CSV one row per scenario), the same computation as the ``/public/{code}/scenarios`` page."""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from accord.errors import AccordError, Problem
from accord.policy.scenarios import runs as sc
from accord.policy.scenarios import service
from accord.web.deps import SessionDep

router = APIRouter(prefix="/api/v1/scenarios", tags=["policy"])
CACHE_SECONDS = 120.0
CACHE_SIZE = 16
_CACHE: dict[tuple[str, ...], tuple[float, service.StoreGrid]] = {}


class GridParams:
    """Grid parameters from the query string; every bad value named."""

    def __init__(self, request: Request) -> None:
        q = request.query_params
        problems: list[Problem] = []
        self.level = (q.get("level") or "").strip() or None
        self.days = _ints(q.get("days"), "days", problems, [180])[0] or 180
        self.timings = [t or 0 for t in _ints(q.get("timings"), "timings", problems, [0, 14, 28])]
        self.durations = _ints(q.get("durations"), "durations", problems, [30, 60, 90])
        text = q.get("intensities")
        self.intensities = [s.strip() for s in text.split(",") if s.strip()] if text else [
            "distancing", "partial lockdown", "full lockdown"]  # fmt: skip
        for name in self.intensities:
            if name not in sc.INTENSITIES:
                problems.append(Problem(f"unknown intensity '{name[:40]}'", field="intensities"))
        relax = (q.get("relax_rt") or "").strip()
        self.relax_rt: float | None = None
        if relax:
            try:
                self.relax_rt = float(relax)
            except ValueError:
                problems.append(Problem(f"'{relax[:40]}' is not a number", field="relax_rt"))
        self.health = (q.get("health") or "deaths").strip()
        if problems:
            raise AccordError("invalid scenario grid", problems, status=400)

    def state(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "days": None if self.days == 180 else self.days,
            "timings": ",".join(map(str, self.timings)),
            "intensities": ",".join(self.intensities),
            "durations": ",".join("open" if d is None else str(d) for d in self.durations),
            "relax_rt": self.relax_rt,
            "health": None if self.health == "deaths" else self.health,
        }

    def key(self, session: Any, code: str) -> tuple[str, ...]:
        return (str(session.get_bind().url), code, json.dumps(self.state(), sort_keys=True, default=str))

    def run(self, session: Any, code: str) -> service.StoreGrid:
        """The grid, from a two-minute in-process cache when the same store, jurisdiction and parameters were just
        run (a page and its twins are fetched together; a grid takes seconds)."""
        key = self.key(session, code)
        hit = _CACHE.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return hit[1]
        grid = service.store_grid(session, code, level=self.level, days=self.days, timings=self.timings,
                                  intensities=self.intensities, durations=self.durations, relax_rt=self.relax_rt,
                                  health=self.health)  # fmt: skip
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (time.monotonic(), grid)
        return grid


def _ints(text: str | None, field: str, problems: list[Problem], default: list[int | None]) -> list[int | None]:
    if text is None or not text.strip():
        return list(default)
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip()
        if part in ("open", ""):
            out.append(None)
            continue
        try:
            out.append(int(part))
        except ValueError:
            problems.append(Problem(f"'{part[:40]}' is not a whole number of days", field=field))
    return out


def grid_payload(grid: service.StoreGrid) -> dict[str, Any]:
    return {
        "jurisdiction": grid.root_code,
        "start": grid.start,
        "days": grid.days,
        "units_with_measures": grid.units_with_measures,
        "regions": json.loads(grid.regions.to_json(orient="records")),
        "scenarios": [{**r, "curves": o.curves} for r, o in zip(grid.records, grid.outcomes, strict=True)],
    }


def grid_csv(grid: service.StoreGrid) -> Response:
    return Response(pd.DataFrame(grid.records).to_csv(index=False), media_type="text/csv; charset=utf-8")


@router.get("/grid")
def grid_api(request: Request, session: SessionDep, jurisdiction: str, format: str = "json") -> Response:
    """Run a timing x intensity x duration grid for the units under ``jurisdiction``; Pareto frontier marked."""
    if format not in ("json", "csv"):
        raise AccordError("invalid parameters", [Problem("format is json or csv", field="format")], status=400)
    grid = GridParams(request).run(session, jurisdiction)
    return grid_csv(grid) if format == "csv" else JSONResponse(grid_payload(grid))
