"""Shared dependencies of the API routes: settings, DB sessions, the Temporal client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Request
from sqlmodel import Session
from temporalio.client import Client

from core.db.engine import get_engine
from core.settings import Settings

DB_INT_MAX = 2**31 - 1
"""Largest id the database's integer columns hold: a larger one is a 422, not a 500."""
DbId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]


def settings(request: Request) -> Settings:
    return request.app.state.settings


def temporal(request: Request) -> Client:
    return request.app.state.temporal


def now() -> datetime:
    """The moment an order is placed: its cut-offs and calendars count from here. A
    dependency, so a test can place a Saturday order on any day of the week."""
    return datetime.now(UTC)


def db(request: Request) -> Iterator[Session]:
    """A read session (never blocks writers on SQLite); writes use ``session_scope``."""
    with Session(
        get_engine(request.app.state.settings.database_url, readonly=True), expire_on_commit=False
    ) as session:
        yield session
