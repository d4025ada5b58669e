"""policy: measures, index values, inboxes, risk rules and risk areas

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import accord.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_measure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("indicator", sa.String(length=4), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("targeted", sa.Boolean(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("allow_relaxation", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["issued_by"], ["app_user.id"], name=op.f("fk_policy_measure_issued_by_app_user")),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"], ["jurisdiction.id"], name=op.f("fk_policy_measure_jurisdiction_id_jurisdiction")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_measure")),
    )
    with op.batch_alter_table("policy_measure", schema=None) as batch_op:
        batch_op.create_index("ix_policy_measure_place", ["jurisdiction_id", "indicator", "start"], unique=False)

    op.create_table(
        "policy_index_value",
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.String(length=40), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"], ["jurisdiction.id"], name=op.f("fk_policy_index_value_jurisdiction_id_jurisdiction")
        ),
        sa.PrimaryKeyConstraint("jurisdiction_id", "index", "date", name=op.f("pk_policy_index_value")),
    )

    op.create_table(
        "policy_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"], ["jurisdiction.id"], name=op.f("fk_policy_notice_jurisdiction_id_jurisdiction")
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["policy_measure.id"], name=op.f("fk_policy_notice_measure_id_policy_measure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_notice")),
    )
    with op.batch_alter_table("policy_notice", schema=None) as batch_op:
        batch_op.create_index("ix_policy_notice_inbox", ["jurisdiction_id", "id"], unique=False)

    op.create_table(
        "policy_risk_rule",
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], name=op.f("fk_policy_risk_rule_created_by_app_user")),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_policy_risk_rule")),
    )

    op.create_table(
        "policy_risk_area",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("rule_version", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("cases_14d", sa.Integer(), nullable=False),
        sa.Column("cluster", sa.Boolean(), nullable=False),
        sa.Column("computed_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_risk_area")),
    )
    with op.batch_alter_table("policy_risk_area", schema=None) as batch_op:
        batch_op.create_index("ix_policy_risk_area_day", ["date", "rule_version", "jurisdiction_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_risk_area", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_risk_area_day")
    op.drop_table("policy_risk_area")
    op.drop_table("policy_risk_rule")
    with op.batch_alter_table("policy_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_notice_inbox")
    op.drop_table("policy_notice")
    op.drop_table("policy_index_value")
    with op.batch_alter_table("policy_measure", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_measure_place")
    op.drop_table("policy_measure")
