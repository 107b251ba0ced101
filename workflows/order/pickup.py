"""Click & collect and reserve & collect in the workflow: when everything is in the store the
customer gets a code, a reminder before the window closes, and the order is cancelled (goods
back on the store's shelf) when nobody comes. The handover is an Update from the portal."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from workflows.order.journal import Detail, Journal
from workflows.order.options import SHORT
from workflows.order.patches import PICKUP_INVOICE
from workflows.order.payments import Payments
from workflows.order.shipments import Cancel
from workflows.order.state import OrderAborted, OrderRun, PickupTicket

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.billing.activities import BillingActivities
    from activities.fulfilment.activities import FulfilmentActivities
    from core.domain.orders import OrderStatus
    from core.domain.reasons import ReasonCode
    from core.domain.shipments import ShipmentEvent, ShipmentStatus


class Pickup:
    def __init__(self, run: OrderRun, journal: Journal, payments: Payments, cancel: Cancel) -> None:
        self.run = run
        self.journal = journal
        self.payments = payments
        self.cancel = cancel

    def deadline(self) -> datetime | None:
        """When the pickup next needs attention: the reminder, then the end of the window."""
        ticket = self.run.pickup
        if ticket is None:
            return None
        if not ticket.reminded:
            return ticket.expires_at - self.run.order.policy.pickup.reminder_before
        return ticket.expires_at

    async def check(self) -> None:
        """All goods in the store: issue the code; then remind, and cancel when it expires."""
        run = self.run
        order = run.order
        if order.pickup_store_id is None or run.ended:
            return
        policy = order.policy.pickup
        if run.pickup is None:
            if not run.book.ready_for_pickup():
                return
            run.pickup = PickupTicket(
                code=f"{workflow.random().randint(0, 999_999):06d}",
                expires_at=workflow.now() + policy.window,
            )
            await self.journal.progress(
                "ready_for_pickup",
                OrderStatus.READY_FOR_PICKUP,
                {"store": order.pickup_store_id, "until": run.pickup.expires_at.isoformat()},
            )
            await self.journal.email("ready_for_pickup", "ready_for_pickup", self._context())
            return
        now = workflow.now()
        if now >= run.pickup.expires_at:
            await self._expired()
        elif not run.pickup.reminded and now >= (run.pickup.expires_at - policy.reminder_before):
            run.pickup.reminded = True
            await self.journal.progress("pickup_reminder", None, {})
            await self.journal.email("pickup_reminder", "pickup_reminder", self._context())

    def _context(self) -> dict[str, object]:
        order = self.run.order
        ticket = self.run.pickup
        assert ticket is not None
        return {
            "code": ticket.code,
            "store": order.pickup_store_label or order.pickup_store_id,
            "until": ticket.expires_at.date().isoformat(),
            "amount_cents": order.total_cents if order.payment_method == "cash_on_pickup" else 0,
        }

    async def _expired(self) -> None:
        """Nobody came: the goods go back on the store's shelf, the money back to the
        customer."""
        run = self.run
        order = run.order
        arrived = [
            p
            for p in run.book.live()
            if p.transfer_to is not None
            and run.book.status[p.shipment_id] == ShipmentStatus.DELIVERED
        ]
        for plan in arrived:  # transferred goods now sit in the store: they become its stock
            await run.db(
                FulfilmentActivities.restock,
                args=[order.order_id, plan, order.pickup_store_id, "pickup window expired"],
                **SHORT,
            )
            run.book.status[plan.shipment_id] = ShipmentStatus.CANCELLED
        await self.cancel("not picked up in time", "policy", ReasonCode.NOT_PICKED_UP)
        raise OrderAborted()

    async def hand_over(self, staff: str) -> None:
        """The customer showed the right code: hand everything over and take the money."""
        run = self.run
        order = run.order
        for plan in run.book.live():
            await run.db(
                FulfilmentActivities.record_shipment_event,
                args=[
                    order.order_id,
                    ShipmentEvent(shipment_id=plan.shipment_id, kind="picked_up"),
                ],
                **SHORT,
            )
            run.book.status[plan.shipment_id] = ShipmentStatus.PICKED_UP
        taken = await self.payments.take_at_pickup(staff)
        run.pickup = None
        detail: Detail = {"paid_cents": taken}
        if workflow.patched(PICKUP_INVOICE):  # handed over in the store: one invoice
            detail["invoice_number"] = await workflow.execute_activity_method(
                BillingActivities.issue_order_invoice, args=[order], **SHORT
            )
        await self.journal.progress("picked_up", None, detail, actor=staff)
