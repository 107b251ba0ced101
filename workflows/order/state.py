"""The one state object of an order workflow, and the three ways its parts use Temporal: a
database step (``db``), a lifecycle step under the order's lock (``step``), a wait
(``wait``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from core.domain.commands import ReviewDecision
    from core.domain.money import Money
    from core.domain.orders import OrderInput, OrderState, OrderStatus
    from core.domain.payments import PaymentNotice
    from core.domain.shipment_book import ShipmentBook
    from core.domain.shipments import RerouteRequest, ShipmentEvent

_NO_ARG: Any = object()


class OrderAborted(Exception):
    """The order ended early (cancelled, rejected, not paid); compensation already ran."""


@dataclass
class PickupTicket:
    """A pickup order whose goods are all in the store, waiting for the customer."""

    code: str
    expires_at: datetime
    reminded: bool = False


class OrderRun:
    """Everything one order workflow knows. The parts (journal, payments, shipments, pickup)
    share this one object instead of each keeping a copy."""

    def __init__(self, order: OrderInput) -> None:
        self.order = order  # as it now stands: changes (modify, cancelled lines) replace it
        self.state = OrderState(order_id=order.order_id, status=OrderStatus.RECEIVED)
        self.book = ShipmentBook()
        self.money = Money()
        self.lock = asyncio.Lock()
        self.inbox: list[ShipmentEvent] = []  # shipment events, handled in order
        self.reroutes: list[RerouteRequest] = []
        self.payments: list[PaymentNotice] = []  # money received, not yet booked
        self.payment_ids: set[str] = set()
        self.review: ReviewDecision | None = None
        self.released_early_by: str | None = None  # who lifted the release hold ("release now")
        self.pickup: PickupTicket | None = None
        self.releasing: set[str] = set()  # release activities in flight (news may come first)
        self.stock_changed = False  # a feed or adjustment added stock: a backorder looks again
        self.nudged = False  # news applied by an Update: the fulfilment loop looks again
        self.released = False
        self.ended = False
        self.reroute_no = 0
        self.action_no = 0
        self.local = False  # patches, set when the run starts (see patches.py)
        self.ops_view = False
        self.monitoring = False

    def next_action(self, kind: str) -> str:
        """The step name of the next customer-service action of this kind (``modified_2``)."""
        self.action_no += 1
        return f"{kind}_{self.action_no}"

    async def db(
        self,
        activity: Callable[..., Any],
        arg: Any = _NO_ARG,
        *,
        args: Sequence[Any] = (),
        **options: Any,
    ) -> Any:
        """A short database step (event log, risk, routing, stock, shipment records): a local
        activity, run by this worker without a round trip through the server, for orders
        started since the LOCAL_ACTIVITIES patch; a normal activity for older ones, so their
        histories still replay."""
        call_args = list(args) if arg is _NO_ARG else [arg]
        if self.ops_view:  # what the Temporal UI shows for this step
            options.setdefault("summary", activity.__name__.replace("_", " "))
        if self.local:
            return await workflow.execute_local_activity_method(activity, args=call_args, **options)
        return await workflow.execute_activity_method(activity, args=call_args, **options)

    @contextlib.asynccontextmanager
    async def step(self) -> AsyncIterator[None]:
        """One step of the lifecycle, never interleaved with a customer-service action."""
        async with self.lock:
            if self.ended:
                raise OrderAborted()
            yield

    async def wait(self, condition: Callable[[], bool], timeout: timedelta | None = None) -> bool:
        """Wait outside the lock for ``condition`` (or the order's end); False on timeout."""
        summary = (self.state.waiting_for or None) if self.ops_view else None
        try:
            await workflow.wait_condition(
                lambda: self.ended or condition(),
                timeout=timeout,
                timeout_summary=summary if timeout else None,
            )
        except TimeoutError:
            return False
        if self.ended:
            raise OrderAborted()
        return True
