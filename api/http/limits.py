"""Limits on what a request may carry, checked before any endpoint runs.

* The body: at most ``max_request_bytes`` (stock feed uploads, which stream to disk, at most
  ``max_feed_bytes``). A declared Content-Length over the limit is answered 413 at once, without
  reading; a chunked body is counted as it arrives and cut off with 413 once it passes the limit.
* NUL characters in the path or a query parameter: 422 naming the parameter. PostgreSQL cannot
  store or compare text with NUL; request bodies are checked by their models
  (``core.domain.inputs.InputModel``).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings

STREAMED = ("/inventory/feeds/", "/masterdata/imports/")
"""Path prefixes of uploads that stream to disk: they get ``max_feed_bytes``."""

NUL_MESSAGE = "must not contain NUL characters (\\u0000)"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body passes the limit; FastAPI answers it as 413 JSON."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(413, detail=f"request body larger than {limit} bytes ({setting})")


def _nul_problem(scope: Scope) -> dict[str, object] | None:
    if "\x00" in scope.get("path", ""):
        return {"loc": ["path"], "msg": NUL_MESSAGE, "type": "nul_character"}
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or "\x00" in query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return {
                    "loc": ["query", name.replace("\x00", "")],
                    "msg": NUL_MESSAGE,
                    "type": "nul_character",
                }
    return None


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _find_too_large(exc: BaseException) -> BodyTooLarge | None:
    if isinstance(exc, BodyTooLarge):
        return exc
    if isinstance(exc, BaseExceptionGroup):  # raised inside a task group (middleware)
        for inner in exc.exceptions:
            if (found := _find_too_large(inner)) is not None:
                return found
    return None


class InputLimits:
    """ASGI middleware: ``app.add_middleware(InputLimits, settings=cfg)``."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def _limit(self, path: str) -> tuple[int, str]:
        if path.startswith(STREAMED):
            return self.settings.max_feed_bytes, "max_feed_bytes"
        return self.settings.max_request_bytes, "max_request_bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (problem := _nul_problem(scope)) is not None:
            await JSONResponse({"detail": [problem]}, status_code=422)(scope, receive, send)
            return
        limit, setting = self._limit(scope.get("path", ""))
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            too_large = BodyTooLarge(limit, setting)
            await JSONResponse(
                {"detail": too_large.detail}, status_code=413, headers={"Connection": "close"}
            )(scope, receive, send)
            return

        received, started = 0, False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, setting)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except Exception as exc:
            found = _find_too_large(exc)
            if found is None or started:
                raise
            await JSONResponse(
                {"detail": found.detail}, status_code=413, headers={"Connection": "close"}
            )(scope, receive, send)
