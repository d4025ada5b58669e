"""The migrations build exactly the schema the models describe, on both databases (no table, column, index or
foreign key missing or extra), so every capability's hand-written migration is held to its models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from accord import models


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, models.Base.metadata)
    assert diff == [], f"the migrations and the models disagree: {diff}"


def test_every_capability_registers_its_tables() -> None:
    tables = set(models.Base.metadata.tables)
    assert {"jurisdiction", "observation", "rumor_claim"} <= tables
