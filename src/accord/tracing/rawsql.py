"""Statements for the raw DB-API cursor the bulk paths use."""

from __future__ import annotations


def cursor_sql(dialect_name: str, sql: str) -> str:
    """The statement with its qmark placeholders (SQLite) turned into format ones on PostgreSQL."""
    return sql.replace("?", "%s") if dialect_name == "postgresql" else sql
