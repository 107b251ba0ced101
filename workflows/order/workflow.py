"""The order workflow: one durable workflow per order, from risk check to delivery.

The lifecycle reads top to bottom in ``run``: register, risk check (and review), reserve,
confirm, pay, release, fulfil, settle. Its parts own their activity calls: ``Journal`` (event
log, status, search attributes, e-mails), ``Payments``, ``Shipments``, ``Pickup``; they share
one state object, ``OrderRun``. Deterministic: the workflow decides, activities act, each
keyed by order id + step, so a replay or retry never repeats a reservation, a charge or an
e-mail.

Customer-service actions are Temporal Updates: their validators answer at once with the rules
of ``core.rules.refusals`` (a refused request leaves no trace in the history), and their
handlers take the same lock as the lifecycle, so an action never interleaves with a half-done
step.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.order.backorder import Backorder
from workflows.order.journal import Detail, Journal
from workflows.order.options import PRICING, SHORT
from workflows.order.patches import (
    BACKORDERS,
    DECLINE_WITHDRAWS,
    HANDOVER_ENDS_WAIT,
    LOCAL_ACTIVITIES,
    MONITORING,
    OPS_VIEW,
    RELEASE_HOLD,
)
from workflows.order.payments import Payments
from workflows.order.pickup import Pickup
from workflows.order.shipments import Shipments
from workflows.order.state import OrderAborted, OrderRun

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.fulfilment.activities import OpsCaseActivities
    from activities.orders.activities import (
        OrderLogActivities,
        PricingActivities,
        RiskActivities,
    )
    from activities.stock.activities import StockActivities
    from core.domain.commands import (
        ActionResult,
        CancelLinesRequest,
        CancelRequest,
        ModifyRequest,
        PickupConfirmation,
        ReleaseNowRequest,
        ReviewDecision,
    )
    from core.domain.orders import OrderInput, OrderState, OrderStatus, RiskAssessment
    from core.domain.payments import AUTHORISING, PaymentNotice
    from core.domain.reasons import ReasonCode
    from core.domain.shipment_book import reduce_lines
    from core.domain.shipments import (
        MOVING,
        RerouteRequest,
        RoutingResult,
        ShipmentEvent,
        ShipmentStatus,
    )
    from core.rules import refusals
    from workflows.search_attributes import RISK_OUTCOME


@workflow.defn
class OrderWorkflow:
    @workflow.init
    def __init__(self, order: OrderInput) -> None:
        self._run = run = OrderRun(order)
        self.journal = Journal(run)
        self.payments = Payments(run, self.journal)
        self.shipments = Shipments(run, self.journal, self.payments, self._cancel_everything)
        self.pickup = Pickup(run, self.journal, self.payments, self._cancel_everything)
        self.backorder = Backorder(run, self.journal, self.shipments, self._end)

    # ---- the lifecycle -----------------------------------------------------------------------
    @workflow.run
    async def run(self, order: OrderInput) -> OrderState:
        self._run.local = workflow.patched(LOCAL_ACTIVITIES)
        self._run.ops_view = workflow.patched(OPS_VIEW)
        with contextlib.suppress(OrderAborted):  # compensation ran; the state says why
            await self._lifecycle()
        if self._run.order.payment_method == "prepayment" and self._run.ended:
            await self.payments.refund_late_payments()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _lifecycle(self) -> None:
        run, journal = self._run, self.journal
        async with run.step():
            order = run.order
            if workflow.patched(RELEASE_HOLD):
                hold = order.policy.release.hold_for(order.channel, order.payment_method)
                if hold:
                    run.state.hold_until = order.placed_at + hold
            await run.db(OrderLogActivities.register_order, order, **SHORT)
            placed: Detail = {"channel": order.channel, "total_cents": order.total_cents}
            if run.state.hold_until is not None:
                placed["hold_until"] = run.state.hold_until.isoformat()
            await journal.progress(
                "placed", OrderStatus.RECEIVED, placed, actor=order.placed_by or "system"
            )
            journal.set_status(OrderStatus.RISK_CHECK, "risk check")
            risk: RiskAssessment = await run.db(RiskActivities.assess_risk, order, **SHORT)
            await journal.progress(
                "risk_assessed",
                None,
                {"score": risk.score, "outcome": risk.outcome, "reasons": "; ".join(risk.reasons)},
            )
            if run.ops_view:
                workflow.upsert_search_attributes([RISK_OUTCOME.value_set(risk.outcome)])
            if risk.outcome == "reject":
                await self._end(OrderStatus.REJECTED, "risk check failed", ReasonCode.RISK_REJECTED)
        if risk.outcome == "review":
            await self._hold_for_review(risk)
        if risk.outcome == "force_prepayment":
            async with run.step():
                await self.payments.switch_to_prepayment()

        # Fast path: a card order is confirmed once the money is authorised, while its
        # shipments are released; orders that wait (prepayment) are confirmed at once.
        confirm_later = run.local and run.order.payment_method in AUTHORISING
        async with run.step():
            journal.set_status(OrderStatus.RESERVING, "stock reservation")
            plan = await self.shipments.plan_and_reserve(run.order)
            if plan is None:
                if not self._backorders():
                    await self._end(
                        OrderStatus.FAILED, "items not in stock", ReasonCode.OUT_OF_STOCK
                    )
                await self.backorder.start()
            else:
                await self._reserved(plan, confirm_later)
        if plan is None:  # a backorder: it waits for stock (or ends at its deadline)
            plan = await self.backorder.await_stock()
            async with run.step():
                await self._reserved(plan, confirm_later)

        if run.order.payment_method == "prepayment":
            missed = await self.payments.await_prepayment()
            if missed is not None:
                async with run.step():
                    await self._cancel_everything(
                        f"payment not received by {missed.date()}",
                        "policy",
                        ReasonCode.PAYMENT_NOT_RECEIVED,
                    )
                raise OrderAborted()
        elif run.order.payment_method == "cash_on_pickup":
            pass  # reserve & collect: paid in the store when the customer picks it up
        else:
            async with run.step():
                auth = await self.payments.authorise()
                if not auth.ok:
                    reason = f"payment declined ({auth.reason})"
                    if workflow.patched(DECLINE_WITHDRAWS):
                        await self.shipments.withdraw(
                            run.book.open(), reason, ShipmentStatus.CANCELLED
                        )
                    await run.db(StockActivities.release_stock, run.order.order_id, **SHORT)
                    await self._end(OrderStatus.CANCELLED, reason, ReasonCode.PAYMENT_DECLINED)
                await self.payments.book_authorisation(auth)

        if confirm_later and self._held():
            # the customer gets the confirmation (and its self-service link, to change the
            # order) now, not once changes are no longer possible
            async with run.step():
                await journal.email("confirmation", "order_confirmation", journal.order_summary())
            confirm_later = False
        await self._hold_for_changes()
        async with run.step():
            await self.shipments.apply_reroutes()  # locations that failed before release
            run.book.shift_promises(workflow.now())  # waited for money or a review
            to_release = run.book.open()
            if confirm_later:
                await asyncio.gather(
                    self.shipments.release(to_release),
                    journal.email("confirmation", "order_confirmation", journal.order_summary()),
                )
            else:
                await self.shipments.release(to_release)
            run.released = True
            released: Detail = {"shipments": ",".join(s.shipment_id for s in to_release)}
            if run.state.hold_until is not None:
                released["held_until"] = run.state.hold_until.isoformat()
                run.state.hold_until = None  # no more changes
            await journal.progress("released", OrderStatus.IN_FULFILMENT, released)
        await self._fulfil()
        async with run.step():
            await self.payments.settle()
            await journal.progress("completed", OrderStatus.COMPLETED, {})
            run.state.waiting_for = ""

    async def _reserved(self, plan: RoutingResult, confirm_later: bool) -> None:
        """The stock is reserved: book the shipments; confirm now unless the money comes
        first (``confirm_later``)."""
        run, journal = self._run, self.journal
        run.book.add(plan.shipments, ShipmentStatus.RESERVED)
        journal.mark()
        await journal.progress(
            "reserved",
            OrderStatus.CONFIRMED,
            {
                "shipments": len(plan.shipments),
                "strategy": plan.strategy,
                "optimal": plan.optimal,
                "locations": ",".join(s.location_id for s in plan.shipments),
            },
        )
        if not confirm_later:
            await journal.email("confirmation", "order_confirmation", journal.order_summary())

    def _backorders(self) -> bool:
        """An order the stock cannot cover waits for stock (policy), for orders started
        since the BACKORDERS patch."""
        return self._run.order.policy.fulfilment.uncovered == "backorder" and workflow.patched(
            BACKORDERS
        )

    def _held(self) -> bool:
        until = self._run.state.hold_until
        return until is not None and until > workflow.now()

    async def _hold_for_changes(self) -> None:
        """The release hold: time for the customer or customer service to change or cancel
        the order before it goes to the warehouse. Ends at ``hold_until`` or on "release now"."""
        run = self._run
        until = run.state.hold_until
        if until is None or run.released_early_by is not None or until <= workflow.now():
            return
        self.journal.waiting(f"release hold until {until.isoformat()} (changes possible)")
        await run.wait(lambda: run.released_early_by is not None, until - workflow.now())

    async def _hold_for_review(self, risk: RiskAssessment) -> None:
        """Customer service decides; if nobody does in time, the policy does."""
        run = self._run
        policy = run.order.policy.review
        async with run.step():
            await self.journal.progress(
                "held_for_review",
                OrderStatus.ON_HOLD,
                {
                    "reasons": "; ".join(risk.reasons),
                    "decide_by": (workflow.now() + policy.timeout).isoformat(),
                },
            )
            self.journal.waiting("review decision by customer service")
        if not await run.wait(lambda: run.review is not None, policy.timeout):
            run.review = ReviewDecision(
                agent="policy",
                approve=policy.on_timeout == "approve",
                reason=f"no decision within {policy.timeout}",
            )
        decision = run.review
        assert decision is not None
        async with run.step():
            await self.journal.progress(
                "review_decided",
                None,
                {"approved": decision.approve, "reason": decision.reason},
                actor=decision.agent,
            )
            if not decision.approve:
                await self._end(
                    OrderStatus.REJECTED,
                    "order not approved in review",
                    ReasonCode.REVIEW_REJECTED,
                )

    async def _fulfil(self) -> None:
        """Handle shipment events, re-routes, payments and broken promises until every parcel
        arrived (or was picked up)."""
        run = self._run
        run.monitoring = workflow.patched(MONITORING)
        # A handover (an Update) can finish every parcel while we wait: then stop waiting.
        ends_when_done = workflow.patched(HANDOVER_ENDS_WAIT)
        book = run.book

        def wake() -> bool:
            return bool(run.inbox or run.reroutes or run.payments or run.nudged) or (
                ends_when_done and book.all_done()
            )

        while not book.all_done():
            run.state.waiting_for = (
                f"customer pickup until {run.pickup.expires_at.isoformat()}"
                if run.pickup is not None
                else "shipment events"
            )
            deadline = self._next_deadline()
            if deadline is None:
                await run.wait(wake)
            elif deadline > workflow.now():
                await run.wait(wake, deadline - workflow.now())
            async with run.step():
                run.nudged = False
                await self.payments.book_payments()
                await self.shipments.apply_reroutes()
                if run.inbox:
                    await self.shipments.on_event(run.inbox.pop(0))
                if run.monitoring:
                    await self.shipments.check_promises()
                    await self.pickup.check()

    def _next_deadline(self) -> datetime | None:
        if not self._run.monitoring:
            return None
        times = [
            t for t in (self.shipments.next_deadline(), self.pickup.deadline()) if t is not None
        ]
        return min(times) if times else None

    # ---- how an order ends early -------------------------------------------------------------
    async def _cancel_everything(
        self, reason: str, actor: str, code: ReasonCode
    ) -> tuple[int, int]:
        """Saga compensation: withdraw what is unshipped, free the stock, give the money back,
        tell the customer. Ends the order. ``reason`` goes to the event log, ``code`` into the
        e-mails (an agent's note is internal; the customer reads a localised text)."""
        run = self._run
        await self.shipments.withdraw(run.book.open(), reason, ShipmentStatus.CANCELLED)
        await run.db(StockActivities.release_stock, run.order.order_id, **SHORT)
        voided, refunded = await self.payments.give_back_everything(reason, code)
        await self.journal.progress(
            "cancelled", OrderStatus.CANCELLED, {"reason": reason}, actor=actor
        )
        await self.journal.email("cancelled", "order_cancelled", {"reason": code.value})
        self.journal.waiting("")
        run.ended = True
        return voided, refunded

    async def _end(self, status: OrderStatus, reason: str, code: ReasonCode) -> None:
        """The order ends unfulfilled before anything was taken; tell the customer why, by
        ``code`` (``reason`` is the event log's English detail)."""
        await self.journal.progress(status.value, status, {"reason": reason})
        await self.journal.email(status.value, "order_cancelled", {"reason": code.value})
        self._run.state.waiting_for = ""
        self._run.ended = True
        raise OrderAborted()

    # ---- what reaches a running order --------------------------------------------------------
    @workflow.query
    def state(self) -> OrderState:
        state = self._run.state
        state.shipments = self._run.book.live()
        state.shipment_status = dict(self._run.book.status)
        return state

    @workflow.query
    def actions(self) -> dict[str, str]:
        """Per customer-service action, why the order would refuse it now ("" = it would take
        it), by the rules its Update validators use: the console offers only what is possible."""
        run = self._run
        return refusals.offered(
            run.state.status,
            run.ended,
            run.released,
            run.book,
            run.review is not None,
            hold_until=run.state.hold_until,
            now=workflow.now(),
            hold_lifted=run.released_early_by is not None,
        )

    @workflow.signal
    def shipment_event(self, event: ShipmentEvent) -> None:
        """Shipment news as a signal (callers before ``report_shipment_event``); handled in
        order in ``_fulfil``."""
        self._run.inbox.append(event)

    @workflow.update
    async def report_shipment_event(self, event: ShipmentEvent) -> None:
        """What a location or carrier reports, answered at once: refused (with the reason)
        for a closed order, a withdrawn or unreleased shipment; else applied in order with the
        order's other steps. If a cancel got in between the yes and the lock, the news is not
        dropped: a parcel that moved becomes a case for operations."""
        run = self._run
        async with run.lock:
            if problem := refusals.shipment_event(
                run.state.status, run.ended, run.book, event, frozenset(run.releasing)
            ):
                if event.kind in MOVING:
                    await run.db(
                        OpsCaseActivities.open_parcel_case,
                        args=[run.order.order_id, event, problem],
                        **SHORT,
                    )
                _refuse_if(problem)
            with contextlib.suppress(OrderAborted):  # the event ended the order (saga ran)
                await self.shipments.on_event(event)
            run.nudged = True  # promises and pickup are looked at again by the loop

    @report_shipment_event.validator
    def _validate_shipment_event(self, event: ShipmentEvent) -> None:
        run = self._run
        _refuse_if(
            refusals.shipment_event(
                run.state.status, run.ended, run.book, event, frozenset(run.releasing)
            )
        )

    @workflow.signal
    def stock_changed(self) -> None:
        """Stock came in (a feed or an adjustment): a backorder looks again at once."""
        self._run.stock_changed = True

    @workflow.signal
    def reroute(self, request: RerouteRequest) -> None:
        """A location went offline or refused: move its unshipped shipments elsewhere."""
        self._run.reroutes.append(request)

    @workflow.signal
    def payment_received(self, notice: PaymentNotice) -> None:
        """Money arrived (bank transfer); the same payment id twice counts once."""
        if notice.payment_id not in self._run.payment_ids:
            self._run.payment_ids.add(notice.payment_id)
            self._run.payments.append(notice)

    @workflow.update
    async def cancel(self, request: CancelRequest) -> ActionResult:
        async with self._run.lock:
            self._validate_cancel(request)
            voided, refunded = await self._cancel_everything(
                request.reason or "cancelled by customer service",
                request.agent,
                ReasonCode.CANCELLED_BY_SERVICE,
            )
        return self._result("order cancelled", voided=voided, refunded=refunded)

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        run = self._run
        _refuse_if(refusals.cancel(run.state.status, run.ended, run.book))

    @workflow.update
    async def cancel_lines(self, request: CancelLinesRequest) -> ActionResult:
        run = self._run
        async with run.lock:
            self._validate_cancel_lines(request)
            cancel = {ln.line_id: ln.quantity for ln in request.lines}
            if cancel == run.book.cancellable() and run.book.none_shipped():
                voided, refunded = await self._cancel_everything(
                    request.reason or "all lines cancelled",
                    request.agent,
                    ReasonCode.CANCELLED_BY_SERVICE,
                )
                return self._result("order cancelled", voided=voided, refunded=refunded)
            step = run.next_action("lines_cancelled")
            prices = {ln.line_id: ln.unit_price_cents for ln in run.order.lines}
            await self.shipments.take_out(cancel, prices)
            amount = sum(prices[lid] * q for lid, q in cancel.items())
            run.order = run.order.model_copy(
                update={"lines": reduce_lines(run.order.lines, cancel)}
            )
            voided, refunded = await self.payments.give_back(
                amount, step, "lines cancelled", ReasonCode.LINES_CANCELLED
            )
            self.journal.mark()
            await self.journal.progress(
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
            await self.journal.email(
                step,
                "lines_cancelled",
                {
                    "lines": ", ".join(
                        f"{q} x {self.journal.line_name(lid)}" for lid, q in cancel.items()
                    ),
                    "amount_cents": amount,
                    "total_cents": run.order.total_cents,
                },
            )
        return self._result(f"{len(cancel)} line(s) cancelled", voided=voided, refunded=refunded)

    @cancel_lines.validator
    def _validate_cancel_lines(self, request: CancelLinesRequest) -> None:
        run = self._run
        _refuse_if(refusals.cancel_lines(run.state.status, run.ended, run.book, request))

    @workflow.update
    async def modify(self, request: ModifyRequest) -> ActionResult:
        run = self._run
        async with run.lock:
            self._validate_modify(request)
            old = run.order
            new: OrderInput = await run.db(
                PricingActivities.reprice_modification, args=[old, request], **PRICING
            )
            step = run.next_action("modified")
            # New delivery instructions alone: the same money and the same parcels, so no new
            # authorisation and no re-routing (the parcels take them along at release).
            if not request.instructions_only:
                replacement = await self.payments.reauthorise(new, step)
                if run.book.plans:
                    await self.shipments.replan(old, new, step, replacement)
                if replacement is not None:
                    await self.payments.take_over(replacement, step)
            run.order = new
            run.stock_changed = True  # a backorder looks again: the new lines may be in stock
            self.journal.mark()
            detail: Detail = {
                "changed": ",".join(request.changes),
                "total_cents": new.total_cents,
                "previous_total_cents": old.total_cents,
                "reason": request.reason,
            }
            if request.delivery_instructions is not None:
                detail["delivery_instructions"] = new.delivery_instructions or ""
            await self.journal.progress(step, None, detail, actor=request.agent, snapshot=True)
            await self.journal.email(step, "order_modified", self.journal.order_summary())
        return self._result("order modified")

    @modify.validator
    def _validate_modify(self, request: ModifyRequest) -> None:
        run = self._run
        _refuse_if(refusals.modify(run.state.status, run.ended, run.released, run.book, request))

    @workflow.update
    async def confirm_pickup(self, confirmation: PickupConfirmation) -> ActionResult:
        """Store staff hand the order over; the code proves it is the customer."""
        async with self._run.lock:
            self._validate_pickup(confirmation)
            await self.pickup.hand_over(confirmation.staff)
        return self._result("handed over")

    @confirm_pickup.validator
    def _validate_pickup(self, confirmation: PickupConfirmation) -> None:
        run = self._run
        code = run.pickup.code if run.pickup is not None else None
        _refuse_if(
            refusals.pickup(
                run.state.status, run.ended, run.order.pickup_store_id, code, confirmation
            )
        )

    @workflow.update
    async def release_now(self, request: ReleaseNowRequest) -> ActionResult:
        """Customer service lifts the release hold: the order goes to fulfilment now (a
        prepayment order once its money is in)."""
        run = self._run
        async with run.lock:
            self._validate_release_now(request)
            run.released_early_by = request.agent
            assert run.state.hold_until is not None
            await self.journal.progress(
                "release_now",
                None,
                {"held_until": run.state.hold_until.isoformat(), "reason": request.reason},
                actor=request.agent,
            )
        return self._result("release hold lifted")

    @release_now.validator
    def _validate_release_now(self, request: ReleaseNowRequest) -> None:
        run = self._run
        _refuse_if(
            refusals.release_now(
                run.state.status,
                run.ended,
                run.released,
                run.state.hold_until,
                workflow.now(),
                run.released_early_by is not None,
            )
        )

    @workflow.update
    async def decide_review(self, decision: ReviewDecision) -> ActionResult:
        self._validate_review(decision)
        self._run.review = decision
        return self._result("approved" if decision.approve else "rejected")

    @decide_review.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        run = self._run
        _refuse_if(refusals.review(run.state.status, run.review is not None))

    def _result(self, message: str, voided: int = 0, refunded: int = 0) -> ActionResult:
        return ActionResult(
            message=message,
            status=self._run.state.status.value,
            total_cents=self._run.order.total_cents,
            voided_cents=voided,
            refunded_cents=refunded,
        )


def _refuse_if(problem: str) -> None:
    if problem:
        raise ApplicationError(problem, type=refusals.REFUSAL_TYPE, non_retryable=True)
