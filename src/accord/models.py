"""Every table, imported in one place so Alembic and ``create_all`` see the whole schema."""

from accord.auth.model import ApiToken, AuditEntry, User
from accord.db import Base
from accord.places.model import Jurisdiction, JurisdictionClosure
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
