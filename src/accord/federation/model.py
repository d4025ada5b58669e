"""Tables of the federation capability: identity, peers and their keys, packages out, inbox, uploads,
the international pool and the shared document registry."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from accord.db import Base, UTCDateTime


class InstanceKey(Base):
    """This instance's signing keys: one active (``retired_at`` null), earlier ones kept for the record."""

    __tablename__ = "federation_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))
    #: PKCS#8 PEM encrypted with ACCORD_FEDERATION_KEK
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Peer(Base):
    """Another instance: a parent this one reports to, or a child (member) that reports to this one."""

    __tablename__ = "federation_peer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    #: 'parent' or 'child'
    role: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str | None] = mapped_column(String(500))
    #: parent links: the LinkConfig of what goes up; child links: unused
    config: Mapped[dict[str, object] | None] = mapped_column(JSON)
    #: international pool: 0 (robust) .. 1 (most vulnerable health system)
    vulnerability: Mapped[float] = mapped_column(Float, default=0.0)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: child links: the last package applied from it (the head of its hash chain)
    last_sequence: Mapped[int] = mapped_column(Integer, default=0)
    last_package_id: Mapped[str | None] = mapped_column(String(64))
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("code", "role", name="uq_federation_peer_code_role"),)


class PeerKey(Base):
    __tablename__ = "federation_peer_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"))
    key_id: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: packages created after this moment are refused under this key
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("peer_id", "key_id", name="uq_federation_peer_key_peer_id"),)


class OutPackage(Base):
    """A package cut for a parent (the outbox): kept whole, so it can be pushed again, or pulled."""

    __tablename__ = "federation_package"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("federation_peer.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    previous_id: Mapped[str | None] = mapped_column(String(64))
    manifest: Mapped[dict[str, object]] = mapped_column(JSON)
    #: hash of the rows (not of the file): a re-cut with unchanged data reuses the package
    rows_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict[str, object] | None] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("peer_id", "sequence", name="uq_federation_package_peer_id"),)


class InboxEntry(Base):
    """Every package that reached this instance and what became of it: applied, held, replay or refused."""

    __tablename__ = "federation_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[str | None] = mapped_column(String(64), index=True)
    sender: Mapped[str] = mapped_column(String(64), index=True)
    sequence: Mapped[int | None] = mapped_column(Integer)
    #: applied, held, replay, refused
    status: Mapped[str] = mapped_column(String(16))
    #: refusal code (see federation.package) or '' when applied
    code: Mapped[str] = mapped_column(String(32), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submission_id: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[dict[str, object] | None] = mapped_column(JSON)
    #: a held package waits here for the ones before it
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)


class Upload(Base):
    """A resumable, content-addressed upload in progress: the chunk hashes are fixed when it starts."""

    __tablename__ = "federation_upload"

    package_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sender: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    chunk_bytes: Mapped[int] = mapped_column(Integer)
    chunk_hashes: Mapped[list[str]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the last chunk or start: an upload untouched for ACCORD_FEDERATION_UPLOAD_EXPIRY_HOURS is dropped
    touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class UploadChunk(Base):
    __tablename__ = "federation_chunk"

    package_id: Mapped[str] = mapped_column(ForeignKey("federation_upload.package_id"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RequestNonce(Base):
    """Nonces of signed transport requests seen here: a request is accepted once (replay protection). Kept
    until its signature time leaves the window, after which the request would be refused as stale anyway."""

    __tablename__ = "federation_nonce"

    #: the instance (jurisdiction code) that signed the request
    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


# ------------------------------------------------------------------------------------ international pool
class PoolPost(Base):
    """A need or an offer posted to the hub's pool, by a member or by a non-state donor through the hub."""

    __tablename__ = "federation_pool_post"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: 'need' or 'offer'
    kind: Mapped[str] = mapped_column(String(8))
    member: Mapped[str] = mapped_column(String(64), index=True)
    #: a non-state donor (twin city, company, NGO) offering through the member or directly ('' = the member)
    donor: Mapped[str] = mapped_column(String(200), default="")
    resource: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)
    #: needs: the day it is needed; offers: the day it can leave
    day: Mapped[date] = mapped_column(Date)
    #: offers: price per unit (0 = donation)
    price: Mapped[float] = mapped_column(Float, default=0.0)
    #: offers: destination member codes it may go to (null = anyone)
    earmark: Mapped[list[str] | None] = mapped_column(JSON)
    #: open, closed
    status: Mapped[str] = mapped_column(String(12), default="open")
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: SHA-256 of the signed envelope it came in: a replayed post is one post
    envelope_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class ExportRule(Base):
    """An export restriction of a member: resource ('*' = all) may not leave for destination ('*' = anywhere)."""

    __tablename__ = "federation_export_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member: Mapped[str] = mapped_column(String(64), index=True)
    resource: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GreenChannel(Base):
    """A trade-facilitation lane: shipments from origin to destination take ``lead_days`` instead of the default."""

    __tablename__ = "federation_green_channel"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(64))
    lead_days: Mapped[int] = mapped_column(Integer)


class PoolShipment(Base):
    """A shipment the pool proposed; it stands once both sides accepted it."""

    __tablename__ = "federation_pool_shipment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("federation_pool_post.id"))
    origin: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[float] = mapped_column(Float)
    depart_day: Mapped[date] = mapped_column(Date)
    arrive_day: Mapped[date] = mapped_column(Date)
    price: Mapped[float] = mapped_column(Float, default=0.0)
    #: proposed, accepted (both sides), declined
    status: Mapped[str] = mapped_column(String(12), default="proposed")
    origin_answer: Mapped[str | None] = mapped_column(String(8))
    destination_answer: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_federation_pool_shipment_status", "status"),)


# ------------------------------------------------------------------------------------ document registry
class SharedDocument(Base):
    """A shared technical document: protocol, guideline, genome accession, dataset (metadata, not the file)."""

    __tablename__ = "federation_document"

    #: SHA-256 of the canonical metadata: the same document registered twice is one entry
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(16))
    licence: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(1000), default="")
    accession: Mapped[str] = mapped_column(String(64), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    #: the instance (jurisdiction code) that registered it first
    origin: Mapped[str] = mapped_column(String(64))
    published_on: Mapped[date | None] = mapped_column(Date)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the child instance it came from (null = registered here)
    received_from: Mapped[str | None] = mapped_column(String(64))


class PoolBooking(Base):
    """At a member: an accepted pool shipment booked into this instance's resource ledger (once)."""

    __tablename__ = "federation_pool_booking"

    hub: Mapped[str] = mapped_column(String(64), primary_key=True)
    shipment_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: 'origin' or 'destination'
    side: Mapped[str] = mapped_column(String(12))
    transaction_id: Mapped[int] = mapped_column(Integer)
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime())
