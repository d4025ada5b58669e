"""rumor registry: claims, their revisions, public questions

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import accord.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rumor_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("first_seen", sa.Date(), nullable=True),
        sa.Column("seen_where", sa.String(length=500), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], name=op.f("fk_rumor_claim_created_by_app_user")),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"], ["jurisdiction.id"], name=op.f("fk_rumor_claim_jurisdiction_id_jurisdiction")
        ),
        sa.ForeignKeyConstraint(["reviewed_by"], ["app_user.id"], name=op.f("fk_rumor_claim_reviewed_by_app_user")),
        sa.ForeignKeyConstraint(["updated_by"], ["app_user.id"], name=op.f("fk_rumor_claim_updated_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rumor_claim")),
    )
    with op.batch_alter_table("rumor_claim", schema=None) as batch_op:
        batch_op.create_index("ix_rumor_claim_status", ["status", "updated_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_rumor_claim_jurisdiction_id"), ["jurisdiction_id"], unique=False)

    op.create_table(
        "rumor_claim_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["rumor_claim.id"], name=op.f("fk_rumor_claim_revision_claim_id_rumor_claim")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_rumor_claim_revision_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rumor_claim_revision")),
    )
    with op.batch_alter_table("rumor_claim_revision", schema=None) as batch_op:
        batch_op.create_index("ix_rumor_claim_revision_claim", ["claim_id", "id"], unique=False)

    op.create_table(
        "rumor_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("asked_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.Column("handled_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["claim_id"], ["rumor_claim.id"], name=op.f("fk_rumor_question_claim_id_rumor_claim")),
        sa.ForeignKeyConstraint(["handled_by"], ["app_user.id"], name=op.f("fk_rumor_question_handled_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rumor_question")),
    )
    with op.batch_alter_table("rumor_question", schema=None) as batch_op:
        batch_op.create_index("ix_rumor_question_status", ["status", "asked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rumor_question", schema=None) as batch_op:
        batch_op.drop_index("ix_rumor_question_status")
    op.drop_table("rumor_question")
    with op.batch_alter_table("rumor_claim_revision", schema=None) as batch_op:
        batch_op.drop_index("ix_rumor_claim_revision_claim")
    op.drop_table("rumor_claim_revision")
    with op.batch_alter_table("rumor_claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rumor_claim_jurisdiction_id"))
        batch_op.drop_index("ix_rumor_claim_status")
    op.drop_table("rumor_claim")
