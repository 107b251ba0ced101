"""Starting orders directly on the time-skipping server and watching them from a test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from api.services.order_intake import price_order
from core.db.engine import session_scope
from core.domain.orders import OrderInput, OrderRequest, OrderState
from core.domain.shipments import ShipmentEvent
from core.policy import OrderPolicy
from core.settings import Settings
from tests.support.orders import order_request
from tests.support.policies import NO_HOLD
from workflows.order.workflow import OrderWorkflow


async def start(
    env: WorkflowEnvironment,
    settings: Settings,
    lines: list[tuple[str, int]],
    policy: OrderPolicy | None = None,
    **request: Any,
) -> tuple[WorkflowHandle[Any, OrderState], OrderInput]:
    """Price an order as the API would and start its workflow on the test server, placed at
    the server's (skipped) time so its promises are computed from there."""
    req = OrderRequest.model_validate(order_request(lines=lines, **request))
    now = await env.get_current_time()
    with session_scope(settings.database_url) as s:
        order = price_order(s, req, policy or NO_HOLD, now=now)
    handle = await env.client.start_workflow(
        OrderWorkflow.run, order, id=order.workflow_id, task_queue=settings.task_queue
    )
    return handle, order


async def until(
    handle: WorkflowHandle[Any, OrderState],
    check: Callable[[OrderState], bool],
    timeout: float = 30.0,
) -> OrderState:
    """Poll the workflow's state (real time; the test server does not skip meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        state = await handle.query(OrderWorkflow.state)
        if check(state):
            return state
        assert time.monotonic() < deadline, f"never happened; state: {state}"
        await asyncio.sleep(0.1)


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.1)


async def send(
    handle: WorkflowHandle[Any, OrderState], shipment_id: str, *kinds: str, **extra: Any
) -> None:
    for kind in kinds:
        await handle.signal(
            OrderWorkflow.shipment_event,
            ShipmentEvent(
                shipment_id=shipment_id, kind=kind, carrier="DHL", tracking_number="TS-1", **extra
            ),
        )
