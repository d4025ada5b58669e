"""federation transport: nonces of signed requests (replay protection), last activity of uploads (expiry)

Revision ID: 0008_federation_transport
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import accord.db

revision = "0008_federation_transport"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_nonce",
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender", "nonce", name=op.f("pk_federation_nonce")),
    )
    with op.batch_alter_table("federation_nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_federation_nonce_expires_at"), ["expires_at"], unique=False)
    with op.batch_alter_table("federation_upload", schema=None) as batch_op:
        batch_op.add_column(sa.Column("touched_at", accord.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_federation_upload_touched_at"), ["touched_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("federation_upload", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_upload_touched_at"))
        batch_op.drop_column("touched_at")
    with op.batch_alter_table("federation_nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_nonce_expires_at"))
    op.drop_table("federation_nonce")
