"""A worker SIGKILLed mid-order: a new worker finishes it, nothing doubled."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from temporalio.client import Client

from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import PaymentTransaction, Reservation
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.orders import order_request, wait_for_status
from tests.support.smtp import Inbox
from tests.support.worker_process import WorkerProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def crash_settings(settings: Settings) -> Settings:
    """Own task queue (so the session's in-process worker cannot help) and a slow provider."""
    return settings.model_copy(
        update={"task_queue": f"crash-{uuid.uuid4().hex[:8]}", "payment_sim_latency_ms": 3000}
    )


@pytest.fixture
def worker_proc(crash_settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(crash_settings, tmp_path / "worker.log")
    yield proc
    proc.stop()


def _payment_rows(url: str, order_id: str) -> list[PaymentTransaction]:
    with session_scope(url) as s:
        return list(
            s.exec(select(PaymentTransaction).where(PaymentTransaction.order_id == order_id)).all()
        )


async def test_sigkilled_worker_mid_payment_then_new_worker_finishes_order(
    crash_settings: Settings,
    temporal_client: Client,
    inbox: Inbox,
    worker_proc: WorkerProcess,
    tmp_path: Path,
) -> None:
    app = create_app(crash_settings, temporal_client)
    async with client_for(app, crash_settings) as api:
        worker_proc.start()
        body = order_request(lines=[("TS-0012", 1), ("HO-0011", 2)])
        order_id = body["order_id"]
        assert (await api.post("/orders", json=body)).status_code == 202

        deadline = time.monotonic() + 60
        while not any(
            t.status == "pending" for t in _payment_rows(crash_settings.database_url, order_id)
        ):
            assert time.monotonic() < deadline, "payment never started"
            await asyncio.sleep(0.1)
        worker_proc.kill()  # in the middle of the card authorisation

        replacement = WorkerProcess(crash_settings, tmp_path / "worker2.log")
        replacement.start()
        try:
            order = await wait_for_status(api, order_id, {"in_fulfilment"}, timeout=90)
            for shipment in order["shipments"]:
                for event in (
                    {"event": "shipped", "carrier": "DHL", "tracking_number": "T1"},
                    {"event": "delivered"},
                ):
                    r = await api.post(
                        "/webhooks/shipments",
                        json={"shipment_id": shipment["shipment_id"], **event},
                    )
                    assert r.status_code == 202
            order = await wait_for_status(api, order_id, {"completed"}, timeout=60)
        finally:
            replacement.stop()

    txs = _payment_rows(crash_settings.database_url, order_id)
    auths = [t for t in txs if t.kind == "authorise"]
    assert len(auths) == 1 and auths[0].status == "succeeded"
    assert sum(t.amount_cents for t in txs if t.kind == "capture") == order["total_cents"]
    assert len([t for t in txs if t.kind == "capture"]) == len(order["shipments"])
    with session_scope(crash_settings.database_url) as s:
        reservations = s.exec(select(Reservation).where(Reservation.order_id == order_id)).all()
    assert sum(r.quantity for r in reservations) == 3
    subjects = [str(m["Subject"]) for m in inbox.for_order(order_id)]
    assert subjects.count(f"Bestellbestätigung {order_id}") == 1
    assert len([x for x in subjects if "unterwegs" in x]) == len(order["shipments"])
