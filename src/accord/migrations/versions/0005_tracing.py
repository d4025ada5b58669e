"""tracing: persons (pseudonymous), encrypted identities, identifier hashes, cases and their history, contacts,
tasks

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import accord.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, accord.db.UTCDateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    op.create_table(
        "tracing_person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=24), nullable=False),
        sa.Column("residence_id", sa.Integer(), nullable=False),
        sa.Column("case_status", sa.String(length=12), nullable=False),
        sa.Column("case_date", sa.Date(), nullable=True),
        sa.Column("quarantine_until", sa.Date(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("source_ref", sa.String(length=80), nullable=True),
        _ts("created_at"),
        _ts("changed_at"),
        _fk("tracing_person", "residence_id", "jurisdiction"),
        _fk("tracing_person", "merged_into_id", "tracing_person"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_person")),
        sa.UniqueConstraint("ref", name=op.f("uq_tracing_person_ref")),
    )
    with op.batch_alter_table("tracing_person", schema=None) as b:
        b.create_index(b.f("ix_tracing_person_residence_id"), ["residence_id"], unique=False)
        b.create_index(b.f("ix_tracing_person_quarantine_until"), ["quarantine_until"], unique=False)
        b.create_index(b.f("ix_tracing_person_changed_at"), ["changed_at"], unique=False)
        b.create_index("ix_tracing_person_source", ["source", "source_ref"], unique=False)

    op.create_table(
        "tracing_identity",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        _fk("tracing_identity", "person_id", "tracing_person"),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_tracing_identity")),
    )

    op.create_table(
        "tracing_identifier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _fk("tracing_identifier", "person_id", "tracing_person"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_identifier")),
    )
    with op.batch_alter_table("tracing_identifier", schema=None) as b:
        b.create_index(b.f("ix_tracing_identifier_person_id"), ["person_id"], unique=False)
        b.create_index("ix_tracing_identifier_digest", ["digest", "kind"], unique=False)

    op.create_table(
        "tracing_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("source_ref", sa.String(length=80), nullable=True),
        sa.Column("classification", sa.String(length=12), nullable=False),
        sa.Column("onset_date", sa.Date(), nullable=True),
        sa.Column("report_date", sa.Date(), nullable=False),
        sa.Column("confirmation_date", sa.Date(), nullable=True),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("outcome_date", sa.Date(), nullable=True),
        sa.Column("residence_id", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _fk("tracing_case", "person_id", "tracing_person"),
        _fk("tracing_case", "residence_id", "jurisdiction"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_case")),
    )
    with op.batch_alter_table("tracing_case", schema=None) as b:
        b.create_index(b.f("ix_tracing_case_person_id"), ["person_id"], unique=False)
        b.create_index("ix_tracing_case_residence", ["residence_id", "confirmation_date"], unique=False)

    op.create_table(
        "tracing_case_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        _ts("at"),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=24), nullable=False),
        sa.Column("old", sa.String(length=40), nullable=True),
        sa.Column("new", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _fk("tracing_case_event", "case_id", "tracing_case"),
        _fk("tracing_case_event", "user_id", "app_user"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_case_event")),
    )
    with op.batch_alter_table("tracing_case_event", schema=None) as b:
        b.create_index(b.f("ix_tracing_case_event_case_id"), ["case_id"], unique=False)

    op.create_table(
        "tracing_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("first_exposure", sa.Date(), nullable=True),
        sa.Column("last_exposure", sa.Date(), nullable=True),
        sa.Column("setting", sa.String(length=16), nullable=False),
        sa.Column("proximity", sa.String(length=10), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("infector", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _fk("tracing_contact", "source_id", "tracing_person"),
        _fk("tracing_contact", "contact_id", "tracing_person"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_contact")),
    )
    with op.batch_alter_table("tracing_contact", schema=None) as b:
        b.create_index(b.f("ix_tracing_contact_source_id"), ["source_id"], unique=False)
        b.create_index(b.f("ix_tracing_contact_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "tracing_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("escalated_to_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        _ts("done_at", nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        _fk("tracing_task", "person_id", "tracing_person"),
        _fk("tracing_task", "jurisdiction_id", "jurisdiction"),
        _fk("tracing_task", "escalated_to_id", "jurisdiction"),
        _fk("tracing_task", "done_by", "app_user"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracing_task")),
    )
    with op.batch_alter_table("tracing_task", schema=None) as b:
        b.create_index("ix_tracing_task_list", ["jurisdiction_id", "due_date", "status"], unique=False)
        b.create_index("ix_tracing_task_person", ["person_id", "kind", "due_date"], unique=True)
        b.create_index("ix_tracing_task_escalated", ["escalated_to_id", "status"], unique=False)


def downgrade() -> None:
    for table in (
        "tracing_task",
        "tracing_contact",
        "tracing_case_event",
        "tracing_case",
        "tracing_identifier",
        "tracing_identity",
        "tracing_person",
    ):
        op.drop_table(table)
