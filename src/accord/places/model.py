"""Tables of the jurisdiction tree: nodes and their closure (every ancestor-descendant pair)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from accord.db import Base, UTCDateTime, utcnow


class Jurisdiction(Base):
    __tablename__ = "jurisdiction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    local_name: Mapped[str | None] = mapped_column(String(200))
    #: levels are data ("country", "province", "city", "community", "unallocated", ...), not an enum
    level: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdiction.id"), index=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int | None] = mapped_column(BigInteger)
    #: optional age structure: {"0-9": n, "10-19": n, ...}
    age_structure: Mapped[dict[str, int] | None] = mapped_column(JSON)
    #: optional GeoJSON geometry of the boundary
    boundary: Mapped[dict[str, object] | None] = mapped_column(JSON)
    lon: Mapped[float | None] = mapped_column()
    lat: Mapped[float | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_jurisdiction_name", "name"), Index("ix_jurisdiction_level", "level"))


class JurisdictionClosure(Base):
    """One row per (ancestor, descendant) including each node with itself at distance 0.

    A subtree or the ancestor path is then one indexed query, at any depth.
    """

    __tablename__ = "jurisdiction_closure"

    ancestor_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"), primary_key=True)
    descendant_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id"), primary_key=True)
    distance: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_closure_descendant", "descendant_id", "distance"),)
