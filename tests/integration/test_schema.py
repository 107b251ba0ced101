"""The migrations build exactly the schema the models describe, on real PostgreSQL (SQLite, which
needs no server: tests/unit/test_schema_sqlite.py)."""

from __future__ import annotations

from tests.unit.test_schema_sqlite import diff


def test_postgres_schema_matches_models(database_url: str) -> None:
    assert diff(database_url) == []
