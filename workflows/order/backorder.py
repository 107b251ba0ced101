"""A backorder: an order the stock could not cover when it was placed waits for stock (policy
``[fulfilment] uncovered = "backorder"``) instead of failing. A stock feed or adjustment wakes
it at once (signal ``stock_changed``), it also looks by itself every ``backorder_recheck``, and
at ``backorder_deadline`` it is cancelled. Nothing is authorised or charged while it waits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from temporalio import workflow

from workflows.order.journal import Journal
from workflows.order.shipments import Shipments
from workflows.order.state import OrderRun

with workflow.unsafe.imports_passed_through():
    from core.domain.orders import OrderStatus
    from core.domain.reasons import ReasonCode
    from core.domain.shipments import RoutingResult

End = Callable[[OrderStatus, str, ReasonCode], Awaitable[None]]
"""End the order unfulfilled (status, reason for the log, code for the customer): raises."""


class Backorder:
    def __init__(self, run: OrderRun, journal: Journal, shipments: Shipments, end: End) -> None:
        self.run = run
        self.journal = journal
        self.shipments = shipments
        self.end = end
        self.deadline: datetime | None = None
        self.round = 0

    async def start(self) -> None:
        """Inside the reservation step: say so in the log and tell the customer what is
        missing and until when the order waits."""
        run = self.run
        policy = run.order.policy.fulfilment
        self.deadline = deadline = workflow.now() + policy.backorder_deadline
        missing = self.shipments.uncovered
        await self.journal.progress(
            "backordered",
            OrderStatus.BACKORDERED,
            {
                "missing": ", ".join(f"{u.quantity}x{u.sku}" for u in missing),
                "until": deadline.isoformat(),
            },
        )
        names = {ln.line_id: ln.name or ln.sku for ln in run.order.lines}
        await self.journal.email(
            "backordered",
            "order_backordered",
            {
                "lines": [
                    {"sku": u.sku, "name": names.get(u.line_id, u.sku), "quantity": u.quantity}
                    for u in missing
                ],
                "deadline": deadline.date().isoformat(),
            },
        )

    async def await_stock(self) -> RoutingResult:
        """Wait for stock; plan and reserve again on every wake-up. Returns the reserved plan,
        or ends the order at the deadline (raises ``OrderAborted``)."""
        run = self.run
        deadline = self.deadline
        assert deadline is not None
        recheck = run.order.policy.fulfilment.backorder_recheck
        while True:
            self.journal.waiting(f"stock for the backorder until {deadline.isoformat()}")
            wake = min(deadline, workflow.now() + recheck)
            if wake > workflow.now():
                await run.wait(lambda: run.stock_changed, wake - workflow.now())
            async with run.step():
                run.stock_changed = False
                self.round += 1
                self.journal.set_status(OrderStatus.RESERVING, "stock reservation")
                plan = await self.shipments.plan_and_reserve(run.order, f"_b{self.round}")
                if plan is not None:
                    return plan
                self.journal.set_status(OrderStatus.BACKORDERED, "stock for the backorder")
                if workflow.now() >= deadline:
                    await self.end(
                        OrderStatus.CANCELLED,
                        f"backorder not covered by {deadline.date()}",
                        ReasonCode.BACKORDER_EXPIRED,
                    )
