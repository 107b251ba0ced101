"""The migrations build exactly the schema the models describe, on SQLite from scratch (no server;
the PostgreSQL twin is tests/integration/test_schema.py)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import core.db.schema  # noqa: F401  (registers the tables)
from core.db.engine import get_engine
from core.db.migrate import upgrade


def diff(url: str) -> list[object]:
    with get_engine(url).connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)


def test_sqlite_schema_from_scratch_matches_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    upgrade(url)
    upgrade(url)  # a second run is a no-op
    assert diff(url) == []
    tables = set(inspect(get_engine(url)).get_table_names())
    assert {"location", "sku", "stock", "reservation", "order_record", "order_event"} <= tables
