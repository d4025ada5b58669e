"""HTTP API of the tracing capability (``/api/v1/tracing``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/tracing", tags=["tracing"])
