"""Every table, imported in one place so Alembic and ``create_all`` see the whole schema."""

from accord.auth.model import ApiToken, AuditEntry, User
from accord.db import Base

# each capability's tables register themselves on Base.metadata when their model module is imported
from accord.federation import model as federation_model  # noqa: F401
from accord.healthcode import model as healthcode_model  # noqa: F401
from accord.places.model import Jurisdiction, JurisdictionClosure
from accord.policy import model as policy_model  # noqa: F401
from accord.resources import model as resources_model  # noqa: F401
from accord.rumors.model import Claim, ClaimRevision, Question
from accord.surveillance.model import (
    Figure,
    Flag,
    IndicatorRow,
    Observation,
    ReportDay,
    ReportingSchedule,
    Submission,
)
from accord.tracing import model as tracing_model  # noqa: F401

__all__ = [
    "ApiToken",
    "AuditEntry",
    "Base",
    "Claim",
    "ClaimRevision",
    "Figure",
    "Flag",
    "IndicatorRow",
    "Jurisdiction",
    "JurisdictionClosure",
    "Observation",
    "Question",
    "ReportDay",
    "ReportingSchedule",
    "Submission",
    "User",
]
