"""Schemathesis over the OpenAPI schema: every operation, fuzzed with valid-looking and invalid
data, never answers 5xx nor breaks its own schema (status codes, content types, bodies).

How it runs. schemathesis' pytest plugin does not work with our pytest, and its ASGI transport
spins up its own event loop (the app's Temporal client is bound to the test's loop). So the
schema is loaded with ``schemathesis.openapi.from_asgi`` and each operation's
``as_strategy()`` drives a plain hypothesis ``@given`` test, bounded by ``EXAMPLES`` per
operation and mode, derandomized (the same examples on every run, so CI is reproducible).
Hypothesis runs in a worker thread; each example is sent on the test's event loop
(``run_coroutine_threadsafe``) through the real app over ``httpx.ASGITransport`` with the tests'
API key (webhook bodies are signed by ``OmsAuth``), and the response is judged by
schemathesis' own checks (``case.validate_response``). Failures of all operations are
collected and reported together.

The staff pages (portal, console, dashboard, self-service) are left out of the public schema;
they are fuzzed too, from a schema generated with them included, logged in to the portal and
console, with the one check that fits HTML pages: no server error.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, Phase, given, reject
from hypothesis import settings as hyp_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlmodel import col, delete, func, select
from temporalio.client import Client

from api.app import create_app
from api.pages.console import routes as console
from api.pages.dashboard import routes as dashboard
from api.pages.portal import returns as portal_returns
from api.pages.portal import routes as portal
from api.pages.self_service import routes as self_service
from core.db.engine import session_scope
from core.db.schema import (
    ApiKey,
    CarrierTariff,
    Location,
    OrderRecord,
    OutboundDelivery,
    ReturnRecord,
    Sku,
    Stock,
    StockMovement,
    WebhookSubscription,
)
from core.settings import Settings
from tests.support.auth import ALL_ROLES_KEY, client_for
from tests.support.portal import portal_key

EXAMPLES = 20
"""Examples per operation and generation mode (positive, negative)."""

API_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*API_CHECKS, negative_data_rejection]
PAGE_CHECKS = [not_a_server_error]
STAFF_ROUTERS = (
    portal.router,
    portal_returns.router,
    console.router,
    dashboard.router,
    self_service.router,
)

Send = Callable[[schemathesis.Case], httpx.Response]


def _staff_pages_schema() -> dict[str, Any]:
    """The staff pages' OpenAPI schema: copies of their routes with the schema flag set."""
    app = FastAPI(title="OMS staff pages", version="0")
    for router in STAFF_ROUTERS:
        for route in router.routes:  # their paths carry the router's prefix already
            if isinstance(route, APIRoute):
                shown = copy.copy(route)
                shown.include_in_schema = True
                app.router.routes.append(shown)
    return app.openapi()


def _request(case: schemathesis.Case) -> dict[str, Any]:
    """The case as ``httpx.AsyncClient.request`` arguments."""
    kw = case.as_transport_kwargs(base_url="http://oms.test")
    headers = {
        k: v
        for k, v in kw.get("headers", {}).items()
        if k.lower() not in ("user-agent", "connection", "accept-encoding")
    }
    out: dict[str, Any] = {
        "method": kw["method"],
        "url": kw["url"],
        "headers": headers,
        "params": kw.get("params") or None,
    }
    if kw.get("cookies"):  # generated cookie parameters go in the header (client keeps its own)
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in kw["cookies"].items())
    if "json" in kw:
        out["json"] = kw["json"]
    elif kw.get("data") is not None:
        data = kw["data"]
        out["content"] = data.encode() if isinstance(data, str) else data
    return out


def _curl(case: schemathesis.Case) -> str:
    try:
        return case.as_curl_command(base_url="http://oms.test")
    except Exception as exc:  # noqa: BLE001
        return f"(no curl: {exc!r}) {case!r}"


def _fuzz_operation(
    operation: Any, mode: GenerationMode, checks: list[Any], send: Send
) -> list[str]:
    """Run one operation's hypothesis test; the failures it found, as messages."""
    failures: list[str] = []

    @hyp_settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        where = f"{operation.method.upper()} {operation.path} ({mode.value})"
        try:
            response = send(case)
        except httpx.InvalidURL:
            reject()  # too long for httpx to even build the request: nothing was sent
        except Exception as exc:  # noqa: BLE001  (the app raised: a 500 for a real client)
            failures.append(f"{where}: server error {exc!r}\n{_curl(case)}")
            return
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as exc:
            failures.append(f"{where}: {exc}")

    with contextlib.suppress(Unsatisfiable):  # nothing to negate (no parameters, no body)
        run()
    return failures


