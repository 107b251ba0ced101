"""503 + Retry-After when the database or Temporal is briefly out of reach (a restart, a full
connection pool): the caller's retry is safe, since every write is idempotent, and a 503 tells
partners to retry, where a 500 would read as a bug.

Temporal away shows in three ways. A call that cannot reach the server is retried by the SDK
and then fails ``UNAVAILABLE`` (or ``DEADLINE_EXCEEDED``...). An Update whose answer does not
come in time fails ``WorkflowUpdateRPCTimeoutOrCancelledError``. And a call in flight when the
connection breaks under it (the server restarts, a proxy or load balancer in between drops the
connection) fails ``UNKNOWN`` "transport error": the SDK does not retry that one, since the
request may have reached the server, so it came through as a 500. It is the same brief absence,
and the caller's retry is just as safe (an action done already answers as done), so it is a
503 too; any other ``UNKNOWN`` or ``INTERNAL`` stays a 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

RETRY_AFTER_S = "2"
_TEMPORAL_BUSY = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.CANCELLED,
}
_CONNECTION_LOST = (
    "transport error",
    "connection",
    "broken pipe",
    "h2 protocol error",
    "stream error",
    "stream closed",
)
"""How a broken connection reads in an ``UNKNOWN``/``INTERNAL`` status (tonic's words)."""


def engine_away(exc: RPCError) -> bool:
    """Whether the error says Temporal was out of reach, not that the call was wrong."""
    if exc.status in _TEMPORAL_BUSY:
        return True
    message = exc.message.lower()
    return exc.status in (RPCStatusCode.UNKNOWN, RPCStatusCode.INTERNAL) and any(
        words in message for words in _CONNECTION_LOST
    )


def _busy(what: str) -> JSONResponse:
    return JSONResponse(
        {"detail": f"{what} is briefly unavailable; retry the same request"},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_S},
    )


async def _database(_request: Request, exc: Exception) -> JSONResponse:
    if (
        isinstance(exc, DBAPIError)
        and not isinstance(exc, OperationalError)
        and not exc.connection_invalidated
    ):
        raise exc  # a real error (constraint, bad SQL) stays a 500
    return _busy("the database")


async def _temporal(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, RPCError) and engine_away(exc):
        return _busy("the workflow engine")
    raise exc


async def _update_timeout(_request: Request, _exc: Exception) -> JSONResponse:
    """The order did not answer an action in time (it may still carry it out): retrying the
    same action is safe, every action is idempotent or refused once done."""
    return _busy("the order's workflow")


def install(app: FastAPI) -> None:
    app.add_exception_handler(WorkflowUpdateRPCTimeoutOrCancelledError, _update_timeout)
    app.add_exception_handler(PoolTimeout, _database)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(RPCError, _temporal)
