"""HTTP API of the policy capability (``/api/v1/policy``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])
