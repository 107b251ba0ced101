"""Outbound events: order events posted to subscribers as signed webhooks, against a real
HTTP receiver on 127.0.0.1, a real worker and PostgreSQL. The dispatch workflow is started
directly (or the schedule triggered) instead of waiting for the schedule's interval."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from core.db.engine import session_scope
from core.db.schema import OrderEvent
from core.settings import Settings
from core.signing import verify
from tests.support.orders import order_request, ship_and_deliver, wait_for_status
from worker import build_worker
from workflows.ops.outbound_dispatch import DispatchParams, OutboundDispatchWorkflow
from workflows.ops.schedules import ensure_outbound_dispatch_schedule


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def delivery(self) -> str:
        return self.headers["x-oms-delivery"]


@dataclass
class Receiver:
    """Records every request; answers 500 to the first ``fail_first[path]`` attempts of each
    delivery id on that path, 200 after."""

    base_url: str = ""
    accepted: list[Received] = field(default_factory=list)
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)
    fail_first: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, got: Received) -> int:
        with self.lock:
            self.attempts[got.path, got.delivery] += 1
            if self.attempts[got.path, got.delivery] <= self.fail_first.get(got.path, 0):
                return 500
            self.accepted.append(got)
            return 200

    def for_order(self, path: str, order_id: str) -> list[Received]:
        """What a path accepted for one order, once per delivery id, in arrival order."""
        seen: set[str] = set()
        out = []
        with self.lock:
            for got in self.accepted:
                if (
                    got.path == path
                    and got.json["order_id"] == order_id
                    and got.delivery not in seen
                ):
                    seen.add(got.delivery)
                    out.append(got)
        return out


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            code = rec.handle(
                Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
async def dispatcher(
    temporal_client: Client, settings: Settings, worker: None
) -> AsyncIterator[Settings]:
    """A worker of its own with short retry waits, so retries and giving up happen quickly."""
    fast = settings.model_copy(
        update={
            "task_queue": f"outbound-{uuid.uuid4().hex[:8]}",
            "outbound_retry_base_s": 0.2,
            "outbound_retry_max_s": 1.0,
            "outbound_max_attempts": 4,
            "outbound_dispatch_interval_s": 3600,
        }
    )
    with ThreadPoolExecutor(max_workers=20) as executor:
        async with build_worker(temporal_client, fast, executor):
            yield fast


@pytest.fixture
async def subscribe(
    api: httpx.AsyncClient, receiver: Receiver
) -> AsyncIterator[Callable[..., Any]]:
    """Creates subscriptions to receiver paths; removes them after the test."""
    made: list[int] = []

    async def create(path: str, **body: Any) -> dict[str, Any]:
        r = await api.post("/ops/subscriptions", json={"url": receiver.base_url + path, **body})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
        return r.json()

    yield create
    for sub_id in made:
        assert (await api.delete(f"/ops/subscriptions/{sub_id}")).status_code == 204


async def dispatch(client: Client, cfg: Settings) -> str:
    """One dispatch run, started directly; returns its workflow id."""
    workflow_id = f"outbound-test-{uuid.uuid4().hex[:8]}"
    await client.execute_workflow(
        OutboundDispatchWorkflow.run, DispatchParams(), id=workflow_id, task_queue=cfg.task_queue
    )
    return workflow_id


async def dispatch_until(
    client: Client, cfg: Settings, done: Callable[[], bool], timeout: float = 90.0
) -> str:
    """Run the dispatch workflow until ``done()``; generous deadline, no timing asserted.
    Returns the last run's workflow id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workflow_id = await dispatch(client, cfg)
        if done():
            return workflow_id
        await asyncio.sleep(0.2)
    raise AssertionError("the receiver never got what it should")


def event_ids(settings: Settings, order_id: str) -> list[int]:
    with session_scope(settings.database_url) as s:
        return [
            i
            for i in s.exec(
                select(OrderEvent.id)
                .where(OrderEvent.order_id == order_id)
                .order_by(col(OrderEvent.id))
            ).all()
            if i is not None
        ]


