"""Tables of the rumor registry: claims with verdicts, their edit history, and the public's questions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.auth import model as _auth_model  # noqa: F401  (registers app_user for the foreign keys)
from accord.db import Base, UTCDateTime
from accord.places import model as _places_model  # noqa: F401  (registers jurisdiction)

VERDICTS = ("false", "misleading", "unproven", "true")
STATUSES = ("draft", "reviewed", "published")
QUESTION_STATUSES = ("open", "answered", "dismissed")


class Claim(Base):
    """A claim that circulates, the verdict on it and why, issued by one jurisdiction."""

    __tablename__ = "rumor_claim"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    #: BCP 47 tag as given ('en', 'zh', 'zh-Hant', ...), or None when unknown: matching never needs it
    language: Mapped[str | None] = mapped_column(String(35))
    first_seen: Mapped[date | None] = mapped_column(Date)
    seen_where: Mapped[str | None] = mapped_column(String(500))
    verdict: Mapped[str] = mapped_column(String(16))
    explanation: Mapped[str] = mapped_column(Text)
    #: [{"title": ..., "url": ...}, ...]
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"), index=True)
    #: draft -> reviewed -> published
    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_rumor_claim_status", "status", "updated_at"),)


class ClaimRevision(Base):
    """One step in a claim's history: what it said after the step, who did it and why. Append-only."""

    __tablename__ = "rumor_claim_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("rumor_claim.id"))
    version: Mapped[int] = mapped_column(Integer)
    #: created, edited, reviewed, published, imported
    action: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    username: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str | None] = mapped_column(Text)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_rumor_claim_revision_claim", "claim_id", "id"),)


class Question(Base):
    """A public "is this true?" submission, with the matcher's suggestions, waiting in the reviewers' queue."""

    __tablename__ = "rumor_question"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: [{"claim_id": ..., "score": ...}, ...] best first, as the matcher saw it when asked
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: open -> answered (with a claim) or dismissed
    status: Mapped[str] = mapped_column(String(16), default="open")
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("rumor_claim.id"))
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_rumor_question_status", "status", "asked_at"),)
