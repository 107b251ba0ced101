"""The typed way in to an order workflow, for the API's routes and pages alike.

Every caller outside the worker reaches a running order through ``OrderClient``: it names the
Updates, signals and query with their types, and turns the two ways an order says no into one
exception, ``OrderRefused`` — a validator's refusal (``ActionRefused``, with its reason) or an
order whose workflow has closed (``OrderClosed``). The API answers both with 409, once
(``api/http/errors.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterator
from datetime import timedelta
from typing import TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from core.domain.commands import (
    ActionResult,
    CancelLinesRequest,
    CancelRequest,
    ModifyRequest,
    PickupConfirmation,
    ReleaseNowRequest,
    ReviewDecision,
)
from core.domain.orders import OrderInput, OrderState, OrderStatus, workflow_id_for
from core.domain.payments import PaymentNotice
from core.domain.shipments import RerouteRequest, ShipmentEvent
from workflows.order.workflow import OrderWorkflow
from workflows.search_attributes import (
    CHANNEL,
    CUSTOMER_ID,
    LATE,
    ORDER_STATUS,
    ORDER_TOTAL,
    PAYMENT_METHOD,
)

T = TypeVar("T")


class OrderRefused(Exception):
    """The order said no; nothing changed. ``reason`` is the workflow's own words."""

    def __init__(self, order_id: str, reason: str) -> None:
        super().__init__(reason)
        self.order_id = order_id
        self.reason = reason


class OrderClosed(OrderRefused):
    """The order's workflow has ended: it takes no more changes, events or payments."""


class OrderClient:
    def __init__(self, client: Client, order_id: str) -> None:
        self.order_id = order_id
        self._client = client
        self._handle: WorkflowHandle[OrderWorkflow, OrderState] = client.get_workflow_handle(
            workflow_id_for(order_id), result_type=OrderState
        )

    @staticmethod
    async def start(client: Client, order: OrderInput, task_queue: str) -> None:
        """Start the order's workflow; a repeat while it runs joins it (USE_EXISTING), and
        after it ended the id is taken for good (REJECT_DUPLICATE)."""
        await client.start_workflow(
            OrderWorkflow.run,
            order,
            id=order.workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=initial_search_attributes(order),
            static_summary=f"Order {order.order_id}: {len(order.lines)} line(s), "
            f"{order.total_cents / 100:.2f} EUR, {order.payment_method}, "
            f"{order.channel}",
            static_details=f"Customer {order.customer.id} ({order.customer.email}), "
            f"{order.delivery_address.postcode} {order.delivery_address.city}"
            + (f"; pickup at {order.pickup_store_label}" if order.pickup_store_id else ""),
        )

    # ---- Updates: an immediate yes (with the result) or no (OrderRefused) -----------------
    # ``request_id`` (the caller's idempotency key) is the Update id: Temporal answers a repeat
    # with the same id with the first Update's result instead of running it again.
    async def cancel(self, request: CancelRequest, request_id: str | None = None) -> ActionResult:
        return await self._update(
            self._handle.execute_update(OrderWorkflow.cancel, request, id=request_id)
        )

    async def cancel_lines(
        self, request: CancelLinesRequest, request_id: str | None = None
    ) -> ActionResult:
        return await self._update(
            self._handle.execute_update(OrderWorkflow.cancel_lines, request, id=request_id)
        )

    async def modify(self, request: ModifyRequest, request_id: str | None = None) -> ActionResult:
        return await self._update(
            self._handle.execute_update(OrderWorkflow.modify, request, id=request_id)
        )

    async def release_now(
        self, request: ReleaseNowRequest, request_id: str | None = None
    ) -> ActionResult:
        return await self._update(
            self._handle.execute_update(OrderWorkflow.release_now, request, id=request_id)
        )

    async def decide_review(
        self, decision: ReviewDecision, request_id: str | None = None
    ) -> ActionResult:
        return await self._update(
            self._handle.execute_update(OrderWorkflow.decide_review, decision, id=request_id)
        )

    async def confirm_pickup(
        self, confirmation: PickupConfirmation, request_id: str | None = None
    ) -> ActionResult:
        return await self._update(
            self._handle.execute_update(OrderWorkflow.confirm_pickup, confirmation, id=request_id)
        )

    async def report_shipment_event(self, event: ShipmentEvent) -> None:
        """Answers once the order accepted the news (its validator said yes); it is applied in
        order with the order's other steps right after."""
        with self._refusals():
            update = await self._handle.start_update(
                OrderWorkflow.report_shipment_event,
                event,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
            # A validator's no comes back with the start as the update's (failed) outcome; the
            # SDK has no public flag for "outcome already known", and result() would otherwise
            # wait for the handler to finish.
            if getattr(update, "_known_outcome", None) is not None:
                await update.result()

    # ---- signals: news for the order -------------------------------------------------------
    async def shipment_event(self, event: ShipmentEvent) -> None:
        await self._signal(self._handle.signal(OrderWorkflow.shipment_event, event))

    async def stock_changed(self) -> None:
        await self._signal(self._handle.signal(OrderWorkflow.stock_changed))

    async def reroute(self, request: RerouteRequest) -> None:
        await self._signal(self._handle.signal(OrderWorkflow.reroute, request))

    async def payment_received(self, notice: PaymentNotice) -> None:
        """Money for an order whose workflow is gone is refused, never dropped: the sender
        keeps it and retries or escalates."""
        await self._signal(
            self._handle.signal(OrderWorkflow.payment_received, notice),
            f"order {self.order_id} no longer takes payments; refund it manually",
        )

    # ---- what it is doing -------------------------------------------------------------------
    async def state(self, timeout: timedelta | None = None) -> OrderState:
        return await self._handle.query(OrderWorkflow.state, rpc_timeout=timeout)

    async def actions(self, timeout: timedelta | None = None) -> dict[str, str]:
        """Per customer-service action, why the order would refuse it now ("" = possible)."""
        answer: dict[str, str] = await self._handle.query(
            OrderWorkflow.actions, rpc_timeout=timeout
        )
        return answer

    async def describe(self) -> WorkflowExecutionDescription:
        """Running or closed (and how), as the server knows it."""
        return await self._handle.describe()

    # ---- the one translation of a refusal ----------------------------------------------------
    @contextlib.contextmanager
    def _refusals(self, closed: str = "") -> Iterator[None]:
        """A validator's no becomes ``OrderRefused`` with its reason; an order whose workflow
        is gone, ``OrderClosed``."""
        try:
            yield
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            raise OrderRefused(
                self.order_id, getattr(cause, "message", None) or str(cause)
            ) from exc
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                reason = closed or f"order {self.order_id} is closed"
                raise OrderClosed(self.order_id, reason) from exc
            raise

    async def _update(self, call: Awaitable[ActionResult]) -> ActionResult:
        with self._refusals():
            return await call

    async def _signal(self, call: Awaitable[None], closed: str = "") -> None:
        with self._refusals(closed):
            await call


def initial_search_attributes(order: OrderInput) -> TypedSearchAttributes:
    """What ops can filter on from the first moment (the workflow keeps them current)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(ORDER_STATUS, OrderStatus.RECEIVED.value),
            SearchAttributePair(CHANNEL, order.channel),
            SearchAttributePair(CUSTOMER_ID, order.customer.id),
            SearchAttributePair(PAYMENT_METHOD, order.payment_method),
            SearchAttributePair(ORDER_TOTAL, order.total_cents),
            SearchAttributePair(LATE, False),
        ]
    )