async def complete_order(api: httpx.AsyncClient) -> dict[str, Any]:
    body = order_request(lines=[("TS-0000", 1), ("HO-0005", 1)])
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    for shipment in order["shipments"]:
        await ship_and_deliver(api, shipment["shipment_id"])
    return await wait_for_status(api, body["order_id"], {"completed"})


async def test_subscribers_get_each_event_once_in_order_signed(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    dispatcher: Settings,
    receiver: Receiver,
    subscribe: Callable[..., Any],
) -> None:
    everything = await subscribe("/all", label="erp")
    shipped = await subscribe("/shipped", event_types=["shipped_*"])
    inactive = await subscribe("/inactive", active=False)

    order = await complete_order(api)
    order_id = order["order_id"]
    ids = event_ids(settings, order_id)
    shipment_types = {f"shipped_{s['shipment_id']}" for s in order["shipments"]}
    await dispatch_until(
        temporal_client,
        dispatcher,
        lambda: (
            len(receiver.for_order("/all", order_id)) >= len(ids)
            and len(receiver.for_order("/shipped", order_id)) >= len(shipment_types)
        ),
    )
    await dispatch(temporal_client, dispatcher)  # one more run sends nothing twice

    got = receiver.for_order("/all", order_id)
    assert [g.json["id"] for g in got] == ids  # every event once, in event order
    assert len({g.delivery for g in got}) == len(ids)
    for g in got:
        assert verify(everything["secret"], g.body, g.headers["x-oms-signature"])
        assert g.headers["x-oms-event"] == g.json["type"]
        assert set(g.json) >= {"id", "type", "order_id", "at", "detail", "status"}
    assert got[0].json["type"] == "placed" and got[-1].json["type"] == "completed"
    assert got[-1].json["status"] == "completed"
    assert not [
        g
        for g in receiver.accepted
        if g.path == "/all" and g.json["order_id"] == order_id and g not in got
    ]  # no second copy

    only_shipped = receiver.for_order("/shipped", order_id)
    assert {g.json["type"] for g in only_shipped} == shipment_types
    assert all(
        verify(shipped["secret"], g.body, g.headers["x-oms-signature"]) for g in only_shipped
    )
    assert receiver.for_order("/inactive", order_id) == []
    r = await api.get(f"/ops/subscriptions/{inactive['id']}/deliveries")
    assert r.status_code == 200 and r.json() == []

    r = await api.get(
        f"/ops/subscriptions/{everything['id']}/deliveries", params={"order_id": order_id}
    )
    assert {d["status"] for d in r.json()} == {"delivered"} and len(r.json()) == len(ids)


