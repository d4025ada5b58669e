"""The FastAPI application: routers of every capability, problem documents, offline API docs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text

from accord import __version__
from accord.analytics import capacity_pages
from accord.analytics import pages as analytics_pages
from accord.db import engine_from_settings, session_factory, transaction, utcnow
from accord.disclosure import pages as disclosure_pages
from accord.federation import pages as federation_pages
from accord.healthcode import pages as healthcode_pages
from accord.places.api import router as places_router
from accord.policy import pages as policy_pages
from accord.policy.scenarios import pages as scenario_pages
from accord.resources import pages as resources_pages
from accord.rumors import pages as rumor_pages
from accord.settings import Settings, get_settings
from accord.surveillance import integrity
from accord.surveillance import service as surveillance
from accord.surveillance.api import router as surveillance_router
from accord.tracing import pages as tracing_pages
from accord.web import problems

log = logging.getLogger("accord")


def create_app(settings: Settings | None = None, *, background: bool = False) -> FastAPI:
    settings = settings or get_settings()
    engine = engine_from_settings(settings, server=True)
    sessions = session_factory(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        duties = (_auto_publish_loop, _rollup_check_loop) if background else ()
        tasks = [asyncio.create_task(duty(app)) for duty in duties]
        yield
        for task in tasks:
            task.cancel()
        engine.dispose()

    # FastAPIOffline serves Swagger UI and ReDoc from files inside the installed package: no CDN
    app = FastAPIOffline(
        title="Accord",
        version=__version__,
        lifespan=lifespan,
        description="Multi-level pandemic response coordination: open-data and reporting API.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    problems.install(app)
    app.include_router(places_router)
    app.include_router(surveillance_router)

    @app.get("/api/v1/health", tags=["meta"])
    def health() -> dict[str, Any]:
        with sessions() as s:
            s.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "database": engine.dialect.name}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/public")

    disclosure_pages.install(app)
    analytics_pages.install(app)  # after disclosure too: /public/{code}/rt before the catch-alls
    rumor_pages.install(app)  # after disclosure: it moves its routes ahead of the /public catch-alls
    capabilities = (resources_pages, policy_pages, scenario_pages, capacity_pages, tracing_pages, healthcode_pages)
    for capability in (*capabilities, federation_pages):
        capability.install(app)  # each through accord.web.mount.install_ahead, as above
    return app


async def _auto_publish_loop(app: FastAPI, every_seconds: float = 60.0) -> None:
    """Publish reporting days whose approval delay has passed (no nightly batch: every minute)."""
    settings: Settings = app.state.settings
    while True:
        try:

            def run() -> int:
                with transaction(app.state.sessions) as s:
                    return surveillance.publish_due(s, utcnow(), settings.auto_publish_hours)

            n = await asyncio.to_thread(run)
            if n:
                log.info("auto-published %d reporting days", n)
        except Exception:  # keep the loop alive; the error is logged
            log.exception("auto-publication failed")
        await asyncio.sleep(every_seconds)


async def _rollup_check_loop(app: FastAPI) -> None:
    """Verify the recent roll-up every so often: a wrong sum becomes an error flag and a log line, not a surprise."""
    settings: Settings = app.state.settings
    if settings.rollup_check_minutes <= 0:
        return
    while True:
        await asyncio.sleep(settings.rollup_check_minutes * 60)
        try:

            def run() -> int:
                with transaction(app.state.sessions) as s:
                    start = utcnow().date() - timedelta(days=settings.rollup_check_days)
                    found = integrity.check_rollup(s, start=start)
                    integrity.flag_mismatches(s, found)
                    return len(found)

            n = await asyncio.to_thread(run)
            if n:
                log.error("roll-up check: %d figure(s) differ from their children's sum; see 'accord report check'", n)
        except Exception:  # keep the loop alive; the error is logged
            log.exception("roll-up check failed")
