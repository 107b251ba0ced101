"""422 errors shaped like FastAPI's own, for checks that need the database (unknown SKU...),
and the error answers every JSON endpoint may give, for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field


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
