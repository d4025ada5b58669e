"""HTTP API of the federation capability (``/api/v1/federation``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/federation", tags=["federation"])
