"""resources: catalog, need rules, double-entry ledger, needs and offers, routes, pairing, plans and shipments

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import accord.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_type",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("local_name", sa.String(length=200), nullable=True),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_type")),
        sa.UniqueConstraint("code", name=op.f("uq_resource_type_code")),
    )
    op.create_table(
        "resource_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"], ["jurisdiction.id"], name=op.f("fk_resource_account_jurisdiction_id_jurisdiction")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_account")),
        sa.UniqueConstraint("kind", "jurisdiction_id", "name", name="uq_resource_account_kind_jurisdiction_name"),
    )
    with op.batch_alter_table("resource_account", schema=None) as batch_op:
        batch_op.create_index("ix_resource_account_jurisdiction", ["jurisdiction_id"], unique=False)

    op.create_table(
        "resource_need_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column("per_day", sa.Float(precision=53), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resource_type.id"], name=op.f("fk_resource_need_rule_resource_id_resource_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_need_rule")),
        sa.UniqueConstraint("resource_id", "basis", name="uq_resource_need_rule_resource_basis"),
    )
    op.create_table(
        "resource_pairing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supporter_id", sa.Integer(), nullable=False),
        sa.Column("supported_id", sa.Integer(), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["supported_id"], ["jurisdiction.id"], name=op.f("fk_resource_pairing_supported_id_jurisdiction")
        ),
        sa.ForeignKeyConstraint(
            ["supporter_id"], ["jurisdiction.id"], name=op.f("fk_resource_pairing_supporter_id_jurisdiction")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_pairing")),
        sa.UniqueConstraint("supporter_id", "supported_id", name="uq_resource_pairing_supporter_supported"),
    )
    op.create_table(
        "resource_route",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin_id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("unit_cost", sa.Float(precision=53), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["destination_id"], ["jurisdiction.id"], name=op.f("fk_resource_route_destination_id_jurisdiction")
        ),
        sa.ForeignKeyConstraint(
            ["origin_id"], ["jurisdiction.id"], name=op.f("fk_resource_route_origin_id_jurisdiction")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_route")),
        sa.UniqueConstraint("origin_id", "destination_id", name="uq_resource_route_origin_destination"),
    )
    op.create_table(
        "resource_need",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("by_date", sa.Date(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("justification", sa.String(length=2000), nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], name=op.f("fk_resource_need_created_by_app_user")),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"], ["jurisdiction.id"], name=op.f("fk_resource_need_jurisdiction_id_jurisdiction")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resource_type.id"], name=op.f("fk_resource_need_resource_id_resource_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_need")),
    )
    with op.batch_alter_table("resource_need", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resource_need_jurisdiction_resource", ["jurisdiction_id", "resource_id"], unique=False
        )

    op.create_table(
        "resource_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("terms", sa.String(length=20), nullable=False),
        sa.Column("unit_price", sa.Float(precision=53), nullable=False),
        sa.Column("earmark_id", sa.Integer(), nullable=True),
        sa.Column("partners_only", sa.Boolean(), nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["resource_account.id"], name=op.f("fk_resource_offer_account_id_resource_account")
        ),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], name=op.f("fk_resource_offer_created_by_app_user")),
        sa.ForeignKeyConstraint(
            ["earmark_id"], ["jurisdiction.id"], name=op.f("fk_resource_offer_earmark_id_jurisdiction")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction_id"], ["jurisdiction.id"], name=op.f("fk_resource_offer_jurisdiction_id_jurisdiction")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resource_type.id"], name=op.f("fk_resource_offer_resource_id_resource_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_offer")),
    )
    with op.batch_alter_table("resource_offer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resource_offer_jurisdiction_resource", ["jurisdiction_id", "resource_id"], unique=False
        )

    op.create_table(
        "resource_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("root_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("approved_at", accord.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["approved_by"], ["app_user.id"], name=op.f("fk_resource_plan_approved_by_app_user")),
        sa.ForeignKeyConstraint(["created_by"], ["app_user.id"], name=op.f("fk_resource_plan_created_by_app_user")),
        sa.ForeignKeyConstraint(["root_id"], ["jurisdiction.id"], name=op.f("fk_resource_plan_root_id_jurisdiction")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_plan")),
    )
    op.create_table(
        "resource_shipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("source_account_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=True),
        sa.Column("need_id", sa.Integer(), nullable=False),
        sa.Column("origin_id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("depart_day", sa.Date(), nullable=False),
        sa.Column("arrive_day", sa.Date(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("proposed_quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", sa.Float(precision=53), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("discrepancy", sa.BigInteger(), nullable=False),
        sa.Column("discrepancy_note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["destination_id"], ["jurisdiction.id"], name=op.f("fk_resource_shipment_destination_id_jurisdiction")
        ),
        sa.ForeignKeyConstraint(
            ["need_id"], ["resource_need.id"], name=op.f("fk_resource_shipment_need_id_resource_need")
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["resource_offer.id"], name=op.f("fk_resource_shipment_offer_id_resource_offer")
        ),
        sa.ForeignKeyConstraint(
            ["origin_id"], ["jurisdiction.id"], name=op.f("fk_resource_shipment_origin_id_jurisdiction")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["resource_plan.id"], name=op.f("fk_resource_shipment_plan_id_resource_plan")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resource_type.id"], name=op.f("fk_resource_shipment_resource_id_resource_type")
        ),
        sa.ForeignKeyConstraint(
            ["source_account_id"],
            ["resource_account.id"],
            name=op.f("fk_resource_shipment_source_account_id_resource_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_shipment")),
    )
    with op.batch_alter_table("resource_shipment", schema=None) as batch_op:
        batch_op.create_index("ix_resource_shipment_need", ["need_id"], unique=False)
        batch_op.create_index("ix_resource_shipment_plan", ["plan_id"], unique=False)

    op.create_table(
        "resource_txn",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("recorded_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("memo", sa.String(length=500), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("shipment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["resource_txn.id"], name=op.f("fk_resource_txn_reverses_id_resource_txn")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["resource_shipment.id"], name=op.f("fk_resource_txn_shipment_id_resource_shipment")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_resource_txn_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_txn")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_resource_txn_reverses_id")),
    )
    with op.batch_alter_table("resource_txn", schema=None) as batch_op:
        batch_op.create_index("ix_resource_txn_day", ["day"], unique=False)

    op.create_table(
        "resource_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("txn_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["resource_account.id"], name=op.f("fk_resource_entry_account_id_resource_account")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resource_type.id"], name=op.f("fk_resource_entry_resource_id_resource_type")
        ),
        sa.ForeignKeyConstraint(["txn_id"], ["resource_txn.id"], name=op.f("fk_resource_entry_txn_id_resource_txn")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_entry")),
    )
    with op.batch_alter_table("resource_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resource_entry_account_resource_day", ["account_id", "resource_id", "day"], unique=False
        )
        batch_op.create_index("ix_resource_entry_txn", ["txn_id"], unique=False)

    op.create_table(
        "resource_balance",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["resource_account.id"], name=op.f("fk_resource_balance_account_id_resource_account")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"], ["resource_type.id"], name=op.f("fk_resource_balance_resource_id_resource_type")
        ),
        sa.PrimaryKeyConstraint("account_id", "resource_id", name=op.f("pk_resource_balance")),
    )

    op.create_table(
        "resource_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("txn_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", accord.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["resource_shipment.id"], name=op.f("fk_resource_receipt_shipment_id_resource_shipment")
        ),
        sa.ForeignKeyConstraint(["txn_id"], ["resource_txn.id"], name=op.f("fk_resource_receipt_txn_id_resource_txn")),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_resource_receipt_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_receipt")),
    )
    with op.batch_alter_table("resource_receipt", schema=None) as batch_op:
        batch_op.create_index("ix_resource_receipt_shipment", ["shipment_id"], unique=False)

        # ### end Alembic commands ###


def downgrade() -> None:
    for table in [
        "resource_receipt",
        "resource_balance",
        "resource_entry",
        "resource_txn",
        "resource_shipment",
        "resource_plan",
        "resource_offer",
        "resource_need",
        "resource_route",
        "resource_pairing",
        "resource_need_rule",
        "resource_account",
        "resource_type",
    ]:
        op.drop_table(table)
