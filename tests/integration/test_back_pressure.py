"""Back-pressure: while the workers are behind, new orders are answered 503 + Retry-After and
nothing already taken on is thrown away; once they catch up, the shed order placed again is
taken and runs to the end."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.catalogue import make_sku, warehouses
from tests.support.orders import order_request, wait_for_status
from worker import build_worker


async def test_new_orders_are_shed_while_the_workers_are_behind(
    settings: Settings, temporal_client: Client
) -> None:
    # A task queue no worker polls yet: its first orders' tasks wait, as behind a busy worker.
    cfg = settings.model_copy(
        update={
            "task_queue": f"busy-{uuid.uuid4().hex[:8]}",
            "admission_max_backlog_s": 1.0,
            "admission_check_interval_s": 0.1,
        }
    )
    # its own SKU with plenty in one warehouse: however many orders a slow machine takes before
    # shedding starts, none of them competes for the demo's stock (reservation races re-plan)
    sku = make_sku(cfg.database_url, {warehouses(cfg.database_url)[0]: 1000})
    async with client_for(create_app(cfg, temporal_client), cfg) as api:
        waiting = [order_request(lines=[(sku, 1)]) for _ in range(3)]
        for body in waiting:
            assert (await api.post("/orders", json=body)).status_code == 202
        shed = order_request(lines=[(sku, 1)])
        deadline = time.monotonic() + 20
        while True:
            r = await api.post("/orders", json=shed)
            if r.status_code == 503 or time.monotonic() > deadline:
                break
            assert r.status_code == 202, r.text  # taken while the backlog was still young
            shed = order_request(lines=[(sku, 1)])
            await asyncio.sleep(0.2)
        assert r.status_code == 503, "never shed although no worker took the backlog"
        assert int(r.headers["Retry-After"]) >= 1 and "retry" in r.json()["detail"]
        # what is already taken on is still taken: a read, and a customer-service order view
        assert (await api.get(f"/orders/{waiting[0]['order_id']}")).status_code == 200
        assert (await api.get(f"/orders/{shed['order_id']}")).status_code == 404  # not taken

        with ThreadPoolExecutor(max_workers=cfg.worker_max_concurrent_activities) as executor:
            async with build_worker(temporal_client, cfg, executor):
                for body in waiting:  # nothing taken on was thrown away
                    await wait_for_status(api, body["order_id"], {"in_fulfilment"}, timeout=60)
                deadline = time.monotonic() + 30
                while (r := await api.post("/orders", json=shed)).status_code == 503:
                    assert time.monotonic() < deadline, "still shedding after the backlog drained"
                    await asyncio.sleep(float(r.headers["Retry-After"]) / 4)
                assert r.status_code == 202, r.text
                await wait_for_status(api, shed["order_id"], {"in_fulfilment"}, timeout=60)
