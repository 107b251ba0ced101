"""Outbound events: order events posted to subscribers as signed webhooks, against a real
HTTP receiver on 127.0.0.1, a real worker and PostgreSQL. Most tests post with short dispatch
runs started directly, so each decides when a round happens; the last ones run the long-running
dispatcher the worker starts (two worker processes, continue-as-new, configure and wake)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from core.db.engine import session_scope
from core.db.schema import OrderEvent
from core.settings import Settings
from core.signing import verify
from tests.support.histories import HISTORIES
from tests.support.orders import order_request, ship_and_deliver, wait_for_status
from tests.support.task_queues import pollers
from tests.support.worker_process import WorkerProcess
from worker import build_worker
from workflows.ops.outbound_dispatch import (
    DispatchParams,
    OutboundDispatcherWorkflow,
    OutboundDispatchWorkflow,
)
from workflows.ops.schedules import (
    ensure_outbound_dispatcher,
    keep_outbound_dispatcher,
    outbound_dispatch_schedule_id,
    outbound_dispatcher_id,
)


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


def old_dispatch_schedule(cfg: Settings) -> Schedule:
    """The schedule of the kind workers registered before the long-running dispatcher."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            OutboundDispatchWorkflow.run,
            arg=DispatchParams(),
            id=f"outbound-dispatch-{cfg.task_queue}",
            task_queue=cfg.task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=5))]),
    )


async def runs(client: Client, workflow_id: str) -> list[WorkflowExecution]:
    return [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.3)


async def signals(handle: WorkflowHandle[Any, Any]) -> list[str]:
    return [
        e.workflow_execution_signaled_event_attributes.signal_name
        async for e in handle.fetch_history_events()
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]


