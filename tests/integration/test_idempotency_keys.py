"""Idempotency keys on the real stack (app, Temporal, PostgreSQL): a request repeated under the
same ``Idempotency-Key`` is done once and answered the same; another body under the key is 422;
concurrent duplicates are one action; a 5xx is not kept, so the retry really runs; another
caller's key never collides; and the natural keys below the layer hold on their own (Temporal
Update ids, the console's order number made from the form's key)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from sqlmodel import Session, col, delete, func, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from api.http import idempotency
from core.db.engine import get_engine, session_scope
from core.db.schema import OrderRecord, RequestOutcome, ReturnRecord
from core.domain.commands import CancelLinesRequest
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.catalogue import make_sku, warehouses
from tests.support.console import staff_key, unique_email
from tests.support.money import amounts
from tests.support.orders import order_request, wait_for_status
from tests.support.portal import csrf_of
from tests.support.returns import delivered_order, warehouse_in
from workflows.order.client import OrderClient

REPLAYED = "idempotent-replayed"


def _return_body(quantity: int = 1) -> dict[str, Any]:
    return {
        "agent": "cs-anna",
        "lines": [{"line_id": "L1", "quantity": quantity, "reason": "wrong_size"}],
    }


def _returns_of(url: str, order_id: str) -> list[ReturnRecord]:
    with Session(get_engine(url, readonly=True)) as s:
        return list(
            s.exec(
                select(ReturnRecord)
                .where(ReturnRecord.order_id == order_id)
                .order_by(col(ReturnRecord.return_id))
            ).all()
        )


async def _delivered(api: httpx.AsyncClient, settings: Settings, units: int = 3) -> str:
    url = settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 10}, price_cents=1500)
    return str((await delivered_order(api, [(sku, units)]))["order_id"])


def _key() -> str:
    return f"test-{uuid.uuid4()}"


async def test_a_retried_return_is_opened_once_with_the_same_answer(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    oid = await _delivered(api, settings)
    key = _key()
    first = await api.post(
        f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
    )
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    again = await api.post(
        f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
    )
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert [r.return_id for r in _returns_of(settings.database_url, oid)] == [f"R-{oid}-1"]

    # Without a key, or with a new one, it is a new request: a second return.
    other = await api.post(
        f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": _key()}
    )
    assert other.status_code == 201 and REPLAYED not in other.headers
    assert len(_returns_of(settings.database_url, oid)) == 2


async def test_the_same_key_with_another_body_is_422_naming_the_header(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    oid = await _delivered(api, settings)
    key = _key()
    first = await api.post(
        f"/orders/{oid}/returns", json=_return_body(1), headers={"Idempotency-Key": key}
    )
    assert first.status_code == 201, first.text
    other = await api.post(
        f"/orders/{oid}/returns", json=_return_body(2), headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422, other.text
    (problem,) = other.json()["detail"]
    assert problem["loc"] == ["header", "Idempotency-Key"]
    assert "Idempotency-Key" in problem["msg"]
    assert len(_returns_of(settings.database_url, oid)) == 1

    for bad in ("", "x" * 256, "mit leerzeichen"):
        r = await api.post(
            f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": bad}
        )
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert len(_returns_of(settings.database_url, oid)) == 1


async def test_concurrent_duplicates_are_one_action(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    oid = await _delivered(api, settings, units=8)
    key = _key()
    answers = await asyncio.gather(
        *(
            api.post(
                f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
            )
            for _ in range(8)
        )
    )
    assert [r.status_code for r in answers] == [201] * 8, [r.text for r in answers]
    assert len({r.content for r in answers}) == 1  # the same answer to every copy
    assert sum(REPLAYED not in r.headers for r in answers) == 1  # one of them did the work
    assert [r.return_id for r in _returns_of(settings.database_url, oid)] == [f"R-{oid}-1"]


class _Unavailable:
    """A Temporal client whose server is away: starting a workflow fails with UNAVAILABLE."""

    def __init__(self, real: Client) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def start_workflow(self, *_args: Any, **_kwargs: Any) -> Any:
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")


class _Slow(_Unavailable):
    """A Temporal client that takes its time to start a workflow (a busy server)."""

    async def start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(2.0)
        return await self._real.start_workflow(*args, **kwargs)


@pytest.fixture
async def away(settings: Settings, temporal_client: Client) -> AsyncIterator[httpx.AsyncClient]:
    """The app while Temporal is away (same caller as ``api``: the tests' key)."""
    app = create_app(settings, cast(Client, _Unavailable(temporal_client)))
    async with client_for(app, settings) as client:
        yield client


async def test_a_5xx_is_not_kept_so_the_retry_runs_again(
    api: httpx.AsyncClient, away: httpx.AsyncClient, settings: Settings
) -> None:
    oid = await _delivered(api, settings)
    key = _key()
    failed = await away.post(
        f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
    )
    assert failed.status_code == 503 and failed.headers["retry-after"], failed.text
    with Session(get_engine(settings.database_url, readonly=True)) as s:
        kept = s.exec(
            select(func.count())
            .select_from(RequestOutcome)
            .where(col(RequestOutcome.scope).startswith(f"POST /orders/{oid}/returns "))
        ).one()
    assert kept == 0  # neither the answer nor a pending claim is left behind

    retried = await api.post(
        f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
    )
    assert retried.status_code == 201 and REPLAYED not in retried.headers, retried.text
    opened = [r for r in _returns_of(settings.database_url, oid) if r.status != "expired"]
    assert [r.return_id for r in opened] == [retried.json()["returns"][0]["return_id"]]
    replay = await api.post(
        f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
    )
    assert replay.headers[REPLAYED] == "true" and replay.content == retried.content


async def test_a_repeat_while_the_first_runs_waits_or_gets_409_with_retry_after(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    oid = await _delivered(api, settings)
    key = _key()
    slow_app = create_app(settings, cast(Client, _Slow(temporal_client)))
    monkeypatch.setattr(idempotency, "PENDING_WAIT_S", 0.5)
    async with client_for(slow_app, settings) as slow:
        first = asyncio.create_task(
            slow.post(
                f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
            )
        )
        await asyncio.sleep(0.5)  # the first is waiting for Temporal
        busy = await api.post(
            f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
        )
        assert busy.status_code == 409 and busy.headers["retry-after"] == "1", busy.text
        assert "Idempotency-Key" in busy.json()["detail"]
        monkeypatch.setattr(idempotency, "PENDING_WAIT_S", 8.0)
        waited = await api.post(  # this one waits for the first and gets its answer
            f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
        )
        done = await first
    assert done.status_code == 201, done.text
    assert waited.status_code == 201 and waited.headers[REPLAYED] == "true"
    assert waited.content == done.content
    assert len(_returns_of(settings.database_url, oid)) == 1


async def test_another_callers_key_never_collides(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    oid = await _delivered(api, settings)
    key = _key()
    agent = staff_key(settings.database_url, "customer_service", "Agent Uwe")
    first = await api.post(
        f"/orders/{oid}/returns", json=_return_body(), headers={"Idempotency-Key": key}
    )
    theirs = await api.post(
        f"/orders/{oid}/returns",
        json=_return_body(),
        headers={"Idempotency-Key": key, "X-API-Key": agent},
    )
    assert first.status_code == theirs.status_code == 201
    assert REPLAYED not in theirs.headers and theirs.content != first.content
    assert len(_returns_of(settings.database_url, oid)) == 2


async def test_the_openapi_schema_documents_the_header(api: httpx.AsyncClient) -> None:
    schema = (await api.get("/openapi.json")).json()
    params = schema["paths"]["/orders/{order_id}/returns"]["post"]["parameters"]
    (header,) = [p for p in params if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header" and header["schema"]["maxLength"] == 255
    get_params = schema["paths"]["/orders/{order_id}/returns"]["get"].get("parameters", [])
    assert all(p["name"] != "Idempotency-Key" for p in get_params)


async def test_a_repeated_update_id_is_answered_by_temporal_with_the_first_result(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    """Below the outcome table: the order's Update under the same id runs once."""
    url = settings.database_url
    sku = make_sku(url, {warehouses(url)[0]: 9}, price_cents=1000)
    body = order_request(lines=[(sku, 3)])
    assert (await api.post("/orders", json=body)).status_code == 202
    oid = body["order_id"]
    await wait_for_status(api, oid, {"in_fulfilment"})
    orders = OrderClient(temporal_client, oid)
    cancel = CancelLinesRequest.model_validate(
        {"agent": "cs-anna", "reason": "twice", "lines": [{"line_id": "L1", "quantity": 1}]}
    )
    request_id = f"test-{uuid.uuid4().hex}"
    first = await orders.cancel_lines(cancel, request_id)
    again = await orders.cancel_lines(cancel, request_id)
    assert first == again and first.voided_cents == 1000
    assert amounts(url, oid).get("void") == 1000
    with Session(get_engine(url, readonly=True)) as s:
        rec = s.get(OrderRecord, oid)
        assert rec is not None
        assert [ln["quantity"] for ln in rec.payload["lines"]] == [2]


async def test_the_console_order_number_comes_from_the_forms_key(
    settings: Settings, temporal_client: Client, api: httpx.AsyncClient
) -> None:
    """Even when the kept answer is gone (expired), the same form places the same order."""
    url = settings.database_url
    app = create_app(settings, temporal_client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://oms.test") as web:
        key = staff_key(url, "customer_service", "Agent Pia")
        assert (await web.post("/console/login", data={"key": key})).status_code == 303
        page = await web.get("/console/new")
        email = unique_email()
        form = {
            "csrf": csrf_of(page.text),
            "_idem": _key(),
            "channel": "phone",
            "name": "Jan Roth",
            "email": email,
            "street": "Am Markt 2",
            "postcode": "28195",
            "city": "Bremen",
            "lines": "TS-0000 1",
        }
        first = await web.post("/console/new", data=form)
        assert first.status_code == 303, first.text
        with session_scope(url) as s:  # the kept answer expires
            s.exec(
                delete(RequestOutcome).where(
                    col(RequestOutcome.scope).startswith("POST /console/new ")
                )
            )
        again = await web.post("/console/new", data=form)
        assert again.status_code == 303 and REPLAYED not in again.headers
        assert again.headers["location"] == first.headers["location"]
    with Session(get_engine(url, readonly=True)) as s:
        placed = s.exec(select(OrderRecord.order_id).where(OrderRecord.customer_email == email))
        assert len(placed.all()) == 1
