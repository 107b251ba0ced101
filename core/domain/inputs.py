"""What every request body shares: strict models that name bad fields, refuse NUL
characters, and the id and postcode patterns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

Channel = Literal["web", "app", "store", "phone"]


Locale = Literal["de", "en"]


ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


POSTCODE_PATTERN = r"^[0-9]{5}$"


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class InputModel(BaseModel):
    """Base of what callers send: a NUL character (``\\u0000``) in any text is refused with a
    422 naming the field (PostgreSQL cannot store it, so it would fail later, deeper down)."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain NUL characters (\\u0000)")
        return value


class _Strict(InputModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