async def test_two_worker_processes_run_one_dispatcher_that_posts(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    receiver: Receiver,
    subscribe: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """``python worker.py`` twice, as on a host with two workers: they start one dispatcher
    between them (each hands it its settings), remove the old kind of schedule, and webhooks
    arrive with nobody starting a dispatch run."""
    cfg = settings.model_copy(update={"task_queue": f"outbound-2w-{uuid.uuid4().hex[:8]}"})
    old = await temporal_client.create_schedule(
        outbound_dispatch_schedule_id(cfg), old_dispatch_schedule(cfg)
    )
    await old.pause()  # it would post too; it is here to be removed
    workers = [WorkerProcess(cfg, tmp_path / f"worker-{i}.log") for i in (1, 2)]
    for w in workers:
        w.env["OMS_OUTBOUND_DISPATCH_INTERVAL_S"] = "1"
        w.start()
    handle = temporal_client.get_workflow_handle(outbound_dispatcher_id(cfg))
    try:

        async def both_started_it() -> bool:
            try:
                return await signals(handle) == ["configure", "configure"]
            except RPCError:  # not started yet
                return False

        await eventually(both_started_it, "the two workers did not both start the dispatcher")
        await eventually(
            lambda: _polled_by(temporal_client, cfg.task_queue, 2), "two workers never polled"
        )
        with pytest.raises(RPCError) as gone:
            await old.describe()
        assert gone.value.status == RPCStatusCode.NOT_FOUND

        await subscribe("/two-workers", event_types=["placed"])
        body = order_request()
        assert (await api.post("/orders", json=body)).status_code == 202
        await eventually(
            lambda: _arrived(receiver, "/two-workers", body["order_id"]),
            "the dispatcher posted nothing",
        )
        [got] = receiver.for_order("/two-workers", body["order_id"])
        assert got.json["type"] == "placed"

        [run] = await runs(temporal_client, handle.id)  # one execution, still running
        assert run.status == WorkflowExecutionStatus.RUNNING
        assert run.workflow_type == "OutboundDispatcherWorkflow"
        assert not [
            w
            async for w in temporal_client.list_workflows(
                f"WorkflowType = 'OutboundDispatchWorkflow' AND TaskQueue = '{cfg.task_queue}'"
            )
        ]
    finally:
        for w in workers:
            w.stop()
        await _terminate(handle)


async def test_dispatcher_continues_as_new_and_keeps_posting(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    receiver: Receiver,
    subscribe: Callable[..., Any],
) -> None:
    cfg = settings.model_copy(
        update={
            "task_queue": f"outbound-can-{uuid.uuid4().hex[:8]}",
            "outbound_dispatch_interval_s": 1,
            "outbound_dispatcher_max_rounds": 3,
        }
    )
    with ThreadPoolExecutor(max_workers=cfg.worker_max_concurrent_activities) as executor:
        async with build_worker(temporal_client, cfg, executor):
            workflow_id = await ensure_outbound_dispatcher(temporal_client, cfg)
            handle = temporal_client.get_workflow_handle(workflow_id)
            try:
                await subscribe("/continued", event_types=["placed"])
                placed = []
                for _ in range(2):  # one order before the first continue-as-new, one after
                    body = order_request()
                    assert (await api.post("/orders", json=body)).status_code == 202
                    placed.append(body["order_id"])
                    await eventually(
                        lambda: _arrived(receiver, "/continued", placed[-1]),
                        "the dispatcher posted nothing",
                    )

                async def continued_twice() -> bool:
                    done = [
                        r
                        for r in await runs(temporal_client, workflow_id)
                        if r.status == WorkflowExecutionStatus.CONTINUED_AS_NEW
                    ]
                    return len(done) >= 2

                await eventually(continued_twice, "the dispatcher never continued as new")
                first = sorted(
                    await runs(temporal_client, workflow_id), key=lambda r: r.start_time
                )[0]
                history = await temporal_client.get_workflow_handle(
                    workflow_id, run_id=first.run_id
                ).fetch_history()
                assert history.events[-1].HasField(
                    "workflow_execution_continued_as_new_event_attributes"
                )
                timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
                assert 1 <= len(timers) <= 3  # rounds: claim, post, wait on a durable timer
                await Replayer(
                    workflows=[OutboundDispatcherWorkflow], data_converter=pydantic_data_converter
                ).replay_workflow(history)
                if os.environ.get("OMS_RECORD_HISTORIES") == "1":  # for tests/unit/test_replay.py
                    (HISTORIES / "outbound_dispatcher_continued.json").write_text(history.to_json())
                progress = await handle.query(OutboundDispatcherWorkflow.progress)
                assert progress.rounds <= cfg.outbound_dispatcher_max_rounds
                assert all(len(receiver.for_order("/continued", o)) == 1 for o in placed)
            finally:
                await _terminate(handle)


async def test_dispatcher_takes_new_settings_and_wakes_on_signal(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    receiver: Receiver,
    subscribe: Callable[..., Any],
) -> None:
    """Starting it again (a worker restarted with other settings) signals the running one; the
    ``wake`` signal makes it claim at once instead of at the end of its (here hour-long) wait."""
    cfg = settings.model_copy(
        update={
            "task_queue": f"outbound-wake-{uuid.uuid4().hex[:8]}",
            "outbound_dispatch_interval_s": 3600,
        }
    )
    with ThreadPoolExecutor(max_workers=cfg.worker_max_concurrent_activities) as executor:
        async with build_worker(temporal_client, cfg, executor):
            workflow_id = await ensure_outbound_dispatcher(temporal_client, cfg)
            handle = temporal_client.get_workflow_handle(workflow_id)
            try:
                smaller = cfg.model_copy(update={"outbound_batch": 7})
                assert await ensure_outbound_dispatcher(temporal_client, smaller) == workflow_id
                assert await keep_outbound_dispatcher(temporal_client, smaller) == workflow_id

                async def configured_twice() -> bool:  # a signal is buffered during a task
                    return await signals(handle) == ["configure", "configure"]

                await eventually(configured_twice, "the second start did not configure it")
                assert len(await runs(temporal_client, workflow_id)) == 1

                await subscribe("/woken", event_types=["placed"])
                body = order_request()
                assert (await api.post("/orders", json=body)).status_code == 202
                await wait_for_status(api, body["order_id"], {"in_fulfilment"})
                await asyncio.sleep(1)  # the dispatcher sleeps for an hour: nothing arrives
                assert not receiver.for_order("/woken", body["order_id"])
                await handle.signal(OutboundDispatcherWorkflow.wake)
                await eventually(
                    lambda: _arrived(receiver, "/woken", body["order_id"]),
                    "the woken dispatcher posted nothing",
                    timeout=30,
                )
                history = await handle.fetch_history()
                started = history.events[0].workflow_execution_started_event_attributes
                assert started.input  # started with this worker's settings, then configured
                await Replayer(
                    workflows=[OutboundDispatcherWorkflow], data_converter=pydantic_data_converter
                ).replay_workflow(history)

                # terminated (by hand in the UI, say): the workers' periodic check starts it again
                await handle.terminate("test")
                assert await keep_outbound_dispatcher(temporal_client, cfg) == workflow_id
                restarted = {WorkflowExecutionStatus.TERMINATED, WorkflowExecutionStatus.RUNNING}

                async def started_again() -> bool:
                    return {r.status for r in await runs(temporal_client, workflow_id)} == restarted

                await eventually(started_again, "the dispatcher was not started again")
            finally:
                await _terminate(temporal_client.get_workflow_handle(workflow_id))


async def _arrived(receiver: Receiver, path: str, order_id: str) -> bool:
    return bool(receiver.for_order(path, order_id))


async def _polled_by(client: Client, task_queue: str, n: int) -> bool:
    return len(await pollers(client, task_queue)) >= n


async def _terminate(handle: WorkflowHandle[Any, Any]) -> None:
    """The dispatcher would otherwise keep claiming other tests' deliveries."""
    with contextlib.suppress(RPCError):  # already ended
        await handle.terminate("test over")


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
