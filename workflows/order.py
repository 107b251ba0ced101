"""The order workflow: one durable workflow per order, from risk check to delivery.

Deterministic: it decides, activities act. Every side effect is an activity keyed by order id +
step, so a replay or retry never repeats a reservation, a charge or an e-mail.

Customer-service actions are Temporal Updates: their validators answer at once (a refused
request leaves no trace in the history), and their handlers take the same lock as the main
lifecycle, so an action never interleaves with a half-done step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.email import EmailActivities
    from activities.fulfilment import FulfilmentActivities
    from activities.order_log import OrderLogActivities
    from activities.payments.activities import PaymentActivities
    from activities.planning import PlanningActivities
    from activities.pricing import PricingActivities
    from activities.risk import RiskActivities
    from activities.stock import StockActivities
    from core.models import (
        TERMINAL_STATUSES,
        ActionResult,
        CancelLinesRequest,
        CancelRequest,
        EmailRequest,
        ModifyRequest,
        OrderInput,
        OrderState,
        OrderStatus,
        PaymentNotice,
        PaymentResult,
        ProgressEvent,
        RerouteRequest,
        ReservationResult,
        ReviewDecision,
        RiskAssessment,
        RoutingResult,
        ShipmentEvent,
        ShipmentPlan,
    )
    from workflows.money import Money
    from workflows.search_attributes import ORDER_STATUS
    from workflows.shipment_book import ShipmentBook, lines_summary, merged_lines, reduce_lines

SHORT = {"start_to_close_timeout": timedelta(seconds=15),
         "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10))}
ROUTING = {"start_to_close_timeout": timedelta(seconds=30),
           "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10))}
EMAIL = {"start_to_close_timeout": timedelta(seconds=30),
         "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1))}
PRICING = {"start_to_close_timeout": timedelta(seconds=15),
           "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10),
                                       non_retryable_error_types=["InvalidOrder"])}
AUTHORISING = {"card", "wallet", "invoice"}


class OrderAborted(Exception):
    """The order ended early (cancelled, auto-cancelled); compensation already ran."""


@workflow.defn
class OrderWorkflow:
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

    # ---- what the outside world sees -------------------------------------------------------
    @workflow.query
    def state(self) -> OrderState:
        assert self._state is not None
        self._state.shipments = self._book.live()
        self._state.shipment_status = dict(self._book.status)
        return self._state

    @workflow.signal
    def shipment_event(self, event: ShipmentEvent) -> None:
        """Warehouse systems and carriers report progress; handled in order in ``run``."""
        self._inbox.append(event)

    @workflow.signal
    def reroute(self, request: RerouteRequest) -> None:
        """A location went offline or refused: move its unshipped shipments elsewhere."""
        self._reroutes.append(request)

    @workflow.signal
    def payment_received(self, notice: PaymentNotice) -> None:
        """Money arrived (bank transfer); the same payment id twice counts once."""
        if notice.payment_id not in self._payment_ids:
            self._payment_ids.add(notice.payment_id)
            self._payments.append(notice)

    # ---- the lifecycle -----------------------------------------------------------------------
    @workflow.run
    async def run(self, order: OrderInput) -> OrderState:
        self._order = order
        self._state = OrderState(order_id=order.order_id, status=OrderStatus.RECEIVED)
        with contextlib.suppress(OrderAborted):  # compensation ran; the state says why
            await self._lifecycle()
        if self._order.payment_method == "prepayment" and self._ended:
            await self._refund_late_payments()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _lifecycle(self) -> None:
        assert self._state is not None and self._order is not None
        async with self._step():
            order = self._order
            await workflow.execute_activity_method(OrderLogActivities.register_order, order,
                                                   **SHORT)
            await self._progress("placed", OrderStatus.RECEIVED,
                                 {"channel": order.channel, "total_cents": order.total_cents},
                                 actor=order.placed_by or "system")
            await self._set_status(OrderStatus.RISK_CHECK, "risk check")
            risk: RiskAssessment = await workflow.execute_activity_method(
                RiskActivities.assess_risk, order, **SHORT)
            await self._progress("risk_assessed", None, {
                "score": risk.score, "outcome": risk.outcome, "reasons": "; ".join(risk.reasons)})
            if risk.outcome == "reject":
                await self._end(OrderStatus.REJECTED, "risk check failed")
        if risk.outcome == "review":
            await self._hold_for_review(risk)
        if risk.outcome == "force_prepayment":
            async with self._step():
                await self._switch_to_prepayment(risk)

        async with self._step():
            await self._set_status(OrderStatus.RESERVING, "stock reservation")
            plan = await self._plan_and_reserve(self._order)
            if plan is None:
                await self._end(OrderStatus.FAILED, "items not in stock")
            assert plan is not None
            self._book.add(plan.shipments, "reserved")
            await self._progress("reserved", OrderStatus.CONFIRMED, {
                "shipments": len(plan.shipments), "strategy": plan.strategy,
                "optimal": plan.optimal,
                "locations": ",".join(s.location_id for s in plan.shipments)})
            await self._email("confirmation", "order_confirmation", self._order_summary())

        if self._order.payment_method == "prepayment":
            await self._await_prepayment()
        else:
            async with self._step():
                await self._authorise()

        async with self._step():
            await self._apply_reroutes()  # locations that failed before we released to them
            to_release = self._book.open()
            await self._release(to_release)
            self._released = True
            await self._progress("released", OrderStatus.IN_FULFILMENT,
                                 {"shipments": ",".join(s.shipment_id for s in to_release)})
        await self._fulfil()
        async with self._step():
            await self._settle()
            await self._progress("completed", OrderStatus.COMPLETED, {})
            self._state.waiting_for = ""

    @contextlib.asynccontextmanager
    async def _step(self) -> AsyncIterator[None]:
        """One step of the lifecycle, never interleaved with a customer-service action."""
        async with self._lock:
            if self._ended:
                raise OrderAborted()
            yield

    async def _wait(self, condition: Callable[[], bool],
                    timeout: timedelta | None = None) -> bool:
        """Wait outside the lock for ``condition`` (or the order's end); False on timeout."""
        try:
            await workflow.wait_condition(lambda: self._ended or condition(), timeout=timeout)
        except TimeoutError:
            return False
        if self._ended:
            raise OrderAborted()
        return True

    # ---- risk outcomes -----------------------------------------------------------------------
    async def _hold_for_review(self, risk: RiskAssessment) -> None:
        assert self._order is not None
        policy = self._order.policy.review
        async with self._step():
            await self._progress("held_for_review", OrderStatus.ON_HOLD,
                                 {"reasons": "; ".join(risk.reasons),
                                  "decide_by": (workflow.now() + policy.timeout).isoformat()})
            self._state_waiting("review decision by customer service")
        if not await self._wait(lambda: self._review is not None, policy.timeout):
            self._review = ReviewDecision(agent="policy", approve=policy.on_timeout == "approve",
                                          reason=f"no decision within {policy.timeout}")
        decision = self._review
        assert decision is not None
        async with self._step():
            await self._progress("review_decided", None, {
                "approved": decision.approve, "reason": decision.reason}, actor=decision.agent)
            if not decision.approve:
                await self._end(OrderStatus.REJECTED, "order not approved in review")

    async def _switch_to_prepayment(self, risk: RiskAssessment) -> None:
        assert self._order is not None
        previous = self._order.payment_method
        self._order = self._order.model_copy(update={"payment_method": "prepayment"})
        await self._progress("payment_method_changed", None,
                             {"from": previous, "to": "prepayment"}, snapshot=True)
        await self._email("payment_method_changed", "payment_method_changed",
                          {"previous_method": previous})

    # ---- payment -----------------------------------------------------------------------------
    async def _authorise(self) -> None:
        assert self._order is not None and self._state is not None
        order = self._order
        self._state.waiting_for = "payment authorisation"
        auth: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.authorise_payment,
            args=[order.order_id, order.total_cents, order.payment_method], **SHORT)
        if not auth.ok:
            await workflow.execute_activity_method(
                StockActivities.release_stock, order.order_id, **SHORT)
            await self._end(OrderStatus.CANCELLED, f"payment declined ({auth.reason})")
        self._money.authorisation_id = auth.transaction_id
        self._money.authorised = auth.amount_cents
        await self._progress("payment_authorised", OrderStatus.PAYMENT_AUTHORISED,
                             {"transaction_id": auth.transaction_id,
                              "amount_cents": auth.amount_cents})

    async def _await_prepayment(self) -> None:
        """Instructions at once, reminders on the policy's days, auto-cancel at the deadline."""
        assert self._order is not None
        policy = self._order.policy.payment
        start = workflow.now()
        async with self._step():
            await self._progress("awaiting_payment", OrderStatus.AWAITING_PAYMENT, {
                "amount_cents": self._order.total_cents,
                "deadline": (start + policy.prepayment_deadline).isoformat()})
            self._state_waiting("payment by bank transfer")
            await self._email("payment_instructions", "payment_instructions",
                              self._bank_details(start + policy.prepayment_deadline))
        for n, offset in enumerate(policy.prepayment_reminders, start=1):
            if await self._paid_by(start + offset):
                return
            async with self._step():
                await self._progress(f"payment_reminder_{n}", None, {"reminder": n})
                await self._email(f"payment_reminder_{n}", "payment_reminder", {
                    "reminder": n, **self._bank_details(start + policy.prepayment_deadline)})
        if await self._paid_by(start + policy.prepayment_deadline):
            return
        async with self._step():
            await self._cancel_everything(
                f"payment not received by {(start + policy.prepayment_deadline).date()}",
                actor="policy")
        raise OrderAborted()

    async def _paid_by(self, until: datetime) -> bool:
        """Book payments as they come until the order is paid in full or ``until`` passes."""
        assert self._order is not None
        while True:
            async with self._step():
                await self._book_payments()
                if self._money.held >= self._order.total_cents:
                    await self._progress("paid", OrderStatus.PAYMENT_AUTHORISED,
                                         {"received_cents": self._money.received})
                    return True
            left = until - workflow.now()
            if left <= timedelta(0) or not await self._wait(lambda: bool(self._payments), left):
                async with self._step():
                    await self._book_payments()  # money that came with the deadline counts
                    if self._money.held >= self._order.total_cents:
                        await self._progress("paid", OrderStatus.PAYMENT_AUTHORISED,
                                             {"received_cents": self._money.received})
                        return True
                return False

    async def _book_payments(self) -> None:
        """Record incoming money; after a cancellation every euro goes straight back."""
        assert self._order is not None
        while self._payments:
            notice = self._payments.pop(0)
            booked: PaymentResult = await workflow.execute_activity_method(
                PaymentActivities.record_incoming_payment,
                args=[self._order.order_id, notice.payment_id, notice.amount_cents,
                      notice.reference], **SHORT)
            self._money.received += notice.amount_cents
            await self._progress(f"payment_received_{notice.payment_id}", None, {
                "payment_id": notice.payment_id, "amount_cents": notice.amount_cents,
                "transaction_id": booked.transaction_id})
            if self._ended:
                await self._refund(notice.amount_cents, f"refund:late:{notice.payment_id}",
                                   "payment arrived after the order was cancelled")
            elif self._money.held > self._order.total_cents:
                await self._progress(f"overpayment_flagged_{notice.payment_id}", None, {
                    "received_cents": self._money.held,
                    "expected_cents": self._order.total_cents})

    async def _refund_late_payments(self) -> None:
        """After a cancellation, money may still arrive: refund it, for the policy's window."""
        assert self._order is not None
        window = self._order.policy.payment.late_payment_window
        end = workflow.now() + window
        while (left := end - workflow.now()) > timedelta(0):
            try:
                await workflow.wait_condition(lambda: bool(self._payments), timeout=left)
            except TimeoutError:
                return
            async with self._lock:
                await self._book_payments()

    async def _refund(self, amount: int, step: str, reason: str) -> None:
        assert self._order is not None
        if amount <= 0:
            return
        refund: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.refund_payment,
            args=[self._order.order_id, amount, self._money.authorisation_id or None, step],
            **SHORT)
        self._money.refunded += amount
        await self._progress(step.replace(":", "_"), None, {
            "amount_cents": amount, "reason": reason, "transaction_id": refund.transaction_id})
        await self._email(step, "refund_issued", {"amount_cents": amount, "reason": reason})

    async def _void(self, amount: int, step: str) -> None:
        assert self._order is not None
        if amount <= 0 or not self._money.authorisation_id:
            return
        await workflow.execute_activity_method(
            PaymentActivities.void_payment,
            args=[self._order.order_id, self._money.authorisation_id, amount, step], **SHORT)
        self._money.voided += amount

    async def _give_back(self, amount: int, step: str, reason: str) -> tuple[int, int]:
        """Void what is only authorised, refund what was paid; returns (voided, refunded)."""
        voided = min(amount, self._money.open_authorisation)
        await self._void(voided, f"void:{step}")
        refunded = min(amount - voided, self._money.held) if self._money.held else 0
        await self._refund(refunded, f"refund:{step}", reason)
        return voided, refunded

    async def _settle(self) -> None:
        """At the end: nothing stays authorised that was not captured, no surplus is kept."""
        assert self._order is not None
        await self._void(self._money.open_authorisation, "void:final")
        owed = self._order.total_cents if self._order.payment_method == "prepayment" else 0
        await self._refund(self._money.held - owed, "refund:surplus",
                           "you paid more than the order came to")

    # ---- stock, release, fulfilment ----------------------------------------------------------
    async def _plan_and_reserve(self, order: OrderInput) -> RoutingResult | None:
        """Plan, then reserve exactly the plan; a lost race re-plans on fresh stock."""
        for attempt in range(order.policy.reservation_attempts):
            plan: RoutingResult = await workflow.execute_activity_method(
                PlanningActivities.plan_route,
                args=[order, sorted(self._book.excluded_locations)], **ROUTING)
            if plan.uncovered or not plan.shipments:
                return None
            shipments = self._book.numbered(order.order_id, plan.shipments)
            result: ReservationResult = await workflow.execute_activity_method(
                StockActivities.reserve_stock, args=[order.order_id, shipments], **SHORT)
            if result.ok:
                return plan.model_copy(update={"shipments": shipments})
            await self._progress(
                f"reservation_race_{len(self._book.plans)}_{self._reroute_no}_{attempt}", None,
                {"conflicts": ",".join(result.conflicts)})
        return None

    async def _release(self, shipments: list[ShipmentPlan]) -> None:
        assert self._order is not None
        await asyncio.gather(*(
            workflow.execute_activity_method(FulfilmentActivities.release_shipment,
                                             args=[self._order.order_id, s], **SHORT)
            for s in shipments))
        for s in shipments:
            self._book.status[s.shipment_id] = "released"

    async def _fulfil(self) -> None:
        """Handle shipment events, re-routes and payments until every parcel arrived."""
        assert self._state is not None and self._order is not None
        book = self._book
        while not book.all_done():
            self._state.waiting_for = "shipment events"
            await self._wait(lambda: bool(self._inbox or self._reroutes or self._payments))
            async with self._step():
                await self._book_payments()
                await self._apply_reroutes()
                if self._inbox:
                    await self._on_event(self._inbox.pop(0))

    async def _on_event(self, event: ShipmentEvent) -> None:
        assert self._order is not None
        book = self._book
        shipment = book.plans.get(event.shipment_id)
        if shipment is None:
            return
        if event.kind == "rejected":
            if book.status[shipment.shipment_id] in ("released", "accepted"):
                self._reroutes.append(RerouteRequest(
                    location_id=shipment.location_id, shipment_ids=[shipment.shipment_id],
                    reason=f"rejected by location: {event.reason or 'no reason given'}"))
                await self._apply_reroutes()
            return
        if not book.advances(shipment.shipment_id, event.kind):
            return
        if event.kind == "delivered" and book.status[shipment.shipment_id] != "shipped":
            # The carrier's scan came first: the parcel evidently left, so settle that too.
            await self._on_shipped(shipment, event.model_copy(update={"kind": "shipped"}))
        if event.kind == "shipped":
            await self._on_shipped(shipment, event)
            return
        await workflow.execute_activity_method(
            FulfilmentActivities.record_shipment_event, args=[self._order.order_id, event],
            **SHORT)
        book.status[shipment.shipment_id] = event.kind
        if event.kind == "delivered":
            await self._progress(f"delivered_{shipment.shipment_id}", None,
                                 {"shipment_id": shipment.shipment_id})

    async def _on_shipped(self, shipment: ShipmentPlan, event: ShipmentEvent) -> None:
        """Consume stock, capture this parcel's money, tell the customer how to track it."""
        assert self._state is not None and self._order is not None
        order = self._order
        first_to_ship = self._book.none_shipped()
        tracking_url: str = await workflow.execute_activity_method(
            FulfilmentActivities.record_shipment_event, args=[order.order_id, event], **SHORT)
        self._book.status[shipment.shipment_id] = "shipped"
        self._state.tracking[shipment.shipment_id] = tracking_url
        detail: dict[str, str | int | float | bool | None] = {
            "shipment_id": shipment.shipment_id, "tracking_number": event.tracking_number}
        if order.payment_method in AUTHORISING:
            # Goods are captured per parcel; the shipping fee with the first parcel that ships.
            amount = shipment.goods_cents + (order.shipping_cents if first_to_ship else 0)
            capture: PaymentResult = await workflow.execute_activity_method(
                PaymentActivities.capture_payment,
                args=[order.order_id, shipment.shipment_id, self._money.authorisation_id,
                      amount], **SHORT)
            if capture.ok:
                self._money.captured += amount
            detail |= {"captured_cents": capture.amount_cents if capture.ok else 0,
                       "capture_ok": capture.ok}
        await self._progress(
            f"shipped_{shipment.shipment_id}",
            OrderStatus.SHIPPED if self._book.all_shipped() else OrderStatus.PARTIALLY_SHIPPED,
            detail)
        await self._email(f"shipped:{shipment.shipment_id}", "shipment_shipped", {
            "carrier": event.carrier or shipment.carrier,
            "tracking_number": event.tracking_number or "",
            "tracking_url": tracking_url,
            "lines": [ln.model_dump() for ln in shipment.lines]})

    # ---- re-routing --------------------------------------------------------------------------
    async def _apply_reroutes(self) -> None:
        while self._reroutes:
            request = self._reroutes.pop(0)
            self._book.excluded_locations.add(request.location_id)
            moving = self._book.open_at(request.location_id, request.shipment_ids)
            if moving:
                await self._reroute(moving, request)

    async def _reroute(self, moving: list[ShipmentPlan], request: RerouteRequest) -> None:
        """Withdraw the shipments, re-plan their lines elsewhere, reserve, release if due."""
        assert self._order is not None
        order = self._order
        self._reroute_no += 1
        step = f"reroute_{self._reroute_no}"
        old_promise = self._book.latest_promise()
        for s in moving:
            await workflow.execute_activity_method(
                FulfilmentActivities.withdraw_shipment,
                args=[order.order_id, s.shipment_id, request.reason], **SHORT)
            self._book.status[s.shipment_id] = "rerouted"
        quantities = merged_lines(moving)
        part = order.model_copy(update={"lines": [
            ln.model_copy(update={"quantity": quantities[ln.line_id]})
            for ln in order.lines if ln.line_id in quantities]})
        plan = await self._plan_and_reserve(part)
        if plan is None:
            await self._cancel_everything(
                f"could not re-route from {request.location_id}: not in stock", actor="system")
            raise OrderAborted()
        new = self._book.add(plan.shipments, "reserved")
        if self._released:
            await self._release(new)
        await self._progress(step, None, {
            "from": request.location_id, "reason": request.reason,
            "moved": ",".join(s.shipment_id for s in moving),
            "to": ",".join(f"{s.shipment_id}@{s.location_id}" for s in new)})
        new_promise = self._book.latest_promise()
        if new_promise > old_promise:
            await self._email(step, "delivery_update", {
                "old_promise": old_promise, "new_promise": new_promise,
                "lines": lines_summary([ln for s in new for ln in s.lines])})

    # ---- customer-service actions (Updates) --------------------------------------------------
    @workflow.update
    async def cancel(self, request: CancelRequest) -> ActionResult:
        async with self._lock:
            self._refuse_if(self._cancel_problem())
            voided, refunded = await self._cancel_everything(
                request.reason or "cancelled by customer service", actor=request.agent)
        return self._result("order cancelled", voided=voided, refunded=refunded)

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        self._refuse_if(self._cancel_problem())

    def _cancel_problem(self) -> str:
        if problem := self._closed_problem():
            return problem
        if shipped := self._book.shipped():
            return (f"already shipped: {', '.join(s.shipment_id for s in shipped)}; cancel "
                    "the unshipped lines instead, or start a return")
        return ""

    @workflow.update
    async def cancel_lines(self, request: CancelLinesRequest) -> ActionResult:
        assert self._order is not None
        async with self._lock:
            self._refuse_if(self._cancel_lines_problem(request))
            cancel = {ln.line_id: ln.quantity for ln in request.lines}
            if cancel == self._book.cancellable() and self._book.none_shipped():
                voided, refunded = await self._cancel_everything(
                    request.reason or "all lines cancelled", actor=request.agent)
                return self._result("order cancelled", voided=voided, refunded=refunded)
            self._action_no += 1
            step = f"lines_cancelled_{self._action_no}"
            prices = {ln.line_id: ln.unit_price_cents for ln in self._order.lines}
            for line_id, quantity in cancel.items():
                for changed in self._book.take_out(line_id, quantity, prices):
                    await workflow.execute_activity_method(
                        FulfilmentActivities.resize_shipment,
                        args=[self._order.order_id, changed], **SHORT)
            amount = sum(prices[lid] * q for lid, q in cancel.items())
            self._order = self._order.model_copy(update={
                "lines": reduce_lines(self._order.lines, cancel)})
            voided, refunded = await self._give_back(amount, step, "lines cancelled")
            await self._progress(step, None, {
                "lines": ", ".join(f"{q}x{lid}" for lid, q in cancel.items()),
                "amount_cents": amount, "voided_cents": voided, "refunded_cents": refunded,
                "reason": request.reason}, actor=request.agent, snapshot=True)
            await self._email(step, "lines_cancelled", {
                "lines": ", ".join(f"{q} x {self._line_name(lid)}" for lid, q in cancel.items()),
                "amount_cents": amount, "total_cents": self._order.total_cents})
        return self._result(f"{len(cancel)} line(s) cancelled", voided=voided, refunded=refunded)

    @cancel_lines.validator
    def _validate_cancel_lines(self, request: CancelLinesRequest) -> None:
        self._refuse_if(self._cancel_lines_problem(request))

    def _cancel_lines_problem(self, request: CancelLinesRequest) -> str:
        if problem := self._closed_problem():
            return problem
        if not self._book.plans:
            return "the order is not routed yet: modify it, or cancel it"
        cancellable = self._book.cancellable()
        seen: set[str] = set()
        for ln in request.lines:
            if ln.line_id in seen:
                return f"line {ln.line_id} named twice"
            seen.add(ln.line_id)
            left = cancellable.get(ln.line_id, 0)
            if ln.quantity > left:
                return (f"line {ln.line_id}: only {left} unshipped unit(s) can be cancelled, "
                        f"not {ln.quantity}")
        return ""

    @workflow.update
    async def modify(self, request: ModifyRequest) -> ActionResult:
        assert self._order is not None
        async with self._lock:
            self._refuse_if(self._modify_problem(request))
            old = self._order
            new: OrderInput = await workflow.execute_activity_method(
                PricingActivities.reprice_modification, args=[old, request], **PRICING)
            self._action_no += 1
            step = f"modified_{self._action_no}"
            replacement_auth = await self._reauthorise(new, step)
            if self._book.plans:
                await self._replan(old, new, step, replacement_auth)
            if replacement_auth is not None:
                await self._void(self._money.open_authorisation, f"void:{step}")
                self._money = Money(authorisation_id=replacement_auth.transaction_id,
                                    authorised=replacement_auth.amount_cents,
                                    received=self._money.received,
                                    refunded=self._money.refunded)
            self._order = new
            await self._progress(step, None, {
                "total_cents": new.total_cents, "previous_total_cents": old.total_cents,
                "reason": request.reason}, actor=request.agent, snapshot=True)
            await self._email(step, "order_modified", self._order_summary())
        return self._result("order modified")

    async def _reauthorise(self, new: OrderInput, step: str) -> PaymentResult | None:
        """A new total on an authorised card: authorise it before anything else changes."""
        if not self._money.authorisation_id or new.total_cents == self._money.authorised:
            return None
        auth: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.authorise_payment,
            args=[new.order_id, new.total_cents, new.payment_method, f"authorise:{step}"],
            **SHORT)
        if not auth.ok:
            raise ApplicationError(f"payment declined for the new total ({auth.reason}); "
                                   "order unchanged")
        return auth

    async def _replan(self, old: OrderInput, new: OrderInput, step: str,
                      replacement_auth: PaymentResult | None) -> None:
        """Give up the old reservation, route and reserve the new order; if the stock is not
        there, put the old order back as it was."""
        for s in self._book.open():
            await workflow.execute_activity_method(
                FulfilmentActivities.withdraw_shipment,
                args=[old.order_id, s.shipment_id, f"replaced by {step}", "cancelled"], **SHORT)
            self._book.status[s.shipment_id] = "cancelled"
        plan = await self._plan_and_reserve(new)
        if plan is not None:
            self._book.add(plan.shipments, "reserved")
            return
        if replacement_auth is not None:
            await workflow.execute_activity_method(
                PaymentActivities.void_payment,
                args=[old.order_id, replacement_auth.transaction_id,
                      replacement_auth.amount_cents, f"void:{step}:declined"], **SHORT)
        restored = await self._plan_and_reserve(old)
        if restored is None:
            await self._cancel_everything("stock vanished while the order was being changed",
                                          actor="system")
            raise ApplicationError("order could not be restored and was cancelled")
        self._book.add(restored.shipments, "reserved")
        raise ApplicationError("not enough stock for the change; order unchanged")

    @modify.validator
    def _validate_modify(self, request: ModifyRequest) -> None:
        self._refuse_if(self._modify_problem(request))

    def _modify_problem(self, request: ModifyRequest) -> str:
        if problem := self._closed_problem():
            return problem
        if self._released or self._book.any_released():
            return "already released to fulfilment: changes are no longer possible"
        if (request.delivery_address, request.shipping_speed, request.lines) == (None,) * 3:
            return "nothing to change"
        return ""

    @workflow.update
    async def decide_review(self, decision: ReviewDecision) -> ActionResult:
        self._refuse_if(self._review_problem())
        self._review = decision
        return self._result("approved" if decision.approve else "rejected")

    @decide_review.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        self._refuse_if(self._review_problem())

    def _review_problem(self) -> str:
        assert self._state is not None
        if self._state.status != OrderStatus.ON_HOLD or self._review is not None:
            return f"the order is not waiting for a review (status {self._state.status})"
        return ""

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
        return ActionResult(message=message, status=self._state.status.value,
                            total_cents=self._order.total_cents, voided_cents=voided,
                            refunded_cents=refunded)

    # ---- endings -----------------------------------------------------------------------------
    async def _cancel_everything(self, reason: str, actor: str) -> tuple[int, int]:
        """Saga compensation: withdraw what is unshipped, free the stock, give the money back,
        tell the customer. Ends the order."""
        assert self._order is not None
        order = self._order
        for s in self._book.open():
            await workflow.execute_activity_method(
                FulfilmentActivities.withdraw_shipment,
                args=[order.order_id, s.shipment_id, reason, "cancelled"], **SHORT)
            self._book.status[s.shipment_id] = "cancelled"
        await workflow.execute_activity_method(StockActivities.release_stock, order.order_id,
                                               **SHORT)
        voided = self._money.open_authorisation
        await self._void(voided, "void")
        refunded = self._money.held
        await self._refund(refunded, "refund:cancel", reason)
        await self._progress("cancelled", OrderStatus.CANCELLED, {"reason": reason},
                             actor=actor)
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

    # ---- helpers -----------------------------------------------------------------------------
    def _state_waiting(self, what: str) -> None:
        assert self._state is not None
        self._state.waiting_for = what

    async def _set_status(self, status: OrderStatus, waiting_for: str) -> None:
        assert self._state is not None
        self._state.status = status
        self._state.waiting_for = waiting_for
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])

    async def _progress(self, step: str, status: OrderStatus | None,
                        detail: dict[str, str | int | float | bool | None],
                        actor: str = "system", snapshot: bool = False) -> None:
        """Record one step in the event log (and move the status), exactly once per step."""
        assert self._order is not None and self._state is not None
        if status is not None and status != self._state.status:
            await self._set_status(status, self._state.waiting_for)
        await workflow.execute_activity_method(
            OrderLogActivities.record_progress,
            ProgressEvent(order_id=self._order.order_id, key=f"{self._order.order_id}:{step}",
                          type=step, status=status, detail=detail, actor=actor,
                          at=workflow.now(), snapshot=self._order if snapshot else None),
            **SHORT)

    async def _email(self, step: str, template: str, context: dict[str, object]) -> None:
        assert self._order is not None
        order = self._order
        await workflow.execute_activity_method(
            EmailActivities.send_email,
            EmailRequest(key=f"{order.order_id}:{step}", order_id=order.order_id,
                         to=str(order.customer.email), template=template,
                         locale=order.customer.locale,
                         context={"order_id": order.order_id,
                                  "customer_name": order.customer.name, **context}),
            **EMAIL)

    def _order_summary(self) -> dict[str, object]:
        assert self._order is not None
        order = self._order
        return {
            "lines": [{"sku": ln.sku, "name": ln.name, "quantity": ln.quantity,
                       "total_cents": ln.total_cents} for ln in order.lines],
            "shipping_cents": order.shipping_cents, "total_cents": order.total_cents,
            "address": ", ".join([order.delivery_address.name, order.delivery_address.street,
                                  f"{order.delivery_address.postcode} "
                                  f"{order.delivery_address.city}"]),
            "promised_delivery": self._book.latest_promise()}

    def _bank_details(self, deadline: datetime) -> dict[str, object]:
        assert self._order is not None
        policy = self._order.policy.payment
        return {"amount_cents": self._order.total_cents - self._money.held,
                "holder": policy.bank_account_holder, "iban": policy.bank_iban,
                "bic": policy.bank_bic, "reference": self._order.order_id,
                "deadline": deadline.date().isoformat()}

    def _line_name(self, line_id: str) -> str:
        assert self._order is not None
        return next((f"{ln.name} ({ln.sku})" for ln in self._order.lines
                     if ln.line_id == line_id), line_id)
