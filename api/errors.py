"""422 errors shaped like FastAPI's own, for checks that need the database (unknown SKU...)."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError


def field_error(loc: tuple[str | int, ...], msg: str, kind: str) -> dict[str, object]:
    return {"loc": ["body", *loc], "msg": msg, "type": kind}


def invalid(errors: list[dict[str, object]]) -> RequestValidationError:
    """Raise this to answer 422 naming each offending field."""
    return RequestValidationError(errors)
