"""Starts the workflow of every recorded order that has none; started by a Temporal schedule
every minute or so (``OMS_ORDER_SWEEP_INTERVAL_S``), or directly.

Why it exists. ``POST /orders`` writes the order's read-model row, with the full priced
payload, before it starts the order's workflow: the order is kept the moment it is accepted.
If Temporal is away just then (a restart), the answer is 503 + Retry-After and the row stays
"received" without a workflow. The caller's retry starts it (placing is idempotent by order
id); when no retry comes, this sweep does, after the grace time (``OMS_ORDER_SWEEP_GRACE_S``),
so an accepted order is never lost and no listing keeps showing a "received" order that nothing
works on. Removing the row when the start fails was the other way; it is not taken because the
start may have gone through while only its answer was lost, and a concurrent retry may just
have started it: deleting would then hide a running order.

How. The orders come from the read model (``activities/orders/sweeper.py``), page by page,
oldest first. Each is started as a child workflow with its usual id and search attributes and
``ParentClosePolicy.ABANDON``, so it lives on after this run ends; an id already taken (its
workflow runs, or ran) is left alone, since that order was never lost.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.order.client import initial_search_attributes
from workflows.order.workflow import OrderWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.orders.activities import OrderSweepActivities
    from activities.orders.sweeper import SweepCursor, UnstartedOrders

MAX_PAGES = 20
"""Pages per run; the next run carries on with whatever is left."""


class SweepParams(BaseModel):
    """One model rather than positional arguments, so fields can be added later."""

    grace_s: float = 300.0
    """Only orders placed at least this long ago: the API's own start and its retry go first."""
    batch: int = 50


class SweepResult(BaseModel):
    started: list[str] = []
    """Order ids whose workflow this run started."""
    already_running: int = 0
    """Candidates whose workflow existed after all (a start whose answer was lost)."""


@workflow.defn
class OrderSweepWorkflow:
    @workflow.run
    async def run(self, params: SweepParams | None = None) -> SweepResult:
        params = params or SweepParams()
        placed_before = workflow.now() - timedelta(seconds=params.grace_s)
        result = SweepResult()
        after: SweepCursor | None = None
        for _ in range(MAX_PAGES):
            page: UnstartedOrders = await workflow.execute_activity_method(
                OrderSweepActivities.find_unstarted_orders,
                args=[placed_before, params.batch, after],
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10)),
            )
            for order in page.orders:
                try:
                    await workflow.start_child_workflow(
                        OrderWorkflow.run,
                        order,
                        id=order.workflow_id,
                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                        parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                        search_attributes=initial_search_attributes(order),
                        static_summary=f"Order {order.order_id}: {len(order.lines)} line(s), "
                        f"{order.total_cents / 100:.2f} EUR, {order.payment_method}, "
                        f"{order.channel} (started by the order sweep)",
                    )
                    result.started.append(order.order_id)
                except WorkflowAlreadyStartedError:
                    result.already_running += 1
            if page.next is None:
                break
            after = page.next
        if result.started:
            workflow.logger.warning(
                "order sweep started %d order(s) left without a workflow: %s",
                len(result.started),
                ", ".join(result.started),
            )
        return result
