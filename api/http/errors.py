"""422 errors shaped like FastAPI's own, for checks that need the database (unknown SKU...),
the error answers every JSON endpoint may give (for the OpenAPI schema), and the one mapping
of a workflow's refusal to 409."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from workflows.order.client import OrderRefused
from workflows.returns.client import ReturnClosed


def field_error(loc: tuple[str | int, ...], msg: str, kind: str) -> dict[str, object]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}


def invalid(errors: list[dict[str, object]]) -> RequestValidationError:
    """Raise this to answer 422 naming each offending field."""
    return RequestValidationError(errors)


class ErrorMessage(BaseModel):
    detail: str | dict[str, Any] = Field(description="what went wrong")


_WHY = {
    400: "the body could not be read (not UTF-8, not JSON)",
    401: "no valid API key (X-API-Key), or no webhook signature",
    403: "the key's role may not do this, or the webhook signature is wrong",
    404: "no such order, return, location, ... (named in detail)",
    409: "refused in the current state (named in detail); nothing changed",
    413: "request body over the limit (max_request_bytes)",
}

API_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorMessage, "description": why} for code, why in _WHY.items()
}
"""``APIRouter(responses=API_ERRORS)``: the 4xx answers besides 422, documented."""


def refusal_answer(exc: OrderRefused | ReturnClosed) -> tuple[int, str]:
    """A workflow's refusal as HTTP sees it: 409 with the workflow's reason. The JSON routes
    answer it through the handlers below; a page shows the same status and reason its way."""
    return 409, exc.reason


def install(app: FastAPI) -> None:
    """The one place a workflow's refusal becomes an HTTP answer: 409 with its reason. The
    typed clients raise ``OrderRefused`` (a validator said no, or the order is closed) and
    ``ReturnClosed``; routes let them through, pages show them in their own way."""

    @app.exception_handler(OrderRefused)
    async def _order_refused(request: Request, exc: OrderRefused) -> JSONResponse:
        status, reason = refusal_answer(exc)
        return JSONResponse({"detail": reason}, status_code=status)

    @app.exception_handler(ReturnClosed)
    async def _return_closed(request: Request, exc: ReturnClosed) -> JSONResponse:
        status, reason = refusal_answer(exc)
        return JSONResponse({"detail": reason}, status_code=status)
