"""Mounting a capability's routers on the app.

The disclosure pages own catch-all routes (``/public/{code}``, ``/public/{code}/{view}``); a capability's own
``/public/...`` pages must be matched before them, so :func:`install_ahead` moves the routes it adds to the front.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute


def install_ahead(app: FastAPI, *routers: APIRouter) -> None:
    """Include ``routers`` (each once) and move their routes ahead of every route already there."""
    before = len(app.router.routes)
    for router in routers:
        if not _included(app, router):
            app.include_router(router)
    mine = app.router.routes[before:]
    del app.router.routes[before:]
    app.router.routes[:0] = mine


def _included(app: FastAPI, router: APIRouter) -> bool:
    """Whether ``router`` is in the app already: FastAPI wraps an included router (``original_router``)."""
    paths = {(r.path, frozenset(r.methods or ())) for r in router.routes if isinstance(r, APIRoute)}
    for r in app.router.routes:
        if getattr(r, "original_router", None) is router:
            return True
        if isinstance(r, APIRoute) and (r.path, frozenset(r.methods or ())) in paths:
            return True
    return False
