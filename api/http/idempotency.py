"""Idempotency keys: a repeated state-changing request gets the first one's answer, and the work
is done once (a double click, a client's retry after a lost answer, two tabs).

Who carries a key:

* JSON callers send the ``Idempotency-Key`` header (1 to 255 visible ASCII characters) on a
  POST, PUT, PATCH or DELETE; it is documented on those operations in the OpenAPI schema.
* Every HTML form the staff pages and the self-service page render carries a hidden field
  ``_idem`` (``FORM_FIELD``) with a fresh random value per render (the template global
  ``idem_field()``), so a double click or a reload of the posted form sends the same key,
  while the next render (after the redirect) has a new one.

How it works (``Idempotency``, an ASGI middleware inside ``InputLimits``, so the body it reads
is already size-limited). The key is scoped by method, path and caller (the credential the
request carries: API key, webhook signature, the portal's or console's session cookie), so
callers never see each other's answers. The first request inserts a ``pending``
``RequestOutcome`` (its primary key is the hash of scope and key, so concurrent duplicates
collide in the database), runs, and stores the status, the headers that matter
(``KEPT_HEADERS``) and the body. A repeat with the same key and the same body gets that answer
replayed (with ``Idempotent-Replayed: true``); a repeat while the first still runs waits up to
``PENDING_WAIT_S`` for it, then gets 409 with ``Retry-After``; the same key with another body is
422 naming the key. Answers of 500 and above (a 503 while the database or Temporal is away)
are not kept: the pending row is removed, so a retry really runs again. Outcomes are kept for
``OUTCOME_RETENTION`` and older rows are deleted now and then by the requests themselves.

Requests without a key pass through untouched; so do the streamed stock-feed uploads
(``api.http.limits.STREAMED``), which have their own feed ids, and are never buffered here.

Where a natural key exists it is used as well (``request_key``): the console's "New order"
derives the order id from the form's key, and order actions pass the scoped key to Temporal as
the Update id, so a repeated Update is answered by Temporal with the first one's result.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import anyio
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from markupsafe import Markup
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.limits import STREAMED
from api.http.unavailable import RETRY_AFTER_S
from core.db.engine import get_engine
from core.db.schema import RequestOutcome

log = logging.getLogger("oms.idempotency")

HEADER = "Idempotency-Key"
FORM_FIELD = "_idem"
KEY_PATTERN = r"^[!-~]{1,255}$"
_KEY = re.compile(KEY_PATTERN)
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEPT_HEADERS = frozenset(
    {"content-type", "location", "set-cookie", "cache-control", "referrer-policy"}
)
"""Response headers stored with an outcome and replayed (the rest is recomputed or per answer)."""
CREDENTIAL_HEADERS = ("x-api-key", "authorization", "x-oms-signature")
"""Request headers naming the caller; with the session cookies they scope a key."""
REPLAYED = (b"idempotent-replayed", b"true")

OUTCOME_RETENTION = timedelta(hours=24)
"""How long an answer is kept under its key unless the setting ``idempotency_retention_h``
says otherwise: a retry or a reload within this time gets it again; older rows are deleted
now and then."""
PENDING_WAIT_S = 8.0
"""How long a repeat waits for the first request with its key to finish before answering 409."""
POLL_S = 0.1
STALE_PENDING = timedelta(minutes=5)
"""A pending outcome older than this belongs to a process that died mid-request: the next
request with its key takes it over and runs (the natural keys below the API still hold)."""
CLEANUP_EVERY_S = 300.0
_cleanup = {"last": 0.0}
_cleanup_lock = threading.Lock()


def new_form_key() -> str:
    """A fresh key for one rendered form."""
    return secrets.token_urlsafe(18)


def idem_field() -> Markup:
    """The hidden form field with a fresh key: ``{{ idem_field() }}`` in every state-changing
    form (a jinja global of the page templates)."""
    return Markup(f'<input type="hidden" name="{FORM_FIELD}" value="{new_form_key()}">')


def install_template_global(env: Any) -> None:
    env.globals["idem_field"] = idem_field


def request_key(request: Request) -> str | None:
    """The request's idempotency key scoped to its caller and route (64 hex), or None without
    one: use it as a natural key (a Temporal Update id, a derived order id)."""
    found = request.scope.get("state", {}).get("idempotency_key")
    return found if isinstance(found, str) else None


def derived_id(key: str, length: int = 10) -> str:
    """A short, stable id made from a key (uppercase hex)."""
    return hashlib.sha256(key.encode()).hexdigest()[:length].upper()


# ---- the database side (sync, run in the threadpool) ------------------------------------------


@dataclass(frozen=True)
class Stored:
    status: int
    headers: list[list[str]]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """What the outcome table says about a key: ``mine`` (run it), ``stored`` (replay it),
    ``other_body`` (the key was used for another request) or ``pending`` (still running)."""

    kind: str
    stored: Stored | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _maybe_clean(url: str, retention: timedelta) -> None:
    with _cleanup_lock:
        if time.monotonic() - _cleanup["last"] < CLEANUP_EVERY_S:
            return
        _cleanup["last"] = time.monotonic()
    try:
        with Session(get_engine(url)) as s:
            s.exec(
                delete(RequestOutcome).where(col(RequestOutcome.created_at) < _now() - retention)
            )
            s.commit()
    except SQLAlchemyError as exc:  # cleaning is opportunistic: the next chance will do
        log.warning("idempotency: old outcomes not deleted: %s", exc.__class__.__name__)


def _look(url: str, key: str, request_hash: str) -> Claim | None:
    with Session(get_engine(url, readonly=True)) as s:
        row = s.get(RequestOutcome, key)
        if row is None:
            return None
        if row.request_hash != request_hash:
            return Claim("other_body")
        if row.state == "done" and row.status_code is not None:
            return Claim("stored", Stored(row.status_code, row.headers, row.body or b""))
        if row.created_at < _now() - STALE_PENDING:
            return Claim("stale")
        return Claim("pending")


def _take_over(url: str, key: str) -> bool:
    with Session(get_engine(url)) as s:
        result = s.exec(
            update(RequestOutcome)
            .where(
                col(RequestOutcome.key) == key,
                col(RequestOutcome.state) == "pending",
                col(RequestOutcome.created_at) < _now() - STALE_PENDING,
            )
            .values(created_at=_now())
        )
        s.commit()
        return bool(result.rowcount)


def claim(
    url: str,
    key: str,
    scope: str,
    request_hash: str,
    retention: timedelta = OUTCOME_RETENTION,
) -> Claim:
    """Record the key as pending (this request runs), or say what is there already."""
    _maybe_clean(url, retention)
    for _ in range(3):
        try:
            with Session(get_engine(url)) as s:
                s.add(RequestOutcome(key=key, scope=scope[:300], request_hash=request_hash))
                s.commit()
            return Claim("mine")
        except IntegrityError:
            pass
        found = _look(url, key, request_hash)
        if found is None:
            continue  # removed meanwhile (its answer was not kept): try again
        if found.kind == "stale":
            if _take_over(url, key):
                return Claim("mine")
            continue
        return found
    return Claim("pending")


def look(url: str, key: str, request_hash: str) -> Claim | None:
    found = _look(url, key, request_hash)
    return Claim("pending") if found is not None and found.kind == "stale" else found


def store(url: str, key: str, answer: Stored) -> None:
    with Session(get_engine(url)) as s:
        row = s.get(RequestOutcome, key)
        if row is None:
            return
        row.state = "done"
        row.status_code = answer.status
        row.headers = answer.headers
        row.body = answer.body
        row.completed_at = _now()
        s.add(row)
        s.commit()


def forget(url: str, key: str) -> None:
    with Session(get_engine(url)) as s:
        s.exec(
            delete(RequestOutcome).where(
                col(RequestOutcome.key) == key, col(RequestOutcome.state) == "pending"
            )
        )
        s.commit()


# ---- the middleware ----------------------------------------------------------------------


def _json(status: int, payload: object, *extra: tuple[str, str]) -> Stored:
    headers = [["content-type", "application/json"], *([k, v] for k, v in extra)]
    return Stored(status, headers, json.dumps(payload).encode())


def _where(from_form: bool) -> list[str]:
    return ["body", FORM_FIELD] if from_form else ["header", HEADER]


def bad_key(from_form: bool) -> Stored:
    return _json(
        422,
        {
            "detail": [
                {
                    "loc": _where(from_form),
                    "msg": f"{HEADER}: 1 to 255 visible ASCII characters",
                    "type": "idempotency_key",
                }
            ]
        },
    )


def other_body(from_form: bool) -> Stored:
    return _json(
        422,
        {
            "detail": [
                {
                    "loc": _where(from_form),
                    "msg": f"this {HEADER} was used for another request body; "
                    "send a new key with a new request",
                    "type": "idempotency_key_reused",
                }
            ]
        },
    )


def still_pending() -> Stored:
    return _json(
        409,
        {"detail": f"a request with this {HEADER} is still being processed; retry it in a moment"},
        ("retry-after", "1"),
    )


def unavailable() -> Stored:
    return _json(
        503,
        {"detail": "the database is briefly unavailable; retry the same request"},
        ("retry-after", RETRY_AFTER_S),
    )


async def _answer(send: Send, answer: Stored, replayed: bool = False) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    if replayed:
        headers.append(REPLAYED)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away before sending it all
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _form_key(body: bytes) -> str | None:
    try:
        fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    except ValueError:
        return None
    return next((v for k, v in fields if k == FORM_FIELD), None)


def _digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class Idempotency:
    """ASGI middleware: ``app.add_middleware(Idempotency, database_url=..., session_cookies=...)``
    before ``InputLimits`` (so it runs inside the size limits)."""

    def __init__(
        self,
        app: ASGIApp,
        database_url: str,
        session_cookies: tuple[str, ...] = (),
        retention: timedelta = OUTCOME_RETENTION,
    ) -> None:
        self.app = app
        self.url = database_url
        self.session_cookies = session_cookies
        self.retention = retention

    def _caller(self, headers: Headers, cookies: dict[str, str]) -> str:
        """The credential the request carries, hashed: whoever shows another one (or none)
        never gets this caller's answers."""
        parts = [f"{name}={headers.get(name, '')}" for name in CREDENTIAL_HEADERS]
        parts += [f"{name}={cookies.get(name, '')}" for name in self.session_cookies]
        return _digest(*parts)[:32]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in STATE_CHANGING
            or scope.get("path", "").startswith(STREAMED)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get(HEADER.lower())
        content_type = headers.get("content-type", "")
        is_form = content_type.startswith("application/x-www-form-urlencoded")
        if given is None and not is_form:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        receive = _replaying(body, receive)
        from_form = given is None
        key = _form_key(body) if given is None else given.strip()
        if key is None:
            await self.app(scope, receive, send)
            return
        if not _KEY.match(key):
            await _answer(send, bad_key(from_form))
            return
        request = Request(scope)
        caller = self._caller(headers, dict(request.cookies))
        where = f"{scope['method']} {scope.get('root_path', '')}{scope['path']}"
        outcome_key = _digest(where, caller, key)
        request_hash = _digest(content_type, body)
        scope.setdefault("state", {})["idempotency_key"] = outcome_key
        label = f"{where} caller:{caller[:16]}"
        try:
            found = await run_in_threadpool(
                claim, self.url, outcome_key, label, request_hash, self.retention
            )
            deadline = time.monotonic() + PENDING_WAIT_S
            while found.kind == "pending" and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
                looked = await run_in_threadpool(look, self.url, outcome_key, request_hash)
                if looked is None:  # the first one's answer was not kept: run it now
                    looked = await run_in_threadpool(
                        claim, self.url, outcome_key, label, request_hash, self.retention
                    )
                found = looked
        except SQLAlchemyError as exc:
            log.warning("idempotency: outcome table unavailable: %s", exc.__class__.__name__)
            await _answer(send, unavailable())
            return
        if found.kind == "stored" and found.stored is not None:
            await _answer(send, found.stored, replayed=True)
        elif found.kind == "other_body":
            await _answer(send, other_body(from_form))
        elif found.kind == "pending":
            await _answer(send, still_pending())
        else:
            await self._run(scope, receive, send, outcome_key)

    async def _run(self, scope: Scope, receive: Receive, send: Send, outcome_key: str) -> None:
        status = 0
        kept: list[list[str]] = []
        chunks: list[bytes] = []
        done = False

        async def capture(message: Message) -> None:
            nonlocal status, kept, done
            if message["type"] == "http.response.start":
                status = message["status"]
                kept = [
                    [k.decode("latin-1"), v.decode("latin-1")]
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() in KEPT_HEADERS
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and not done:
                    done = True
                    await self._finish(outcome_key, Stored(status, kept, b"".join(chunks)))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if not done:
                with anyio.CancelScope(shield=True):
                    await self._forget(outcome_key)
            raise
        if not done:  # the app ended without a whole answer: nothing to replay
            with anyio.CancelScope(shield=True):
                await self._forget(outcome_key)

    async def _finish(self, outcome_key: str, answer: Stored) -> None:
        """Keep the answer before the client has it all, so a repeat finds it; a server error
        or an outage (5xx) is not kept, so the retry runs again."""
        with anyio.CancelScope(shield=True):
            try:
                if answer.status >= 500:
                    await run_in_threadpool(forget, self.url, outcome_key)
                else:
                    await run_in_threadpool(store, self.url, outcome_key, answer)
            except SQLAlchemyError as exc:
                log.warning("idempotency: answer not kept: %s", exc.__class__.__name__)
                await self._forget(outcome_key)

    async def _forget(self, outcome_key: str) -> None:
        try:
            await run_in_threadpool(forget, self.url, outcome_key)
        except SQLAlchemyError as exc:  # it goes stale and is taken over later
            log.warning("idempotency: pending outcome not removed: %s", exc.__class__.__name__)


# ---- OpenAPI -------------------------------------------------------------------------------

HEADER_DOC: dict[str, Any] = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes the request safe to repeat: a repeat with the same key (and body) gets the first "
        "answer again, without doing the work twice; a repeat while the first still runs gets "
        "409 with Retry-After; the same key with another body is 422. Keys are kept for a "
        "day by default (setting idempotency_retention_h), per caller and operation."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
}


def document(app: FastAPI) -> None:
    """Add the ``Idempotency-Key`` header to every state-changing operation of the schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            if path.startswith(STREAMED):
                continue
            for method, operation in operations.items():
                if method.upper() in STATE_CHANGING and isinstance(operation, dict):
                    params = operation.setdefault("parameters", [])
                    if not any(p.get("name") == HEADER for p in params):
                        params.append(dict(HEADER_DOC))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
