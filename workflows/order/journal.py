"""What an order tells about itself: its event log, its status and search attributes, what
the Temporal UI shows, and its e-mails. Each step is recorded and mailed under one name, so
its idempotency key (``core.domain.events.step_key``) is the same in the log and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from workflows.order.options import EMAIL, SHORT
from workflows.order.state import OrderRun

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.messaging.activities import EmailActivities
    from activities.orders.activities import OrderLogActivities
    from core.domain.events import EmailRequest, ProgressEvent
    from core.domain.orders import OrderStatus
    from core.domain.shipments import ShipmentLine
    from workflows.search_attributes import (
        FULFILMENT_LOCATIONS,
        LATE,
        ORDER_STATUS,
        ORDER_TOTAL,
        PAYMENT_METHOD,
    )

Detail = dict[str, str | int | float | bool | None]


class Journal:
    def __init__(self, run: OrderRun) -> None:
        self.run = run

    async def progress(
        self,
        step: str,
        status: OrderStatus | None,
        detail: Detail,
        actor: str = "system",
        snapshot: bool = False,
    ) -> None:
        """Record one step in the event log (and move the status), exactly once per step."""
        run = self.run
        if status is not None and status != run.state.status:
            self.set_status(status, run.state.waiting_for)
        await run.db(
            OrderLogActivities.record_progress,
            ProgressEvent(
                order_id=run.order.order_id,
                type=step,
                status=status,
                detail=detail,
                actor=actor,
                at=workflow.now(),
                snapshot=run.order if snapshot else None,
            ),
            **SHORT,
        )

    async def email(
        self,
        step: str,
        template: str,
        context: dict[str, object],
        invoices: list[str] | None = None,
    ) -> None:
        """Send the customer the e-mail of ``step``, once (with the PDFs of ``invoices``)."""
        order = self.run.order
        await workflow.execute_activity_method(
            EmailActivities.send_email,
            EmailRequest(
                order_id=order.order_id,
                step=step,
                to=str(order.customer.email),
                template=template,
                locale=order.customer.locale,
                context={
                    "order_id": order.order_id,
                    "customer_name": order.customer.name,
                    **context,
                },
                invoices=invoices or [],
            ),
            summary=f"e-mail {template}" if self.run.ops_view else None,
            **EMAIL,
        )

    def set_status(self, status: OrderStatus, waiting_for: str) -> None:
        self.run.state.status = status
        self.run.state.waiting_for = waiting_for
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])
        self.show_details()

    def waiting(self, what: str) -> None:
        self.run.state.waiting_for = what
        self.show_details()

    def show_details(self) -> None:
        """What the Temporal UI shows as this order's current details."""
        run = self.run
        parcels = (
            ", ".join(
                f"{p.shipment_id} @ {p.location_id}: {run.book.status[p.shipment_id]}"
                for p in run.book.live()
            )
            or "none yet"
        )
        workflow.set_current_details(
            f"**{run.state.status.value}** — waiting for: {run.state.waiting_for or '-'}\n\n"
            f"{run.order.payment_method}, {run.order.total_cents / 100:.2f} EUR; "
            f"parcels: {parcels}"
        )

    def mark(self, late: bool | None = None) -> None:
        """Keep the ops search attributes current (orders started since OPS_VIEW)."""
        run = self.run
        if not run.ops_view:
            return
        updates: list[SearchAttributeUpdate[Any]] = [
            PAYMENT_METHOD.value_set(run.order.payment_method),
            ORDER_TOTAL.value_set(run.order.total_cents),
            FULFILMENT_LOCATIONS.value_set(sorted({p.location_id for p in run.book.live()})),
        ]
        if late is not None:
            updates.append(LATE.value_set(late))
        workflow.upsert_search_attributes(updates)
        self.show_details()

    def order_summary(self) -> dict[str, object]:
        """The order as the confirmation and change e-mails show it: a click & collect order
        names its pickup store (``pickup_store``), where a delivery shows address, date and
        the customer's delivery instructions."""
        order = self.run.order
        address = order.delivery_address
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
                [address.name, address.street, f"{address.postcode} {address.city}"]
            ),
            "promised_delivery": self.run.book.latest_promise(),
            "pickup_store": (order.pickup_store_label or order.pickup_store_id or ""),
            "delivery_instructions": order.delivery_instructions or "",
        }

    def parcel_lines(self, lines: list[ShipmentLine]) -> list[dict[str, object]]:
        """A parcel's lines as a customer reads them: with the product's name, not only its
        SKU (a parcel's lines carry only line id, SKU and quantity)."""
        names = {ln.line_id: ln.name for ln in self.run.order.lines}
        return [
            {"sku": ln.sku, "name": names.get(ln.line_id, ln.sku), "quantity": ln.quantity}
            for ln in lines
        ]

    def parcel_summary(self, lines: list[ShipmentLine]) -> str:
        """``2 x Leinenhemd, 1 x Lampe`` for the e-mails that name a parcel in a sentence."""
        return ", ".join(f"{ln['quantity']} x {ln['name']}" for ln in self.parcel_lines(lines))

    def line_name(self, line_id: str) -> str:
        order = self.run.order
        return next(
            (f"{ln.name} ({ln.sku})" for ln in order.lines if ln.line_id == line_id), line_id
        )

    def bank_details(self, deadline: datetime) -> dict[str, object]:
        """What a prepayment customer needs to pay: amount still open, account, reference."""
        order = self.run.order
        policy = order.policy.payment
        return {
            "amount_cents": order.total_cents - self.run.money.held,
            "holder": policy.bank_account_holder,
            "iban": policy.bank_iban,
            "bic": policy.bank_bic,
            "reference": order.order_id,
            "deadline": deadline.date().isoformat(),
        }
