"""Per-request log context, access log and HTTP metrics.

A plain ASGI middleware gives every log line of a request its ``request_id`` (the caller's
``X-Request-ID`` or a new one, echoed back), writes one access line and counts the request by
route *template* (bounded label values, never raw ids). Path parameters are only known after
routing, so an app-wide dependency (``bind_path_ids``) adds ``order_id`` and ``workflow_id``
on routes that have an ``{order_id}``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import structlog
from fastapi import Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.domain.orders import workflow_id_for

log = logging.getLogger("oms.access")
UNMATCHED = "<unmatched>"
QUIET = frozenset({"/metrics", "/health"})  # scraped and probed all the time: DEBUG only
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class HttpMetrics:
    """Request count and latency by method, route template and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "oms_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "oms_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=registry,
        )


def route_template(scope: Scope) -> str:
    """The route template that served the request (``/orders/{order_id}``), rebuilt from the
    path and the path parameters the router found; ``<unmatched>`` when no route did."""
    if scope.get("route") is None and "endpoint" not in scope:
        return UNMATCHED
    if scope.get("route") is None:  # a mounted app (static files)
        return f"{scope.get('root_path', '')}/{{path}}"
    names = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    return "/".join(
        f"{{{names[seg]}}}" if seg in names else seg for seg in scope["path"].split("/")
    )


def order_fields(order_id: str) -> dict[str, str]:
    return {"order_id": order_id, "workflow_id": workflow_id_for(order_id)}


async def bind_path_ids(request: Request) -> None:
    """App-wide dependency (it runs after routing, before the endpoint): routes with an
    ``{order_id}`` log it, and the order's workflow id, on every line."""
    if isinstance(order_id := request.path_params.get("order_id"), str):
        structlog.contextvars.bind_contextvars(**order_fields(order_id))


class RequestContext:
    """ASGI middleware: binds the log context, logs the access line, records HTTP metrics."""

    def __init__(self, app: ASGIApp, http: HttpMetrics) -> None:
        self.app = app
        self.http = http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                structlog.contextvars.unbind_contextvars("order_id", "workflow_id")
                self._done(scope, status, time.perf_counter() - started)

    def _done(self, scope: Scope, status: int, elapsed: float) -> None:
        method, path, route = scope["method"], scope["path"], route_template(scope)
        self.http.requests.labels(method, route, str(status)).inc()
        self.http.duration.labels(method, route).observe(elapsed)
        fields: dict[str, Any] = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
        }
        if isinstance(order_id := (scope.get("path_params") or {}).get("order_id"), str):
            fields.update(order_fields(order_id))
        log.log(
            logging.DEBUG if path in QUIET else logging.INFO,
            "%s %s %s",
            method,
            path,
            status,
            extra=fields,
        )
