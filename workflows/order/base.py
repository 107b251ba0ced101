"""Shared state and primitives of the order workflow: the lock that keeps a step and a
customer-service action apart, the event log, e-mails, money give-backs, routing and the saga's
compensation. Deterministic code only (see workflows/order/workflow.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.fulfilment.activities import FulfilmentActivities
    from activities.messaging.activities import EmailActivities
    from activities.orders.activities import OrderLogActivities, PlanningActivities
    from activities.payments.activities import PaymentActivities
    from activities.stock.activities import StockActivities
    from core.domain.commands import ActionResult, ReviewDecision
    from core.domain.events import EmailRequest, ProgressEvent
    from core.domain.money import Money
    from core.domain.orders import TERMINAL_STATUSES, OrderInput, OrderState, OrderStatus
    from core.domain.payments import PaymentNotice, PaymentResult
    from core.domain.shipment_book import ShipmentBook
    from core.domain.shipments import (
        RerouteRequest,
        ReservationResult,
        RoutingResult,
        ShipmentEvent,
    )
    from workflows.search_attributes import (
        FULFILMENT_LOCATIONS,
        LATE,
        ORDER_STATUS,
        ORDER_TOTAL,
        PAYMENT_METHOD,
    )

SHORT = {
    "start_to_close_timeout": timedelta(seconds=15),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10)),
}
ROUTING = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10)),
}
EMAIL = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1)),
}
PRICING = {
    "start_to_close_timeout": timedelta(seconds=15),
    "retry_policy": RetryPolicy(
        maximum_interval=timedelta(seconds=10), non_retryable_error_types=["InvalidOrder"]
    ),
}
AUTHORISING = {"card", "wallet", "invoice"}


LOCAL_ACTIVITIES = "local-db-activities-v1"  # patch id of the fast path (see OrderBase._db)
OPS_VIEW = "ops-search-attributes-v1"  # patch id: payment, locations, total, risk, late
_NO_ARG: Any = object()


class OrderAborted(Exception):
    """The order ended early (cancelled, auto-cancelled); compensation already ran."""


class OrderBase:
    """State of one order workflow. The steps live in mixins by concern (payment, fulfilment);
    the workflow class itself (``OrderWorkflow``) holds the lifecycle and the handlers."""

    def __init__(self) -> None:
        self._state: OrderState | None = None
        self._order: OrderInput | None = None
        self._book = ShipmentBook()
        self._money = Money()
        self._lock = asyncio.Lock()
        self._inbox: list[ShipmentEvent] = []
        self._reroutes: list[RerouteRequest] = []
        self._payments: list[PaymentNotice] = []
        self._payment_ids: set[str] = set()
        self._review: ReviewDecision | None = None
        self._released = False
        self._ended = False
        self._reroute_no = 0
        self._action_no = 0
        self._local = False  # set in run(): see LOCAL_ACTIVITIES
        self._ops_view = False  # set in run(): see OPS_VIEW

    async def _db(
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
        if self._ops_view:  # what the Temporal UI shows for this step
            options.setdefault("summary", activity.__name__.replace("_", " "))
        if self._local:
            return await workflow.execute_local_activity_method(activity, args=call_args, **options)
        return await workflow.execute_activity_method(activity, args=call_args, **options)

    @contextlib.asynccontextmanager
    async def _step(self) -> AsyncIterator[None]:
        """One step of the lifecycle, never interleaved with a customer-service action."""
        async with self._lock:
            if self._ended:
                raise OrderAborted()
            yield

    async def _wait(self, condition: Callable[[], bool], timeout: timedelta | None = None) -> bool:
        """Wait outside the lock for ``condition`` (or the order's end); False on timeout."""
        summary = (self._state.waiting_for or None) if self._ops_view and self._state else None
        try:
            await workflow.wait_condition(
                lambda: self._ended or condition(),
                timeout=timeout,
                timeout_summary=summary if timeout else None,
            )
        except TimeoutError:
            return False
        if self._ended:
            raise OrderAborted()
        return True

    async def _plan_and_reserve(self, order: OrderInput) -> RoutingResult | None:
        """Plan, then reserve exactly the plan; a lost race re-plans on fresh stock."""
        for attempt in range(order.policy.reservation_attempts):
            plan: RoutingResult = await self._db(
                PlanningActivities.plan_route,
                args=[order, sorted(self._book.excluded_locations)],
                **ROUTING,
            )
            if plan.uncovered or not plan.shipments:
                return None
            shipments = self._book.numbered(order.order_id, plan.shipments)
            result: ReservationResult = await self._db(
                StockActivities.reserve_stock, args=[order.order_id, shipments], **SHORT
            )
            if result.ok:
                return plan.model_copy(update={"shipments": shipments})
            await self._progress(
                f"reservation_race_{len(self._book.plans)}_{self._reroute_no}_{attempt}",
                None,
                {"conflicts": ",".join(result.conflicts)},
            )
        return None

    async def _refund(self, amount: int, step: str, reason: str) -> None:
        """Pay money back: out of a bank transfer, or against the card's captures."""
        assert self._order is not None
        amount = min(amount, self._money.refundable)
        if amount <= 0:
            return
        refund: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.refund_payment,
            args=[self._order.order_id, amount, self._money.authorisation_id or None, step],
            **SHORT,
        )
        self._money.book_refund(amount)
        await self._progress(
            step.replace(":", "_"),
            None,
            {"amount_cents": amount, "reason": reason, "transaction_id": refund.transaction_id},
        )
        await self._email(step, "refund_issued", {"amount_cents": amount, "reason": reason})

    async def _void(self, amount: int, step: str) -> None:
        assert self._order is not None
        if amount <= 0 or not self._money.authorisation_id:
            return
        await workflow.execute_activity_method(
            PaymentActivities.void_payment,
            args=[self._order.order_id, self._money.authorisation_id, amount, step],
            **SHORT,
        )
        self._money.voided += amount

    async def _give_back(self, amount: int, step: str, reason: str) -> tuple[int, int]:
        """Void what is only authorised, refund what was paid; returns (voided, refunded)."""
        voided = min(amount, self._money.open_authorisation)
        await self._void(voided, f"void:{step}")
        refunded = min(amount - voided, self._money.refundable)
        await self._refund(refunded, f"refund:{step}", reason)
        return voided, refunded

    async def _cancel_everything(self, reason: str, actor: str) -> tuple[int, int]:
        """Saga compensation: withdraw what is unshipped, free the stock, give the money back,
        tell the customer. Ends the order."""
        assert self._order is not None
        order = self._order
        for s in self._book.open():
            await self._db(
                FulfilmentActivities.withdraw_shipment,
                args=[order.order_id, s.shipment_id, reason, "cancelled"],
                **SHORT,
            )
            self._book.status[s.shipment_id] = "cancelled"
        await self._db(StockActivities.release_stock, order.order_id, **SHORT)
        voided = self._money.open_authorisation
        await self._void(voided, "void")
        refunded = self._money.held
        await self._refund(refunded, "refund:cancel", reason)
        await self._progress("cancelled", OrderStatus.CANCELLED, {"reason": reason}, actor=actor)
        await self._email("cancelled", "order_cancelled", {"reason": reason})
        self._state_waiting("")
        self._ended = True
        return voided, refunded

    async def _end(self, status: OrderStatus, reason: str) -> None:
        """The order ends unfulfilled before anything was taken; tell the customer."""
        assert self._state is not None
        await self._progress(status.value, status, {"reason": reason})
        await self._email(status.value, "order_cancelled", {"reason": reason})
        self._state.waiting_for = ""
        self._ended = True
        raise OrderAborted()

    def _closed_problem(self) -> str:
        assert self._state is not None
        if self._ended or self._state.status in TERMINAL_STATUSES:
            return f"the order is already {self._state.status.value}"
        return ""

    @staticmethod
    def _refuse_if(problem: str) -> None:
        if problem:
            raise ApplicationError(problem, type="ActionRefused", non_retryable=True)

    def _result(self, message: str, voided: int = 0, refunded: int = 0) -> ActionResult:
        assert self._order is not None and self._state is not None
        return ActionResult(
            message=message,
            status=self._state.status.value,
            total_cents=self._order.total_cents,
            voided_cents=voided,
            refunded_cents=refunded,
        )

    def _state_waiting(self, what: str) -> None:
        assert self._state is not None
        self._state.waiting_for = what
        self._show_details()

    async def _set_status(self, status: OrderStatus, waiting_for: str) -> None:
        assert self._state is not None
        self._state.status = status
        self._state.waiting_for = waiting_for
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])
        self._show_details()

    def _show_details(self) -> None:
        """What the Temporal UI shows as this order's current details."""
        if self._state is None or self._order is None:
            return
        live = self._book.live()
        parcels = (
            ", ".join(
                f"{p.shipment_id} @ {p.location_id}: {self._book.status[p.shipment_id]}"
                for p in live
            )
            or "none yet"
        )
        workflow.set_current_details(
            f"**{self._state.status.value}** — waiting for: {self._state.waiting_for or '-'}\n\n"
            f"{self._order.payment_method}, {self._order.total_cents / 100:.2f} EUR; "
            f"parcels: {parcels}"
        )

    def _mark(self, late: bool | None = None) -> None:
        """Keep the ops search attributes current (orders started since OPS_VIEW)."""
        if not self._ops_view or self._order is None:
            return
        updates = [
            PAYMENT_METHOD.value_set(self._order.payment_method),
            ORDER_TOTAL.value_set(self._order.total_cents),
            FULFILMENT_LOCATIONS.value_set(sorted({p.location_id for p in self._book.live()})),
        ]
        if late is not None:
            updates.append(LATE.value_set(late))
        workflow.upsert_search_attributes(updates)
        self._show_details()

    async def _progress(
        self,
        step: str,
        status: OrderStatus | None,
        detail: dict[str, str | int | float | bool | None],
        actor: str = "system",
        snapshot: bool = False,
    ) -> None:
        """Record one step in the event log (and move the status), exactly once per step."""
        assert self._order is not None and self._state is not None
        if status is not None and status != self._state.status:
            await self._set_status(status, self._state.waiting_for)
        await self._db(
            OrderLogActivities.record_progress,
            ProgressEvent(
                order_id=self._order.order_id,
                key=f"{self._order.order_id}:{step}",
                type=step,
                status=status,
                detail=detail,
                actor=actor,
                at=workflow.now(),
                snapshot=self._order if snapshot else None,
            ),
            **SHORT,
        )

    async def _email(self, step: str, template: str, context: dict[str, object]) -> None:
        assert self._order is not None
        order = self._order
        await workflow.execute_activity_method(
            EmailActivities.send_email,
            EmailRequest(
                key=f"{order.order_id}:{step}",
                order_id=order.order_id,
                to=str(order.customer.email),
                template=template,
                locale=order.customer.locale,
                context={
                    "order_id": order.order_id,
                    "customer_name": order.customer.name,
                    **context,
                },
            ),
            summary=f"e-mail {template}" if self._ops_view else None,
            **EMAIL,
        )

    def _order_summary(self) -> dict[str, object]:
        assert self._order is not None
        order = self._order
        return {
            "lines": [
                {
                    "sku": ln.sku,
                    "name": ln.name,
                    "quantity": ln.quantity,
                    "total_cents": ln.total_cents,
                }
                for ln in order.lines
            ],
            "shipping_cents": order.shipping_cents,
            "total_cents": order.total_cents,
            "address": ", ".join(
                [
                    order.delivery_address.name,
                    order.delivery_address.street,
                    f"{order.delivery_address.postcode} {order.delivery_address.city}",
                ]
            ),
            "promised_delivery": self._book.latest_promise(),
        }

    def _bank_details(self, deadline: datetime) -> dict[str, object]:
        assert self._order is not None
        policy = self._order.policy.payment
        return {
            "amount_cents": self._order.total_cents - self._money.held,
            "holder": policy.bank_account_holder,
            "iban": policy.bank_iban,
            "bic": policy.bank_bic,
            "reference": self._order.order_id,
            "deadline": deadline.date().isoformat(),
        }

    def _line_name(self, line_id: str) -> str:
        assert self._order is not None
        return next(
            (f"{ln.name} ({ln.sku})" for ln in self._order.lines if ln.line_id == line_id), line_id
        )
