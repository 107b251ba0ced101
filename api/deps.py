"""Shared dependencies of the API routes: settings, DB sessions, the Temporal client."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlmodel import Session
from temporalio.client import Client

from core.db.engine import get_engine
from core.settings import Settings


def settings(request: Request) -> Settings:
    return request.app.state.settings


def temporal(request: Request) -> Client:
    return request.app.state.temporal


def db(request: Request) -> Iterator[Session]:
    """A read session (never blocks writers on SQLite); writes use ``session_scope``."""
    with Session(get_engine(request.app.state.settings.database_url, readonly=True),
                 expire_on_commit=False) as session:
        yield session
