"""The README's start command: the embedded stack comes up, serves the API, runs an order to
completion, and the order can be found in Temporal by its OrderStatus search attribute. It runs
with two worker processes (``OMS_WORKERS=2``): both poll, each serves its own metrics, and they
started one outbound dispatcher between them."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from core.settings import Settings
from devstack.client import OmsAuth
from devstack.postgres import free_port
from devstack.processes import port_free
from tests.support.auth import ALL_ROLES_KEY, ensure_keys
from tests.support.task_queues import pollers
from workflows.ops.schedules import outbound_dispatcher_id

ROOT = Path(__file__).resolve().parents[2]


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.ports = {name: free_port() for name in ("temporal", "ui", "api", "smtp", "mail")}
        self.env = {
            **os.environ,
            "OMS_STATE_DIR": str(tmp),
            "OMS_DATABASE_URL": f"sqlite:///{tmp}/oms.db",
            "OMS_TEMPORAL_DEV_DB": str(tmp / "temporal.db"),
            "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{self.ports['temporal']}",
            "OMS_TEMPORAL_UI_PORT": str(self.ports["ui"]),
            "OMS_API_PORT": str(self.ports["api"]),
            "OMS_SMTP_PORT": str(self.ports["smtp"]),
            "OMS_MAIL_UI_PORT": str(self.ports["mail"]),
            "OMS_WORKERS": "2",
        }
        self.logs = tmp / "logs"
        self.api = f"http://127.0.0.1:{self.ports['api']}"
        self.out = tmp / "stdout.txt"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack", "up"],
            cwd=ROOT,
            env=self.env,
            stdout=self.out.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.banner = ""

    def wait_ready(self, timeout: float) -> float:
        started = time.monotonic()
        while "Ctrl-C" not in self.banner:
            assert self.proc.poll() is None, f"stack exited: {self.banner}"
            assert time.monotonic() - started < timeout, f"not ready: {self.banner}"
            time.sleep(0.2)
            self.banner = self.out.read_text()
        return time.monotonic() - started

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


async def test_start_command_runs_an_order_end_to_end(stack: Stack) -> None:
    stack.wait_ready(timeout=120)
    assert stack.api in stack.banner and f":{stack.ports['ui']}" in stack.banner
    settings = Settings(database_url=stack.env["OMS_DATABASE_URL"])
    ensure_keys(settings)  # a shop key, written into the stack's own database
    async with httpx.AsyncClient(
        base_url=stack.api, timeout=10, auth=OmsAuth(ALL_ROLES_KEY, settings)
    ) as http:
        assert (await http.get("/orders", headers={"X-API-Key": "wrong"})).status_code == 401
        r = await http.post(
            "/orders",
            json={
                "order_id": "E2E-1",
                "customer": {"id": "C-E2E", "email": "e2e@example.org", "name": "Eva Ende"},
                "delivery_address": {
                    "name": "Eva Ende",
                    "street": "Domkloster 4",
                    "postcode": "50667",
                    "city": "Köln",
                },
                "lines": [{"sku": "TS-0000", "quantity": 1}],
            },
        )
        assert r.status_code == 202, r.text
        # the demo's policy holds a web order two minutes for changes; customer service
        # releases it now
        held = await _poll(http, "E2E-1", "payment_authorised")
        assert held["changes_until"] is not None
        r = await http.post("/orders/E2E-1/release-now", json={"agent": "e2e"})
        assert r.status_code == 200, r.text
        order = await _poll(http, "E2E-1", "in_fulfilment")
        for shipment in order["shipments"]:
            for event in (
                {"event": "shipped", "carrier": "DHL", "tracking_number": "E2E"},
                {"event": "delivered"},
            ):
                r = await http.post(
                    "/webhooks/shipments", json={"shipment_id": shipment["shipment_id"], **event}
                )
                assert r.status_code == 202
        await _poll(http, "E2E-1", "completed")

        mails = (await http.get(f"http://127.0.0.1:{stack.ports['mail']}/api/messages")).json()
        assert "Bestellbestätigung E2E-1" in [m["subject"] for m in mails]
        ui = await http.get(f"http://127.0.0.1:{stack.ports['ui']}/")
        assert ui.status_code == 200

    client = await Client.connect(f"127.0.0.1:{stack.ports['temporal']}")
    found: list[str] = []
    for _ in range(50):  # visibility is eventually consistent
        found = [w.id async for w in client.list_workflows("OrderStatus = 'completed'")]
        if found:
            break
        await asyncio.sleep(0.2)
    assert found == ["order-E2E-1"]

    # two worker processes: each its log and metrics port, both polling, one dispatcher
    assert {p.name for p in stack.logs.glob("worker*.log")} == {"worker.log", "worker-2.log"}
    metrics = re.findall(r"http://127\.0\.0\.1:(\d+)/metrics +\(worker (\d) of 2", stack.banner)
    assert [n for _port, n in metrics] == ["1", "2"] and len({p for p, _n in metrics}) == 2
    async with httpx.AsyncClient(timeout=10) as http:
        for port, _n in metrics:
            r = await http.get(f"http://127.0.0.1:{port}/metrics")
            assert r.status_code == 200 and "temporal_" in r.text
    settings = Settings(_env_file=None)
    polling: set[str] = set()
    for _ in range(50):
        polling = await pollers(client, settings.task_queue)
        if len(polling) == 2:
            break
        await asyncio.sleep(0.2)
    assert len(polling) == 2, polling
    dispatcher = outbound_dispatcher_id(settings)
    assert [w.id async for w in client.list_workflows(f"WorkflowId = '{dispatcher}'")] == [
        dispatcher
    ]

    assert stack.stop() == 0
    assert all(port_free("127.0.0.1", p) for p in stack.ports.values())


async def _poll(http: httpx.AsyncClient, order_id: str, status: str) -> dict:
    for _ in range(150):
        r = await http.get(f"/orders/{order_id}")
        if r.status_code == 200 and r.json()["status"] == status:
            return r.json()
        await asyncio.sleep(0.2)
    raise AssertionError(f"{order_id} never reached {status}: {r.text}")
