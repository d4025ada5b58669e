"""HTTP API of the healthcode capability (``/api/v1/healthcode``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/healthcode", tags=["healthcode"])
