"""healthcode: signing keys, trust lists, rule sets, person statuses

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import accord.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "healthcode_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("jurisdiction", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_key")),
        sa.UniqueConstraint("kid", name=op.f("uq_healthcode_key_kid")),
    )
    with op.batch_alter_table("healthcode_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcode_key_jurisdiction"), ["jurisdiction"], unique=False)
    op.create_table(
        "healthcode_trustlist",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("issued_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_healthcode_trustlist")),
    )
    op.create_table(
        "healthcode_ruleset",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("published_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_healthcode_ruleset")),
    )
    op.create_table(
        "healthcode_status",
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("colour", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.String(length=200), nullable=False),
        sa.Column("ruleset", sa.String(length=32), nullable=False),
        sa.Column("evaluated_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("override_colour", sa.String(length=8), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("override_by", sa.String(length=80), nullable=True),
        sa.Column("override_until", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("jurisdiction", sa.String(length=64), nullable=True),
        sa.Column("initials", sa.String(length=3), nullable=True),
        sa.Column("birth_day", sa.String(length=5), nullable=True),
        sa.Column("residence_risk", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_healthcode_status")),
    )
    with op.batch_alter_table("healthcode_status", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcode_status_valid_until"), ["valid_until"], unique=False)

    op.create_table(
        "healthcode_employer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("jurisdiction", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_employer")),
        sa.UniqueConstraint("jurisdiction", "name", name=op.f("uq_healthcode_employer_jurisdiction")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_healthcode_employer_key_hash")),
    )
    op.create_table(
        "healthcode_employee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employer_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("initials", sa.String(length=3), nullable=False),
        sa.Column("birth_day", sa.String(length=5), nullable=False),
        sa.ForeignKeyConstraint(
            ["employer_id"],
            ["healthcode_employer.id"],
            name=op.f("fk_healthcode_employee_employer_id_healthcode_employer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_employee")),
        sa.UniqueConstraint("employer_id", "ref", name=op.f("uq_healthcode_employee_employer_id")),
    )
    with op.batch_alter_table("healthcode_employee", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcode_employee_employer_id"), ["employer_id"], unique=False)
    op.create_table(
        "healthcode_declaration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("temperature_c", sa.Float(), nullable=False),
        sa.Column("symptoms", sa.JSON(), nullable=False),
        sa.Column("travel_risk_area", sa.Boolean(), nullable=False),
        sa.Column("filed_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["healthcode_employee.id"],
            name=op.f("fk_healthcode_declaration_employee_id_healthcode_employee"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_declaration")),
        sa.UniqueConstraint("employee_id", "day", name=op.f("uq_healthcode_declaration_employee_id")),
    )
    with op.batch_alter_table("healthcode_declaration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcode_declaration_employee_id"), ["employee_id"], unique=False)
    op.create_table(
        "healthcode_entrance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("employee_id", sa.Integer(), nullable=False),
        sa.Column("at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("admitted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["healthcode_employee.id"],
            name=op.f("fk_healthcode_entrance_employee_id_healthcode_employee"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_healthcode_entrance")),
    )
    with op.batch_alter_table("healthcode_entrance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_healthcode_entrance_employee_id"), ["employee_id"], unique=False)


def downgrade() -> None:
    for table in ("healthcode_entrance", "healthcode_declaration", "healthcode_employee"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(
                batch_op.f(f"ix_{table}_{'employer_id' if table == 'healthcode_employee' else 'employee_id'}")
            )
        op.drop_table(table)
    op.drop_table("healthcode_employer")
    with op.batch_alter_table("healthcode_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_status_valid_until"))
    op.drop_table("healthcode_status")
    op.drop_table("healthcode_ruleset")
    op.drop_table("healthcode_trustlist")
    with op.batch_alter_table("healthcode_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_healthcode_key_jurisdiction"))
    op.drop_table("healthcode_key")
