"""Request bodies held to JSON itself: no ``NaN``, no ``Infinity``, no number beyond the
double range, no lone surrogate.

Python's parser (which FastAPI and Starlette use) accepts ``NaN``, ``Infinity`` and
``-Infinity``, reads ``1e309`` as infinity, and decodes ``"\\ud800"`` into a string that can
never be encoded again. None of these is data: a non-finite number breaks every JSON answer
that echoes it, and a lone surrogate breaks the database, the e-mail and the log. Left to the
models they came back as 500s, which partners retry forever.

So every JSON body is checked once, right where the caller becomes known: the guards every
JSON endpoint declares (``api.http.security.Allow`` and ``Signed``, the role matrix in
``tests/integration/test_roles.py`` proves each endpoint has one) call :func:`refuse_bad_json`
after the key or the signature (computed over the raw bytes) was accepted. A bad body is a
422 naming each offending place (``["body", "lines", 0, "quantity"]``), as FastAPI names any
bad field, and the endpoint never runs, so nothing changes. Bodies that are not JSON at all,
and those sent with another content type (stock feeds stream CSV or JSON lines), are left to
their endpoints.
"""

from __future__ import annotations

import email.message
import json
import math
import re
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

MAX_PROBLEMS = 20
"""At most this many places are named in one answer."""

_SURROGATE = re.compile("[\ud800-\udfff]")
NOT_FINITE = (
    "must be a finite number: NaN, Infinity and numbers beyond the double range "
    "(about 1.8e308) are not accepted"
)
LONE_SURROGATE = (
    "must be valid Unicode text: a lone surrogate (\\ud800-\\udfff without its pair) "
    "is not a character"
)


def _is_json(content_type: str | None) -> bool:
    """The content types FastAPI parses as JSON (``application/json``, ``.../...+json``)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _shown(key: str) -> str:
    """A key as an answer can carry it: lone surrogates written as ``\\udXXX`` escapes."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def problems(raw: bytes) -> list[dict[str, Any]]:
    """Each non-finite number and lone surrogate in the JSON document ``raw``, as FastAPI's
    error entries; empty for a clean document and for one that is not JSON at all."""
    try:
        document = json.loads(raw)
    except ValueError:  # not JSON (or not UTF-8): FastAPI answers that itself
        return []
    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, list[str | int]]] = [(document, ["body"])]
    while stack and len(found) < MAX_PROBLEMS:  # no recursion: nesting depth is the caller's
        value, loc = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            found.append({"loc": loc, "msg": NOT_FINITE, "type": "finite_number"})
        elif isinstance(value, str) and _SURROGATE.search(value):
            found.append({"loc": loc, "msg": LONE_SURROGATE, "type": "lone_surrogate"})
        elif isinstance(value, list):
            stack.extend((item, [*loc, i]) for i, item in reversed(list(enumerate(value))))
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                shown = _shown(key)
                if shown != key:
                    found.append(
                        {"loc": [*loc, shown], "msg": LONE_SURROGATE, "type": "lone_surrogate"}
                    )
                stack.append((item, [*loc, shown]))
    return found


async def refuse_bad_json(request: Request) -> None:
    """Raise a 422 naming every bad place if the request's JSON body holds a non-finite number
    or a lone surrogate; other bodies are not read here (uploads keep streaming)."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if not _is_json(request.headers.get("content-type")):
        return
    raw = await request.body()
    if raw and (found := problems(raw)):
        raise RequestValidationError(found)
