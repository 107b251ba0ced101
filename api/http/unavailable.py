"""503 + Retry-After when the database or Temporal is briefly out of reach (a restart, a full
connection pool): the caller's retry is safe, since every write is idempotent, and a 503 tells
partners to retry, where a 500 would read as a bug."""

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
    if isinstance(exc, RPCError) and exc.status in _TEMPORAL_BUSY:
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
