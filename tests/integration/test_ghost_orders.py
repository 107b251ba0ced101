"""An order recorded while Temporal was away (``POST /orders`` answered 503 after writing its
row) gets its workflow from the order sweep once the grace time has passed: it is never lost,
and no listing keeps showing a "received" order that nothing works on. Orders still within the
grace time, and orders whose workflow exists, are left alone. (The end-to-end version, with the
Temporal server really stopped and started, is ``test_temporal_restart.py``.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import delete, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.orders.log import order_record_for, request_hash
from api.services.order_intake import price_order
from core.db.engine import session_scope
from core.db.schema import OrderEvent, OrderRecord
from core.domain.orders import OrderInput, OrderRequest, workflow_id_for
from core.policy import load_policy
from core.settings import Settings
from tests.support.orders import new_order_id, order_request, wait_for_status
from workflows.ops.order_sweep import OrderSweepWorkflow, SweepParams, SweepResult
from workflows.ops.schedules import ensure_order_sweep_schedule
from workflows.order.client import OrderClient

GRACE_S = 120.0


def record_without_workflow(
    settings: Settings, body: dict[str, Any], placed_ago: timedelta
) -> None:
    """What ``POST /orders`` leaves when the start fails: the priced row, no workflow."""
    req = OrderRequest.model_validate(body)
    with session_scope(settings.database_url) as s:
        order = price_order(
            s, req, load_policy(settings.policy_file), now=datetime.now(UTC) - placed_ago
        )
        s.add(order_record_for(order, request_hash(req)))


async def workflow_exists(client: Client, order_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id_for(order_id)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def sweep(client: Client, settings: Settings, grace_s: float = GRACE_S) -> SweepResult:
    return await client.execute_workflow(
        OrderSweepWorkflow.run,
        SweepParams(grace_s=grace_s, batch=2),  # small pages: paging is exercised too
        id=f"order-sweep-test-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
        result_type=SweepResult,
    )


@pytest.fixture
def young_ghost(settings: Settings) -> Any:
    body = order_request(new_order_id("GHOST-YOUNG"))
    record_without_workflow(settings, body, timedelta(seconds=5))
    yield body
    with session_scope(settings.database_url) as s:  # never swept by a later test either
        s.exec(delete(OrderRecord).where(OrderRecord.order_id == body["order_id"]))  # type: ignore[call-overload]


async def test_the_sweep_starts_an_order_recorded_without_workflow(
    api: httpx.AsyncClient,
    settings: Settings,
    temporal_client: Client,
    young_ghost: dict[str, Any],
) -> None:
    ghost = order_request(new_order_id("GHOST"))
    record_without_workflow(settings, ghost, timedelta(minutes=10))
    ghost_id = ghost["order_id"]
    listed = (await api.get("/orders", params={"customer_id": ghost["customer"]["id"]})).json()
    assert [o["status"] for o in listed["orders"]] == ["received"]  # the ghost, as it was
    assert not await workflow_exists(temporal_client, ghost_id)

    # a recorded order whose workflow exists but has not run yet (no worker on its queue)
    waiting = order_request(new_order_id("GHOST-RUNNING"))
    record_without_workflow(settings, waiting, timedelta(minutes=10))
    with session_scope(settings.database_url) as s:
        waiting_row = s.get(OrderRecord, waiting["order_id"])
        assert waiting_row is not None
        waiting_order = OrderInput.model_validate(waiting_row.payload)
    idle_queue = f"idle-{uuid.uuid4().hex[:8]}"
    await OrderClient.start(temporal_client, waiting_order, idle_queue)

    try:
        result = await sweep(temporal_client, settings)
        assert ghost_id in result.started
        assert young_ghost["order_id"] not in result.started  # within the grace time
        assert waiting["order_id"] not in result.started
        assert result.already_running >= 1

        order = await wait_for_status(api, ghost_id, {"in_fulfilment"}, timeout=60)
        assert order["events"][0]["type"] == "placed"
        assert await workflow_exists(temporal_client, ghost_id)
        assert not await workflow_exists(temporal_client, young_ghost["order_id"])

        again = await sweep(temporal_client, settings)  # nothing to do for it any more
        assert ghost_id not in again.started

        # the caller's late retry joins the order the sweep started: same order, 202
        r = await api.post("/orders", json=ghost)
        assert r.status_code == 202, r.text
        with session_scope(settings.database_url) as s:
            placed = s.exec(
                select(OrderEvent).where(
                    OrderEvent.order_id == ghost_id, OrderEvent.type == "placed"
                )
            ).all()
        assert len(placed) == 1
    finally:
        await temporal_client.get_workflow_handle(waiting_order.workflow_id).terminate()
        with session_scope(settings.database_url) as s:
            s.exec(delete(OrderRecord).where(OrderRecord.order_id == waiting["order_id"]))  # type: ignore[call-overload]


async def test_the_sweep_runs_on_a_schedule(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    ghost = order_request(new_order_id("GHOST-SCHED"))
    record_without_workflow(settings, ghost, timedelta(hours=1))
    cfg = settings.model_copy(update={"order_sweep_grace_s": 60.0})
    schedule_id = await ensure_order_sweep_schedule(temporal_client, cfg)
    assert await ensure_order_sweep_schedule(temporal_client, cfg) == schedule_id
    handle = temporal_client.get_schedule_handle(schedule_id)
    try:
        await handle.trigger()
        await wait_for_status(api, ghost["order_id"], {"in_fulfilment"}, timeout=60)
        description = await handle.describe()
    finally:
        await handle.delete()
    assert description.info.num_actions >= 1
    assert description.schedule.spec.intervals[0].every == timedelta(
        seconds=settings.order_sweep_interval_s
    )
