"""The Temporal server restarts under the API: a customer-service call in flight answers 503 +
Retry-After (never 500) and its retry does the action once; an order placed while the server is
away answers 503 and, when nobody retries, gets its workflow from the order sweep.

The dev server runs as its own process on a database file, so it can be stopped and started
again with its workflows intact, and the API reaches it through a TCP proxy, as it would through
a load balancer or a Kubernetes service: when the server goes, the proxy closes the API's
connection, and a call in flight on it fails "transport error" (gRPC UNKNOWN), which the SDK
does not retry and which used to come back as a 500."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import PaymentTransaction
from core.settings import Settings
from devstack.binaries import DEV_SERVER_SQLITE, temporal_cli
from devstack.client import OmsAuth
from devstack.postgres import free_port
from devstack.processes import wait_for_port
from tests.integration.test_ghost_orders import workflow_exists
from tests.support.auth import ALL_ROLES_KEY, ensure_keys
from tests.support.orders import order_request, wait_for_status
from worker import build_worker
from workflows.ops.order_sweep import OrderSweepWorkflow, SweepParams, SweepResult
from workflows.search_attributes import cli_flags


class TemporalServer:
    """``temporal server start-dev`` on a database file: stop it, start it, workflows stay."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.dir = directory
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.dir / "temporal.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    temporal_cli(),
                    "server",
                    "start-dev",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--headless",
                    "--db-filename",
                    str(self.dir / "temporal.db"),
                    "--log-level",
                    "warn",
                    *DEV_SERVER_SQLITE,
                    *cli_flags(),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for_port("127.0.0.1", self.port, timeout=60)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


async def _proxy(upstream_port: int) -> asyncio.Server:
    """Forwards each connection to the server; closes it when the server's side goes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", 0)


class Stack:
    def __init__(self, server: TemporalServer, api: httpx.AsyncClient, settings: Settings):
        self.server, self.api, self.settings = server, api, settings
        self.client: Client | None = None


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[Stack]:
    server = TemporalServer(tmp_path)
    server.start()
    proxy = await _proxy(server.port)
    proxy_port = proxy.sockets[0].getsockname()[1]
    try:
        api_client = await Client.connect(
            f"127.0.0.1:{proxy_port}", data_converter=pydantic_data_converter
        )
        worker_client = await Client.connect(
            f"127.0.0.1:{server.port}", data_converter=pydantic_data_converter
        )
        cfg = settings.model_copy(
            update={
                "temporal_address": f"127.0.0.1:{server.port}",
                "task_queue": f"restart-{uuid.uuid4().hex[:8]}",
                "payment_sim_latency_ms": 2000,  # a cancel's void takes 2 s: a call in flight
            }
        )
        ensure_keys(cfg)
        app = create_app(cfg, api_client)
        # a server error comes back as the 500 a real client would get, not as an exception
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        with ThreadPoolExecutor(max_workers=cfg.worker_max_concurrent_activities) as executor:
            async with (
                httpx.AsyncClient(
                    transport=transport,
                    base_url="http://oms.test",
                    auth=OmsAuth(ALL_ROLES_KEY, cfg),
                ) as api,
                build_worker(worker_client, cfg, executor),
            ):
                found = Stack(server, api, cfg)
                found.client = worker_client
                yield found
    finally:
        proxy.close()
        server.stop(signal.SIGKILL)


def _busy(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert r.headers["Retry-After"].isdigit()
    assert "retry" in r.json()["detail"]


def _voids(url: str, order_id: str) -> list[PaymentTransaction]:
    with session_scope(url) as s:
        return list(
            s.exec(
                select(PaymentTransaction).where(
                    PaymentTransaction.order_id == order_id, PaymentTransaction.kind == "void"
                )
            ).all()
        )


async def test_a_cs_call_in_flight_when_temporal_restarts_is_503_then_done_once(
    stack: Stack,
) -> None:
    api = stack.api
    body = order_request(lines=[("TS-0012", 1)])
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    await wait_for_status(api, order_id, {"in_fulfilment"}, timeout=60)

    cancel = {"agent": "cs-agent-1", "reason": "customer called"}
    in_flight = asyncio.create_task(api.post(f"/orders/{order_id}/cancel", json=cancel))
    await asyncio.sleep(1.0)  # the order is voiding the authorisation
    assert not in_flight.done()
    stack.server.stop()  # restart: down...
    _busy(await in_flight)

    stack.server.start()  # ...and up again on the same database file
    deadline = time.monotonic() + 60
    while True:  # the caller retries the same call until it is done
        r = await api.post(f"/orders/{order_id}/cancel", json=cancel)
        if r.status_code != 503:
            break
        _busy(r)
        assert time.monotonic() < deadline, "never answered after the restart"
        await asyncio.sleep(1)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    await wait_for_status(api, order_id, {"cancelled"}, timeout=30)
    assert [v.status for v in _voids(stack.settings.database_url, order_id)] == ["succeeded"]


async def test_an_order_answered_503_while_temporal_is_away_gets_its_workflow(
    stack: Stack,
) -> None:
    api = stack.api
    body = order_request(lines=[("TS-0012", 1)])
    order_id = body["order_id"]
    stack.server.stop()
    _busy(await api.post("/orders", json=body))
    shown = await api.get(f"/orders/{order_id}")
    assert shown.status_code == 200 and shown.json()["status"] == "received"  # the ghost

    stack.server.start()
    assert stack.client is not None
    await asyncio.sleep(1)
    assert not await workflow_exists(stack.client, order_id)  # nobody retried
    result = await stack.client.execute_workflow(
        OrderSweepWorkflow.run,
        SweepParams(grace_s=0),
        id=f"order-sweep-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.task_queue,
        result_type=SweepResult,
    )
    assert order_id in result.started
    order = await wait_for_status(api, order_id, {"in_fulfilment"}, timeout=90)
    assert order["events"][0]["type"] == "placed"
    assert await workflow_exists(stack.client, order_id)
    listed = (await api.get("/orders", params={"customer_id": body["customer"]["id"]})).json()
    assert [o["status"] for o in listed["orders"]] == ["in_fulfilment"]