def _fuzz_schema(
    schema: Any, checks_for: Callable[[GenerationMode], list[Any]], send: Send
) -> tuple[list[str], dict[str, int]]:
    failures: list[str] = []
    sent: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            before = _SENT[0]
            failures += _fuzz_operation(operation, mode, checks_for(mode), send)
            key = f"{operation.method.upper()} {operation.path}"
            sent[key] = sent.get(key, 0) + _SENT[0] - before
    return failures, sent


_SENT = [0]


def _sender(http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> Send:
    async def call(case: schemathesis.Case) -> httpx.Response:
        return await http.request(**_request(case))

    def send(case: schemathesis.Case) -> httpx.Response:
        _SENT[0] += 1
        coro: Coroutine[Any, Any, httpx.Response] = call(case)
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)

    return send


def _counts(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {
            t.__name__: s.exec(select(func.count()).select_from(t)).one()
            for t in (OrderRecord, ReturnRecord, ApiKey)
        }


@dataclass(frozen=True)
class MasterData:
    """What the session's network is before the fuzz: its SKUs, locations and newest tariff.
    The fuzz imports rows and puts valid carrier files (the carriers' schema makes those),
    which would be in force for every later test: put back what was there."""

    skus: frozenset[str]
    locations: frozenset[str]
    tariff_version: int


def _master_data(url: str) -> MasterData:
    with session_scope(url) as s:
        return MasterData(
            frozenset(s.exec(select(Sku.sku)).all()),
            frozenset(s.exec(select(Location.id)).all()),
            s.exec(select(func.max(CarrierTariff.version))).one() or 0,
        )


def _restore_master_data(url: str, before: MasterData) -> None:
    with session_scope(url) as s:
        s.exec(delete(CarrierTariff).where(col(CarrierTariff.version) > before.tariff_version))  # type: ignore[call-overload]
        for table in (StockMovement, Stock):
            s.exec(
                delete(table).where(  # type: ignore[call-overload]
                    col(table.sku).not_in(before.skus)
                    | col(table.location_id).not_in(before.locations)
                )
            )
        s.exec(delete(Sku).where(col(Sku.sku).not_in(before.skus)))  # type: ignore[call-overload]
        s.exec(delete(Location).where(col(Location.id).not_in(before.locations)))  # type: ignore[call-overload]


async def test_every_operation_survives_fuzzing(
    settings: Settings, temporal_client: Client, worker: None
) -> None:
    app = create_app(settings, temporal_client)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    pages = schemathesis.openapi.from_dict(_staff_pages_schema())
    with session_scope(settings.database_url) as s:
        last_sub = s.exec(select(func.max(WebhookSubscription.id))).one() or 0
    network = _master_data(settings.database_url)
    store_key = portal_key(settings.database_url, "ST-BERLIN", "fuzz")
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    try:
        async with client_for(app, settings) as http:
            # Logged in to the staff pages, so the fuzz reaches past their login redirects.
            for area, key in (("/portal", store_key), ("/console", ALL_ROLES_KEY)):
                r = await http.post(f"{area}/login", data={"key": key})
                assert r.status_code == 303, (area, r.text[:300])
            before = _counts(settings.database_url)
            send = _sender(http, loop)
            api_failures, api_sent = await asyncio.to_thread(
                _fuzz_schema,
                schema,
                lambda mode: NEGATIVE_CHECKS if mode.is_negative else API_CHECKS,
                send,
            )
            page_failures, page_sent = await asyncio.to_thread(
                _fuzz_schema, pages, lambda _mode: PAGE_CHECKS, send
            )
    finally:
        _restore_master_data(settings.database_url, network)
        # Subscriptions the fuzz created would receive the other tests' events: remove them.
        with session_scope(settings.database_url) as s:
            s.exec(
                delete(OutboundDelivery).where(col(OutboundDelivery.subscription_id) > last_sub)  # type: ignore[call-overload]
            )
            s.exec(
                delete(WebhookSubscription).where(col(WebhookSubscription.id) > last_sub)  # type: ignore[call-overload]
            )
    elapsed = time.monotonic() - started
    print(
        f"fuzzed {len(api_sent)} API operations ({sum(api_sent.values())} requests) and "
        f"{len(page_sent)} staff page operations ({sum(page_sent.values())} requests) "
        f"in {elapsed:.0f}s"
    )
    assert len(api_sent) > 40 and len(page_sent) > 20
    assert api_failures + page_failures == [], "\n\n".join(api_failures + page_failures)
    assert _counts(settings.database_url) == before  # no order, return or key from bad input
    assert _master_data(settings.database_url) == network
