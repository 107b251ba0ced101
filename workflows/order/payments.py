"""The order's money in the workflow: authorise, capture per parcel, void, refund, wait for a
prepayment with reminders, book incoming money, settle at the end. Every payment call lives
here; ``Money`` keeps the arithmetic."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.order.journal import Detail, Journal
from workflows.order.options import SHORT
from workflows.order.state import OrderRun

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.payments.activities import PaymentActivities
    from core.domain.money import Money
    from core.domain.orders import OrderInput, OrderStatus
    from core.domain.payments import AUTHORISING, PAID_UP_FRONT, PaymentResult, payment_step
    from core.domain.reasons import ReasonCode
    from core.domain.shipments import ShipmentPlan


class Payments:
    def __init__(self, run: OrderRun, journal: Journal) -> None:
        self.run = run
        self.journal = journal

    # ---- cards, wallets, invoices ------------------------------------------------------------
    async def authorise(self) -> PaymentResult:
        order = self.run.order
        self.run.state.waiting_for = "payment authorisation"
        auth: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.authorise_payment,
            args=[order.order_id, order.total_cents, order.payment_method],
            summary=(
                f"authorise {order.total_cents / 100:.2f} EUR {order.payment_method}"
                if self.run.ops_view
                else None
            ),
            **SHORT,
        )
        return auth

    async def book_authorisation(self, auth: PaymentResult) -> None:
        self.run.money.authorisation_id = auth.transaction_id
        self.run.money.authorised = auth.amount_cents
        await self.journal.progress(
            "payment_authorised",
            OrderStatus.PAYMENT_AUTHORISED,
            {"transaction_id": auth.transaction_id, "amount_cents": auth.amount_cents},
        )

    async def reauthorise(self, new: OrderInput, step: str) -> PaymentResult | None:
        """A new total on an authorised card: authorise it before anything else changes."""
        money = self.run.money
        if not money.authorisation_id or new.total_cents == money.authorised:
            return None
        auth: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.authorise_payment,
            args=[
                new.order_id,
                new.total_cents,
                new.payment_method,
                payment_step("authorise", step),
            ],
            **SHORT,
        )
        if not auth.ok:
            raise ApplicationError(
                f"payment declined for the new total ({auth.reason}); order unchanged"
            )
        return auth

    async def take_over(self, auth: PaymentResult, step: str) -> None:
        """The order's total changed: the new authorisation replaces the old, which is voided."""
        await self.void(self.run.money.open_authorisation, payment_step("void", step))
        self.run.money = Money(
            authorisation_id=auth.transaction_id,
            authorised=auth.amount_cents,
            received=self.run.money.received,
            refunded_bank=self.run.money.refunded_bank,
        )

    async def void_replacement(self, auth: PaymentResult, step: str) -> None:
        """A new authorisation that is not needed after all (the change failed)."""
        await workflow.execute_activity_method(
            PaymentActivities.void_payment,
            args=[
                self.run.order.order_id,
                auth.transaction_id,
                auth.amount_cents,
                payment_step("void", step, "declined"),
            ],
            **SHORT,
        )

    async def capture_parcel(self, shipment: ShipmentPlan, first_to_ship: bool) -> Detail:
        """Goods are captured per parcel; the shipping fee with the first parcel that ships."""
        order = self.run.order
        if order.payment_method not in AUTHORISING:
            return {}
        amount = shipment.goods_cents + (order.shipping_cents if first_to_ship else 0)
        if not amount:
            return {}
        capture: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.capture_payment,
            args=[order.order_id, shipment.shipment_id, self.run.money.authorisation_id, amount],
            **SHORT,
        )
        if capture.ok:
            self.run.money.captured += amount
        return {
            "captured_cents": capture.amount_cents if capture.ok else 0,
            "capture_ok": capture.ok,
        }

    async def take_at_pickup(self, staff: str) -> int:
        """The customer collects: cash is booked as received, a card is captured in full."""
        order = self.run.order
        if order.payment_method == "cash_on_pickup":
            paid: PaymentResult = await workflow.execute_activity_method(
                PaymentActivities.record_incoming_payment,
                args=[order.order_id, "cash-at-pickup", order.total_cents, f"cash {staff}"],
                **SHORT,
            )
            self.run.money.received += order.total_cents
            return paid.amount_cents
        capture: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.capture_payment,
            args=[order.order_id, "pickup", self.run.money.authorisation_id, order.total_cents],
            **SHORT,
        )
        if capture.ok:
            self.run.money.captured += order.total_cents
        return capture.amount_cents if capture.ok else 0

    # ---- giving money back -------------------------------------------------------------------
    async def void(self, amount: int, step: str) -> None:
        money = self.run.money
        if amount <= 0 or not money.authorisation_id:
            return
        await workflow.execute_activity_method(
            PaymentActivities.void_payment,
            args=[self.run.order.order_id, money.authorisation_id, amount, step],
            **SHORT,
        )
        money.voided += amount

    async def refund(self, amount: int, step: str, reason: str, code: ReasonCode) -> None:
        """Pay money back: out of a bank transfer, or against the card's captures. The log
        entry and the e-mail are named after the payment step (``refund:x`` -> ``refund_x``);
        the log keeps ``reason``, the customer reads ``code`` in their language."""
        money = self.run.money
        amount = min(amount, money.refundable)
        if amount <= 0:
            return
        refund: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.refund_payment,
            args=[self.run.order.order_id, amount, money.authorisation_id or None, step],
            **SHORT,
        )
        money.book_refund(amount)
        logged = step.replace(":", "_")
        await self.journal.progress(
            logged,
            None,
            {"amount_cents": amount, "reason": reason, "transaction_id": refund.transaction_id},
        )
        await self.journal.email(
            logged, "refund_issued", {"amount_cents": amount, "reason": code.value}
        )

    async def give_back(
        self, amount: int, step: str, reason: str, code: ReasonCode
    ) -> tuple[int, int]:
        """Void what is only authorised, refund what was paid; returns (voided, refunded)."""
        money = self.run.money
        voided = min(amount, money.open_authorisation)
        await self.void(voided, payment_step("void", step))
        refunded = min(amount - voided, money.refundable)
        await self.refund(refunded, payment_step("refund", step), reason, code)
        return voided, refunded

    async def give_back_everything(self, reason: str, code: ReasonCode) -> tuple[int, int]:
        """The order is cancelled: void the open authorisation, refund what was received."""
        voided = self.run.money.open_authorisation
        await self.void(voided, "void")
        refunded = self.run.money.held
        await self.refund(refunded, payment_step("refund", "cancel"), reason, code)
        return voided, refunded

    async def settle(self) -> None:
        """At the end: nothing stays authorised that was not captured, no surplus is kept."""
        order = self.run.order
        money = self.run.money
        await self.void(money.open_authorisation, payment_step("void", "final"))
        owed = order.total_cents if order.payment_method in PAID_UP_FRONT else 0
        await self.refund(
            money.held - owed,
            payment_step("refund", "surplus"),
            "you paid more than the order came to",
            ReasonCode.OVERPAID,
        )

    # ---- prepayment --------------------------------------------------------------------------
    async def switch_to_prepayment(self) -> None:
        """Risk asks for a safe method: the order is paid in advance instead."""
        previous = self.run.order.payment_method
        self.run.order = self.run.order.model_copy(update={"payment_method": "prepayment"})
        self.journal.mark()
        await self.journal.progress(
            "payment_method_changed", None, {"from": previous, "to": "prepayment"}, snapshot=True
        )
        await self.journal.email(
            "payment_method_changed", "payment_method_changed", {"previous_method": previous}
        )

    async def await_prepayment(self) -> datetime | None:
        """Instructions at once, reminders on the policy's days; returns None once paid, else
        the deadline that passed without the money."""
        run = self.run
        policy = run.order.policy.payment
        start = workflow.now()
        deadline = start + policy.prepayment_deadline
        async with run.step():
            await self.journal.progress(
                "awaiting_payment",
                OrderStatus.AWAITING_PAYMENT,
                {"amount_cents": run.order.total_cents, "deadline": deadline.isoformat()},
            )
            self.journal.waiting("payment by bank transfer")
            await self.journal.email(
                "payment_instructions", "payment_instructions", self.journal.bank_details(deadline)
            )
        for n, offset in enumerate(policy.prepayment_reminders, start=1):
            if await self._paid_by(start + offset):
                return None
            async with run.step():
                await self.journal.progress(f"payment_reminder_{n}", None, {"reminder": n})
                await self.journal.email(
                    f"payment_reminder_{n}",
                    "payment_reminder",
                    {"reminder": n, **self.journal.bank_details(deadline)},
                )
        if await self._paid_by(deadline):
            return None
        return deadline

    async def _paid_by(self, until: datetime) -> bool:
        """Book payments as they come until the order is paid in full or ``until`` passes."""
        run = self.run
        while True:
            async with run.step():
                if await self._booked_in_full():
                    return True
            left = until - workflow.now()
            if left <= timedelta(0) or not await run.wait(lambda: bool(run.payments), left):
                async with run.step():  # money that came with the deadline counts
                    return await self._booked_in_full()

    async def _booked_in_full(self) -> bool:
        await self.book_payments()
        if self.run.money.held < self.run.order.total_cents:
            return False
        await self.journal.progress(
            "paid", OrderStatus.PAYMENT_AUTHORISED, {"received_cents": self.run.money.received}
        )
        return True

    async def book_payments(self) -> None:
        """Record incoming money; after a cancellation every euro goes straight back."""
        run = self.run
        while run.payments:
            notice = run.payments.pop(0)
            booked: PaymentResult = await workflow.execute_activity_method(
                PaymentActivities.record_incoming_payment,
                args=[
                    run.order.order_id,
                    notice.payment_id,
                    notice.amount_cents,
                    notice.reference,
                ],
                **SHORT,
            )
            run.money.received += notice.amount_cents
            await self.journal.progress(
                f"payment_received_{notice.payment_id}",
                None,
                {
                    "payment_id": notice.payment_id,
                    "amount_cents": notice.amount_cents,
                    "transaction_id": booked.transaction_id,
                },
            )
            if run.ended:
                await self.refund(
                    notice.amount_cents,
                    payment_step("refund", "late", notice.payment_id),
                    "payment arrived after the order was cancelled",
                    ReasonCode.PAID_AFTER_CANCEL,
                )
            elif run.money.held > run.order.total_cents:
                await self.journal.progress(
                    f"overpayment_flagged_{notice.payment_id}",
                    None,
                    {"received_cents": run.money.held, "expected_cents": run.order.total_cents},
                )

    async def refund_late_payments(self) -> None:
        """After a cancellation, money may still arrive: refund it, for the policy's window."""
        run = self.run
        end = workflow.now() + run.order.policy.payment.late_payment_window
        while (left := end - workflow.now()) > timedelta(0):
            try:
                await workflow.wait_condition(lambda: bool(run.payments), timeout=left)
            except TimeoutError:
                return
            async with run.lock:
                await self.book_payments()
