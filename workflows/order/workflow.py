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

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.order.base import (
    AUTHORISING,
    LOCAL_ACTIVITIES,
    OPS_VIEW,
    PRICING,
    SHORT,
    OrderAborted,
)
from workflows.order.fulfilment import FulfilmentSteps
from workflows.order.payment import PaymentSteps

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.fulfilment.activities import FulfilmentActivities
    from activities.orders.activities import OrderLogActivities, PricingActivities, RiskActivities
    from activities.payments.activities import PaymentActivities
    from core.domain.commands import (
        ActionResult,
        CancelLinesRequest,
        CancelRequest,
        ModifyRequest,
        PickupConfirmation,
        ReviewDecision,
    )
    from core.domain.money import Money
    from core.domain.orders import OrderInput, OrderState, OrderStatus, RiskAssessment
    from core.domain.payments import PaymentNotice, PaymentResult
    from core.domain.shipment_book import reduce_lines
    from core.domain.shipments import RerouteRequest, ShipmentEvent
    from workflows.search_attributes import RISK_OUTCOME


@workflow.defn
class OrderWorkflow(FulfilmentSteps, PaymentSteps):
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

    @workflow.run
    async def run(self, order: OrderInput) -> OrderState:
        self._order = order
        self._state = OrderState(order_id=order.order_id, status=OrderStatus.RECEIVED)
        self._local = workflow.patched(LOCAL_ACTIVITIES)
        self._ops_view = workflow.patched(OPS_VIEW)
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
            await self._db(OrderLogActivities.register_order, order, **SHORT)
            await self._progress(
                "placed",
                OrderStatus.RECEIVED,
                {"channel": order.channel, "total_cents": order.total_cents},
                actor=order.placed_by or "system",
            )
            await self._set_status(OrderStatus.RISK_CHECK, "risk check")
            risk: RiskAssessment = await self._db(RiskActivities.assess_risk, order, **SHORT)
            await self._progress(
                "risk_assessed",
                None,
                {"score": risk.score, "outcome": risk.outcome, "reasons": "; ".join(risk.reasons)},
            )
            if self._ops_view:
                workflow.upsert_search_attributes([RISK_OUTCOME.value_set(risk.outcome)])
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
            self._mark()
            await self._progress(
                "reserved",
                OrderStatus.CONFIRMED,
                {
                    "shipments": len(plan.shipments),
                    "strategy": plan.strategy,
                    "optimal": plan.optimal,
                    "locations": ",".join(s.location_id for s in plan.shipments),
                },
            )
            # Fast path: a card order is confirmed once the money is authorised, while its
            # shipments are released; orders that wait (prepayment) are confirmed at once.
            confirm_later = self._local and self._order.payment_method in AUTHORISING
            if not confirm_later:
                await self._email("confirmation", "order_confirmation", self._order_summary())

        if self._order.payment_method == "prepayment":
            await self._await_prepayment()
        elif self._order.payment_method == "cash_on_pickup":
            pass  # reserve & collect: paid in the store when the customer picks it up
        else:
            async with self._step():
                await self._authorise()

        async with self._step():
            await self._apply_reroutes()  # locations that failed before we released to them
            self._book.shift_promises(workflow.now())  # waited for money or a review
            to_release = self._book.open()
            if confirm_later:
                await asyncio.gather(
                    self._release(to_release),
                    self._email("confirmation", "order_confirmation", self._order_summary()),
                )
            else:
                await self._release(to_release)
            self._released = True
            await self._progress(
                "released",
                OrderStatus.IN_FULFILMENT,
                {"shipments": ",".join(s.shipment_id for s in to_release)},
            )
        await self._fulfil()
        async with self._step():
            await self._settle()
            await self._progress("completed", OrderStatus.COMPLETED, {})
            self._state.waiting_for = ""

    @workflow.update
    async def cancel(self, request: CancelRequest) -> ActionResult:
        async with self._lock:
            self._refuse_if(self._cancel_problem())
            voided, refunded = await self._cancel_everything(
                request.reason or "cancelled by customer service", actor=request.agent
            )
        return self._result("order cancelled", voided=voided, refunded=refunded)

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        self._refuse_if(self._cancel_problem())

    def _cancel_problem(self) -> str:
        if problem := self._closed_problem():
            return problem
        if shipped := self._book.shipped():
            return (
                f"already shipped: {', '.join(s.shipment_id for s in shipped)}; cancel "
                "the unshipped lines instead, or start a return"
            )
        return ""

    @workflow.update
    async def cancel_lines(self, request: CancelLinesRequest) -> ActionResult:
        assert self._order is not None
        async with self._lock:
            self._refuse_if(self._cancel_lines_problem(request))
            cancel = {ln.line_id: ln.quantity for ln in request.lines}
            if cancel == self._book.cancellable() and self._book.none_shipped():
                voided, refunded = await self._cancel_everything(
                    request.reason or "all lines cancelled", actor=request.agent
                )
                return self._result("order cancelled", voided=voided, refunded=refunded)
            self._action_no += 1
            step = f"lines_cancelled_{self._action_no}"
            prices = {ln.line_id: ln.unit_price_cents for ln in self._order.lines}
            for line_id, quantity in cancel.items():
                for changed in self._book.take_out(line_id, quantity, prices):
                    await self._db(
                        FulfilmentActivities.resize_shipment,
                        args=[self._order.order_id, changed],
                        **SHORT,
                    )
            amount = sum(prices[lid] * q for lid, q in cancel.items())
            self._order = self._order.model_copy(
                update={"lines": reduce_lines(self._order.lines, cancel)}
            )
            voided, refunded = await self._give_back(amount, step, "lines cancelled")
            self._mark()
            await self._progress(
                step,
                None,
                {
                    "lines": ", ".join(f"{q}x{lid}" for lid, q in cancel.items()),
                    "amount_cents": amount,
                    "voided_cents": voided,
                    "refunded_cents": refunded,
                    "reason": request.reason,
                },
                actor=request.agent,
                snapshot=True,
            )
            await self._email(
                step,
                "lines_cancelled",
                {
                    "lines": ", ".join(
                        f"{q} x {self._line_name(lid)}" for lid, q in cancel.items()
                    ),
                    "amount_cents": amount,
                    "total_cents": self._order.total_cents,
                },
            )
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
                return (
                    f"line {ln.line_id}: only {left} unshipped unit(s) can be cancelled, "
                    f"not {ln.quantity}"
                )
        return ""

    @workflow.update
    async def modify(self, request: ModifyRequest) -> ActionResult:
        assert self._order is not None
        async with self._lock:
            self._refuse_if(self._modify_problem(request))
            old = self._order
            new: OrderInput = await self._db(
                PricingActivities.reprice_modification, args=[old, request], **PRICING
            )
            self._action_no += 1
            step = f"modified_{self._action_no}"
            replacement_auth = await self._reauthorise(new, step)
            if self._book.plans:
                await self._replan(old, new, step, replacement_auth)
            if replacement_auth is not None:
                await self._void(self._money.open_authorisation, f"void:{step}")
                self._money = Money(
                    authorisation_id=replacement_auth.transaction_id,
                    authorised=replacement_auth.amount_cents,
                    received=self._money.received,
                    refunded_bank=self._money.refunded_bank,
                )
            self._order = new
            self._mark()
            await self._progress(
                step,
                None,
                {
                    "total_cents": new.total_cents,
                    "previous_total_cents": old.total_cents,
                    "reason": request.reason,
                },
                actor=request.agent,
                snapshot=True,
            )
            await self._email(step, "order_modified", self._order_summary())
        return self._result("order modified")

    async def _reauthorise(self, new: OrderInput, step: str) -> PaymentResult | None:
        """A new total on an authorised card: authorise it before anything else changes."""
        if not self._money.authorisation_id or new.total_cents == self._money.authorised:
            return None
        auth: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.authorise_payment,
            args=[new.order_id, new.total_cents, new.payment_method, f"authorise:{step}"],
            **SHORT,
        )
        if not auth.ok:
            raise ApplicationError(
                f"payment declined for the new total ({auth.reason}); order unchanged"
            )
        return auth

    async def _replan(
        self, old: OrderInput, new: OrderInput, step: str, replacement_auth: PaymentResult | None
    ) -> None:
        """Give up the old reservation, route and reserve the new order; if the stock is not
        there, put the old order back as it was."""
        for s in self._book.open():
            await self._db(
                FulfilmentActivities.withdraw_shipment,
                args=[old.order_id, s.shipment_id, f"replaced by {step}", "cancelled"],
                **SHORT,
            )
            self._book.status[s.shipment_id] = "cancelled"
        plan = await self._plan_and_reserve(new)
        if plan is not None:
            self._book.add(plan.shipments, "reserved")
            return
        if replacement_auth is not None:
            await workflow.execute_activity_method(
                PaymentActivities.void_payment,
                args=[
                    old.order_id,
                    replacement_auth.transaction_id,
                    replacement_auth.amount_cents,
                    f"void:{step}:declined",
                ],
                **SHORT,
            )
        restored = await self._plan_and_reserve(old)
        if restored is None:
            await self._cancel_everything(
                "stock vanished while the order was being changed", actor="system"
            )
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
    async def confirm_pickup(self, confirmation: PickupConfirmation) -> ActionResult:
        """Store staff hand the order over; the code proves it is the customer."""
        async with self._lock:
            self._refuse_if(self._pickup_problem(confirmation))
            await self._hand_over(confirmation.staff)
        return self._result("handed over")

    @confirm_pickup.validator
    def _validate_pickup(self, confirmation: PickupConfirmation) -> None:
        self._refuse_if(self._pickup_problem(confirmation))

    def _pickup_problem(self, confirmation: PickupConfirmation) -> str:
        assert self._order is not None
        if problem := self._closed_problem():
            return problem
        if self._order.pickup_store_id != confirmation.location_id:
            return "this order is not picked up at this store"
        if self._pickup is None:
            return "the order is not ready for pickup yet"
        if confirmation.code != self._pickup.code:
            return "wrong pickup code"
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
