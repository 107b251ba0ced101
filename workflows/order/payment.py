"""Risk outcomes and payment steps of the order workflow: review holds, forced prepayment,
authorisation, prepayment dunning, booking incoming money, settling at the end."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

from workflows.order.base import SHORT, OrderAborted, OrderBase

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.payments.activities import PaymentActivities
    from activities.stock.activities import StockActivities
    from core.domain.commands import ReviewDecision
    from core.domain.orders import OrderStatus, RiskAssessment
    from core.domain.payments import PaymentResult


class PaymentSteps(OrderBase):
    async def _hold_for_review(self, risk: RiskAssessment) -> None:
        assert self._order is not None
        policy = self._order.policy.review
        async with self._step():
            await self._progress(
                "held_for_review",
                OrderStatus.ON_HOLD,
                {
                    "reasons": "; ".join(risk.reasons),
                    "decide_by": (workflow.now() + policy.timeout).isoformat(),
                },
            )
            self._state_waiting("review decision by customer service")
        if not await self._wait(lambda: self._review is not None, policy.timeout):
            self._review = ReviewDecision(
                agent="policy",
                approve=policy.on_timeout == "approve",
                reason=f"no decision within {policy.timeout}",
            )
        decision = self._review
        assert decision is not None
        async with self._step():
            await self._progress(
                "review_decided",
                None,
                {"approved": decision.approve, "reason": decision.reason},
                actor=decision.agent,
            )
            if not decision.approve:
                await self._end(OrderStatus.REJECTED, "order not approved in review")

    async def _switch_to_prepayment(self, risk: RiskAssessment) -> None:
        assert self._order is not None
        previous = self._order.payment_method
        self._order = self._order.model_copy(update={"payment_method": "prepayment"})
        self._mark()
        await self._progress(
            "payment_method_changed", None, {"from": previous, "to": "prepayment"}, snapshot=True
        )
        await self._email(
            "payment_method_changed", "payment_method_changed", {"previous_method": previous}
        )

    async def _authorise(self) -> None:
        assert self._order is not None and self._state is not None
        order = self._order
        self._state.waiting_for = "payment authorisation"
        auth: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.authorise_payment,
            args=[order.order_id, order.total_cents, order.payment_method],
            summary=(
                f"authorise {order.total_cents / 100:.2f} EUR {order.payment_method}"
                if self._ops_view
                else None
            ),
            **SHORT,
        )
        if not auth.ok:
            await self._db(StockActivities.release_stock, order.order_id, **SHORT)
            await self._end(OrderStatus.CANCELLED, f"payment declined ({auth.reason})")
        self._money.authorisation_id = auth.transaction_id
        self._money.authorised = auth.amount_cents
        await self._progress(
            "payment_authorised",
            OrderStatus.PAYMENT_AUTHORISED,
            {"transaction_id": auth.transaction_id, "amount_cents": auth.amount_cents},
        )

    async def _await_prepayment(self) -> None:
        """Instructions at once, reminders on the policy's days, auto-cancel at the deadline."""
        assert self._order is not None
        policy = self._order.policy.payment
        start = workflow.now()
        async with self._step():
            await self._progress(
                "awaiting_payment",
                OrderStatus.AWAITING_PAYMENT,
                {
                    "amount_cents": self._order.total_cents,
                    "deadline": (start + policy.prepayment_deadline).isoformat(),
                },
            )
            self._state_waiting("payment by bank transfer")
            await self._email(
                "payment_instructions",
                "payment_instructions",
                self._bank_details(start + policy.prepayment_deadline),
            )
        for n, offset in enumerate(policy.prepayment_reminders, start=1):
            if await self._paid_by(start + offset):
                return
            async with self._step():
                await self._progress(f"payment_reminder_{n}", None, {"reminder": n})
                await self._email(
                    f"payment_reminder_{n}",
                    "payment_reminder",
                    {"reminder": n, **self._bank_details(start + policy.prepayment_deadline)},
                )
        if await self._paid_by(start + policy.prepayment_deadline):
            return
        async with self._step():
            await self._cancel_everything(
                f"payment not received by {(start + policy.prepayment_deadline).date()}",
                actor="policy",
            )
        raise OrderAborted()

    async def _paid_by(self, until: datetime) -> bool:
        """Book payments as they come until the order is paid in full or ``until`` passes."""
        assert self._order is not None
        while True:
            async with self._step():
                await self._book_payments()
                if self._money.held >= self._order.total_cents:
                    await self._progress(
                        "paid",
                        OrderStatus.PAYMENT_AUTHORISED,
                        {"received_cents": self._money.received},
                    )
                    return True
            left = until - workflow.now()
            if left <= timedelta(0) or not await self._wait(lambda: bool(self._payments), left):
                async with self._step():
                    await self._book_payments()  # money that came with the deadline counts
                    if self._money.held >= self._order.total_cents:
                        await self._progress(
                            "paid",
                            OrderStatus.PAYMENT_AUTHORISED,
                            {"received_cents": self._money.received},
                        )
                        return True
                return False

    async def _book_payments(self) -> None:
        """Record incoming money; after a cancellation every euro goes straight back."""
        assert self._order is not None
        while self._payments:
            notice = self._payments.pop(0)
            booked: PaymentResult = await workflow.execute_activity_method(
                PaymentActivities.record_incoming_payment,
                args=[
                    self._order.order_id,
                    notice.payment_id,
                    notice.amount_cents,
                    notice.reference,
                ],
                **SHORT,
            )
            self._money.received += notice.amount_cents
            await self._progress(
                f"payment_received_{notice.payment_id}",
                None,
                {
                    "payment_id": notice.payment_id,
                    "amount_cents": notice.amount_cents,
                    "transaction_id": booked.transaction_id,
                },
            )
            if self._ended:
                await self._refund(
                    notice.amount_cents,
                    f"refund:late:{notice.payment_id}",
                    "payment arrived after the order was cancelled",
                )
            elif self._money.held > self._order.total_cents:
                await self._progress(
                    f"overpayment_flagged_{notice.payment_id}",
                    None,
                    {"received_cents": self._money.held, "expected_cents": self._order.total_cents},
                )

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

    async def _settle(self) -> None:
        """At the end: nothing stays authorised that was not captured, no surplus is kept."""
        assert self._order is not None
        await self._void(self._money.open_authorisation, "void:final")
        paid_upfront = self._order.payment_method in ("prepayment", "cash_on_pickup")
        owed = self._order.total_cents if paid_upfront else 0
        await self._refund(
            self._money.held - owed, "refund:surplus", "you paid more than the order came to"
        )
