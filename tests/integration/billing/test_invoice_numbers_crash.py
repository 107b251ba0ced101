"""50 parcels shipped at once on PostgreSQL get 50 consecutive invoice numbers, none twice and
none missing, although the worker issuing them is SIGKILLed in the middle and another one
finishes the work (the numbers' transaction and the step key make a retried issue harmless)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlmodel import col, select
from temporalio.client import Client

from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import Invoice
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.catalogue import make_sku, warehouses
from tests.support.orders import order_request, wait_for_status
from tests.support.worker_process import WorkerProcess

ORDERS = 50


def _invoices(url: str, order_ids: list[str]) -> list[Invoice]:
    with session_scope(url) as s:
        return list(
            s.exec(
                select(Invoice).where(
                    col(Invoice.order_id).in_(order_ids), Invoice.kind == "invoice"
                )
            ).all()
        )


async def _ship(api: httpx.AsyncClient, shipment_id: str) -> None:
    """The warehouse reports the parcel shipped, retrying while no worker answers (503), as
    a warehouse system would."""
    body = {"shipment_id": shipment_id, "event": "shipped", "carrier": "DHL",
            "tracking_number": f"TRK{shipment_id}"}  # fmt: skip
    deadline = time.monotonic() + 120
    while (r := await api.post("/webhooks/shipments", json=body)).status_code != 202:
        assert r.status_code == 503 and time.monotonic() < deadline, r.text
        await asyncio.sleep(0.5)


def _count(url: str, order_ids: list[str]) -> int:
    with session_scope(url) as s:
        return s.exec(
            select(func.count()).select_from(Invoice).where(col(Invoice.order_id).in_(order_ids))
        ).one()


async def test_fifty_parcels_get_fifty_consecutive_numbers_across_a_worker_kill(
    settings: Settings, temporal_client: Client, tmp_path: Path
) -> None:
    own = settings.model_copy(  # own queue: only the worker processes below serve it
        update={"task_queue": f"inv-{uuid.uuid4().hex[:8]}", "payment_sim_latency_ms": 150}
    )
    url = own.database_url
    sku = make_sku(url, {warehouses(url)[0]: ORDERS + 5}, price_cents=1190)
    first = WorkerProcess(own, tmp_path / "worker1.log")
    second = WorkerProcess(own, tmp_path / "worker2.log")
    async with client_for(create_app(own, temporal_client), own) as api:
        first.start()
        try:
            bodies = [order_request(lines=[(sku, 1)]) for _ in range(ORDERS)]
            ids = [b["order_id"] for b in bodies]
            for body in bodies:
                assert (await api.post("/orders", json=body)).status_code == 202
            orders = await asyncio.gather(
                *(wait_for_status(api, oid, {"in_fulfilment"}, timeout=180) for oid in ids)
            )
            parcels = [sh["shipment_id"] for o in orders for sh in o["shipments"]]
            assert len(parcels) == ORDERS

            shipping = asyncio.gather(*(_ship(api, sid) for sid in parcels))
            deadline = time.monotonic() + 120
            while _count(url, ids) < 5:  # some issued, most not yet: kill it now
                assert time.monotonic() < deadline, "no invoice was issued"
                await asyncio.sleep(0.05)
            first.kill()
            at_kill = _count(url, ids)
            second.start()
            await shipping
            await asyncio.gather(
                *(wait_for_status(api, oid, {"shipped"}, timeout=180) for oid in ids)
            )
        finally:
            first.stop()
            second.stop()

    assert at_kill < ORDERS  # the second worker issued the rest
    invoices = _invoices(url, ids)
    assert sorted(i.order_id for i in invoices) == sorted(ids)  # one per parcel, none twice
    numbers = sorted(int(re.fullmatch(r"RE-\d{4}-(\d+)", i.number)[1]) for i in invoices)  # type: ignore[index]
    assert numbers == list(range(numbers[0], numbers[0] + ORDERS))  # consecutive, no gap
    assert all(i.pdf for i in invoices)
    assert {i.order_id: i.total_gross_cents for i in invoices} == {
        o["order_id"]: o["total_cents"] for o in orders
    }  # one parcel each: goods and shipping
