"""Engine and sessions for PostgreSQL (production) and SQLite (embedded default)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine


@lru_cache(maxsize=8)
def get_engine(url: str, readonly: bool = False) -> Engine:
    """One pooled engine per URL per process.

    SQLite has one writer at a time: write sessions take the lock at BEGIN (``BEGIN
    IMMEDIATE``) so conditional updates serialise cleanly instead of failing half-way, while
    ``readonly`` sessions (API reads) use deferred transactions and never wait for writers
    (WAL). On PostgreSQL both are the same engine settings.
    """
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=40,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        begin = "BEGIN" if readonly else "BEGIN IMMEDIATE"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    if readonly:
        return get_engine(url)
    # A short pool timeout: when every connection is busy, answer "retry" within seconds rather
    # than queue requests for half a minute.
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_timeout=5)


def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see get_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