async def test_failing_receiver_gets_each_event_once_after_retries(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    dispatcher: Settings,
    receiver: Receiver,
    subscribe: Callable[..., Any],
) -> None:
    receiver.fail_first["/flaky"] = 2
    flaky = await subscribe("/flaky")
    order = await complete_order(api)
    order_id = order["order_id"]
    ids = event_ids(settings, order_id)
    last_run = await dispatch_until(
        temporal_client, dispatcher, lambda: len(receiver.for_order("/flaky", order_id)) >= len(ids)
    )
    history = await temporal_client.get_workflow_handle(last_run).fetch_history()
    await Replayer(
        workflows=[OutboundDispatchWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(history)

    got = receiver.for_order("/flaky", order_id)
    assert [g.json["id"] for g in got] == ids
    assert all(receiver.attempts["/flaky", g.delivery] == 3 for g in got)
    assert all(verify(flaky["secret"], g.body, g.headers["x-oms-signature"]) for g in got)
    r = await api.get(f"/ops/subscriptions/{flaky['id']}/deliveries", params={"order_id": order_id})
    assert [(d["status"], d["attempts"]) for d in r.json()] == [("delivered", 3)] * len(ids)
    assert all(d["last_error"] == "" and d["last_status_code"] == 200 for d in r.json())


async def test_delivery_gives_up_and_shows_as_failed(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    dispatcher: Settings,
    receiver: Receiver,
    subscribe: Callable[..., Any],
) -> None:
    receiver.fail_first["/down"] = 1_000
    down = await subscribe("/down", event_types=["placed"])
    body = order_request()
    assert (await api.post("/orders", json=body)).status_code == 202
    await wait_for_status(api, body["order_id"], {"in_fulfilment"})

    async def failed() -> list[dict[str, Any]]:
        r = await api.get(
            f"/ops/subscriptions/{down['id']}/deliveries",
            params={"status": "failed", "order_id": body["order_id"]},
        )
        return r.json()

    deadline = time.monotonic() + 90
    while not await failed():
        assert time.monotonic() < deadline, "the delivery was never given up"
        await dispatch(temporal_client, dispatcher)
        await asyncio.sleep(0.2)
    [delivery] = await failed()
    assert delivery["attempts"] == dispatcher.outbound_max_attempts
    assert delivery["last_status_code"] == 500 and "HTTP 500" in delivery["last_error"]
    assert receiver.attempts["/down", str(delivery["id"])] == dispatcher.outbound_max_attempts
    r = await api.get(f"/ops/subscriptions/{down['id']}")
    assert r.json()["deliveries"].get("failed", 0) >= 1

    # the subscriber is fixed: ops retry it, and it arrives (same delivery id)
    receiver.fail_first["/down"] = 0
    r = await api.post(f"/ops/subscriptions/{down['id']}/deliveries/{delivery['id']}/retry")
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    await dispatch_until(
        temporal_client, dispatcher, lambda: bool(receiver.for_order("/down", body["order_id"]))
    )
    [got] = receiver.for_order("/down", body["order_id"])
    assert got.delivery == str(delivery["id"]) and got.json["type"] == "placed"
    r = await api.post(f"/ops/subscriptions/{down['id']}/deliveries/{delivery['id']}/retry")
    assert r.status_code == 409


async def test_schedule_is_registered_idempotently_and_dispatches(
    api: httpx.AsyncClient,
    temporal_client: Client,
    dispatcher: Settings,
    receiver: Receiver,
    subscribe: Callable[..., Any],
) -> None:
    schedule_id = await ensure_outbound_dispatch_schedule(temporal_client, dispatcher)
    assert await ensure_outbound_dispatch_schedule(temporal_client, dispatcher) == schedule_id
    handle = temporal_client.get_schedule_handle(schedule_id)
    try:
        await subscribe("/scheduled", event_types=["placed"])
        body = order_request()
        assert (await api.post("/orders", json=body)).status_code == 202
        await wait_for_status(api, body["order_id"], {"in_fulfilment"})
        await handle.trigger()
        deadline = time.monotonic() + 90
        while not receiver.for_order("/scheduled", body["order_id"]):
            assert time.monotonic() < deadline, "the triggered schedule posted nothing"
            await asyncio.sleep(0.2)
        [got] = receiver.for_order("/scheduled", body["order_id"])
        assert got.json["type"] == "placed"
    finally:
        await handle.delete()


async def test_subscription_api_validates_and_hides_the_secret(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    for bad, field_name in (
        ({"url": "ftp://example.org/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": receiver.base_url, "event_types": []}, "event_types"),
        ({"url": receiver.base_url, "secret": "short"}, "secret"),
    ):
        r = await api.post("/ops/subscriptions", json=bad)
        assert r.status_code == 422, r.text
        assert {e["loc"][1] for e in r.json()["detail"]} == {field_name}

    r = await api.post(
        "/ops/subscriptions", json={"url": receiver.base_url + "/x", "secret": "my-own-secret-1234"}
    )
    assert r.status_code == 201 and r.json()["secret"] == "my-own-secret-1234"
    sub_id = r.json()["id"]
    listed = (await api.get("/ops/subscriptions")).json()
    mine = [s for s in listed if s["id"] == sub_id]
    assert mine and "secret" not in mine[0] and mine[0]["event_types"] == ["*"]
    assert (await api.delete(f"/ops/subscriptions/{sub_id}")).status_code == 204
    assert (await api.get(f"/ops/subscriptions/{sub_id}")).status_code == 404
    assert (await api.delete(f"/ops/subscriptions/{sub_id}")).status_code == 404
