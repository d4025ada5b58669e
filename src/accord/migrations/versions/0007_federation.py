"""federation: instance keys, peers, packages, inbox, resumable uploads, international pool, document registry

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import accord.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_document",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("licence", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("accession", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("keywords", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("registered_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_from", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_document")),
    )
    op.create_table(
        "federation_export_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_export_rule")),
    )
    with op.batch_alter_table("federation_export_rule", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_export_rule_member"), ["member"], unique=False)

    op.create_table(
        "federation_green_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_green_channel")),
    )
    op.create_table(
        "federation_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_identity")),
        sa.UniqueConstraint("key_id", name=op.f("uq_federation_identity_key_id")),
    )
    op.create_table(
        "federation_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("package_id", sa.String(length=64), nullable=True),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("received_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_inbox")),
    )
    with op.batch_alter_table("federation_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_inbox_package_id"), ["package_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_federation_inbox_sender"), ["sender"], unique=False)

    op.create_table(
        "federation_peer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("config", sa.JSON(), nullable=True),
        sa.Column("vulnerability", sa.Float(), nullable=False),
        sa.Column("registered_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("last_package_id", sa.String(length=64), nullable=True),
        sa.Column("last_received_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peer")),
        sa.UniqueConstraint("code", "role", name="uq_federation_peer_code_role"),
    )
    op.create_table(
        "federation_pool_booking",
        sa.Column("hub", sa.String(length=64), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=12), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("booked_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hub", "shipment_id", name=op.f("pk_federation_pool_booking")),
    )
    op.create_table(
        "federation_pool_post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("donor", sa.String(length=200), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("earmark", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("posted_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("envelope_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_pool_post")),
        sa.UniqueConstraint("envelope_hash", name=op.f("uq_federation_pool_post_envelope_hash")),
    )
    with op.batch_alter_table("federation_pool_post", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_pool_post_member"), ["member"], unique=False)

    op.create_table(
        "federation_upload",
        sa.Column("package_id", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("chunk_bytes", sa.Integer(), nullable=False),
        sa.Column("chunk_hashes", sa.JSON(), nullable=False),
        sa.Column("started_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("package_id", name=op.f("pk_federation_upload")),
    )
    op.create_table(
        "federation_chunk",
        sa.Column("package_id", sa.String(length=64), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"],
            ["federation_upload.package_id"],
            name=op.f("fk_federation_chunk_package_id_federation_upload"),
        ),
        sa.PrimaryKeyConstraint("package_id", "idx", name=op.f("pk_federation_chunk")),
    )
    op.create_table(
        "federation_package",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("previous_id", sa.String(length=64), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("rows_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["federation_peer.id"], name=op.f("fk_federation_package_peer_id_federation_peer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_package")),
        sa.UniqueConstraint("peer_id", "sequence", name="uq_federation_package_peer_id"),
    )
    op.create_table(
        "federation_peer_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("added_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["federation_peer.id"], name=op.f("fk_federation_peer_key_peer_id_federation_peer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peer_key")),
        sa.UniqueConstraint("peer_id", "key_id", name="uq_federation_peer_key_peer_id"),
    )
    op.create_table(
        "federation_pool_shipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("depart_day", sa.Date(), nullable=False),
        sa.Column("arrive_day", sa.Date(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("origin_answer", sa.String(length=8), nullable=True),
        sa.Column("destination_answer", sa.String(length=8), nullable=True),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["federation_pool_post.id"],
            name=op.f("fk_federation_pool_shipment_offer_id_federation_pool_post"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_pool_shipment")),
    )
    with op.batch_alter_table("federation_pool_shipment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_pool_shipment_run_id"), ["run_id"], unique=False)
        batch_op.create_index("ix_federation_pool_shipment_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("federation_pool_shipment", schema=None) as batch_op:
        batch_op.drop_index("ix_federation_pool_shipment_status")
        batch_op.drop_index(batch_op.f("ix_federation_pool_shipment_run_id"))

    op.drop_table("federation_pool_shipment")
    op.drop_table("federation_peer_key")
    op.drop_table("federation_package")
    op.drop_table("federation_chunk")
    op.drop_table("federation_upload")
    with op.batch_alter_table("federation_pool_post", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_pool_post_member"))

    op.drop_table("federation_pool_post")
    op.drop_table("federation_pool_booking")
    op.drop_table("federation_peer")
    with op.batch_alter_table("federation_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_inbox_sender"))
        batch_op.drop_index(batch_op.f("ix_federation_inbox_package_id"))

    op.drop_table("federation_inbox")
    op.drop_table("federation_identity")
    op.drop_table("federation_green_channel")
    with op.batch_alter_table("federation_export_rule", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_export_rule_member"))

    op.drop_table("federation_export_rule")
    op.drop_table("federation_document")
