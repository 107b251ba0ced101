"""The return workflow: one durable workflow per return (``return-<return number>``).

A return has its own lifecycle, weeks after the order's workflow completed: requested → label
issued → in transit → received where it arrived → inspected → refunded → closed (or expired
when a mail return never arrives). In a store it is received and inspected at the counter,
refunded at once, and either stays in that store's stock or is forwarded to its destination.

Deterministic code only: every side effect is an activity keyed by return number + step (the
read model and the order's event log, the label, the stock, the refund, the e-mails).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.billing.activities import BillingActivities
    from activities.messaging.activities import EmailActivities
    from activities.payments.activities import PaymentActivities
    from activities.returns.activities import ReturnActivities
    from core.domain.events import EmailRequest
    from core.domain.payments import PaymentResult
    from core.domain.returns import (
        ReturnInput,
        ReturnInspection,
        ReturnProgress,
        ReturnReceipt,
        ReturnScan,
        ReturnState,
        ReturnStatus,
        StockBooking,
    )

RETURN_CREDIT_NOTES = "return-credit-notes-v1"
"""A refunded return is reversed on credit notes; returns refunded before it have none."""

SHORT: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10)),
}
EMAIL: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1)),
}


@workflow.defn
class ReturnWorkflow:
    def __init__(self) -> None:
        self._ret: ReturnInput | None = None
        self._status = ReturnStatus.REQUESTED
        self._scan: ReturnScan | None = None
        self._receipts: list[ReturnReceipt] = []
        self._inspection: ReturnInspection | None = None
        self._arrived: str | None = None
        self._refunded = 0
        self._waiting = ""

    @workflow.query
    def state(self) -> ReturnState:
        assert self._ret is not None
        return ReturnState(
            return_id=self._ret.return_id,
            order_id=self._ret.order_id,
            status=self._status,
            destination_id=self._ret.destination.location_id,
            arrived_at=self._arrived,
            refunded_cents=self._refunded,
            waiting_for=self._waiting,
        )

    @workflow.signal
    def in_transit(self, scan: ReturnScan) -> None:
        """The carrier scanned the parcel (only the first scan counts)."""
        if self._scan is None:
            self._scan = scan

    @workflow.signal
    def received(self, receipt: ReturnReceipt) -> None:
        """The parcel arrived at a location (warehouse webhook or store portal)."""
        self._receipts.append(receipt)

    @workflow.signal
    def inspected(self, inspection: ReturnInspection) -> None:
        """Goods-in judged each line sellable or not (the first inspection counts)."""
        if self._inspection is None:
            self._inspection = inspection

    @workflow.run
    async def run(self, ret: ReturnInput) -> ReturnState:
        self._ret = ret
        await self._record(
            ReturnStatus.REQUESTED,
            {
                "channel": ret.channel,
                "destination": ret.destination.location_id,
                "why": ret.destination.why,
                "goods_cents": ret.goods_cents,
                "shipping_refund_cents": ret.shipping_refund_cents,
                "lines": self._items(),
            },
            actor=ret.requested_by,
        )
        if ret.channel == "mail":
            await self._by_mail()
        else:
            await self._in_store()
        self._waiting = ""
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    async def _by_mail(self) -> None:
        ret = self._require()
        await workflow.execute_activity_method(ReturnActivities.issue_label, ret, **SHORT)
        await self._record(ReturnStatus.LABEL_ISSUED, {"label_url": ret.label_url})
        await self._email(
            "label",
            "return_label",
            {
                "label_url": ret.label_url,
                "destination": f"{ret.destination.name}, {ret.destination.postcode} "
                f"{ret.destination.city}",
            },
        )
        receipt = await self._arrival()
        if receipt is None:
            await self._expire()
            return
        await self._on_received(receipt)
        inspection = await self._inspected()
        await self._book(receipt.location_id, inspection)
        await self._refund()
        await self._record(ReturnStatus.CLOSED, {"location_id": receipt.location_id})

    async def _in_store(self) -> None:
        """Received and inspected at the counter, refunded at once; the goods stay in the
        store or go on to the destination the OMS chose, and are booked where they arrive."""
        ret = self._require()
        assert ret.store_id is not None
        await self._on_received(
            ReturnReceipt(location_id=ret.store_id, by=ret.requested_by, at=ret.requested_at)
        )
        inspection = self._by_reason(ret.requested_by)
        await self._record(
            ReturnStatus.INSPECTED, self._verdict(inspection), actor=ret.requested_by
        )
        await self._refund()
        booked_at = ret.store_id
        if ret.destination.stays:
            await self._book(ret.store_id, inspection)
        else:
            await self._record(
                ReturnStatus.FORWARDED, {"from": ret.store_id, "to": ret.destination.location_id}
            )
            receipt = await self._arrival()
            if receipt is None:
                await self._record(ReturnStatus.CLOSED, {"lost_in_forwarding": True})
                return
            self._arrived = booked_at = receipt.location_id
            await self._book(receipt.location_id, inspection)
        await self._record(ReturnStatus.CLOSED, {"location_id": booked_at})

    # ---- waiting -----------------------------------------------------------------------------
    async def _arrival(self) -> ReturnReceipt | None:
        """The first receipt, noting the carrier's scan on the way; None when nothing
        arrived within the policy's arrival timeout."""
        ret = self._require()
        deadline = workflow.now() + ret.policy.arrival_timeout
        self._waiting = f"the parcel to arrive by {deadline.isoformat()}"
        while not self._receipts:
            if self._scan is not None and self._status == ReturnStatus.LABEL_ISSUED:
                await self._record(
                    ReturnStatus.IN_TRANSIT,
                    {"carrier": self._scan.carrier, "tracking_number": self._scan.tracking_number},
                )
            left = deadline - workflow.now()
            if left <= timedelta(0):
                return None
            try:
                await workflow.wait_condition(
                    lambda: (
                        bool(self._receipts)
                        or (self._scan is not None and self._status == ReturnStatus.LABEL_ISSUED)
                    ),
                    timeout=left,
                )
            except TimeoutError:
                if not self._receipts:
                    return None
        return self._receipts[0]

    async def _inspected(self) -> ReturnInspection:
        """Goods-in's verdict, or after the policy's timeout the customer's stated reason."""
        ret = self._require()
        self._waiting = "inspection"
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._inspection is not None, timeout=ret.policy.inspection_timeout
            )
        inspection = self._inspection or self._by_reason("policy")
        await self._record(ReturnStatus.INSPECTED, self._verdict(inspection), actor=inspection.by)
        return inspection

    # ---- steps -------------------------------------------------------------------------------
    async def _on_received(self, receipt: ReturnReceipt) -> None:
        self._arrived = receipt.location_id
        await self._record(
            ReturnStatus.RECEIVED, {"location_id": receipt.location_id}, actor=receipt.by
        )
        await self._email("received", "return_received", {"location_id": receipt.location_id})

    async def _book(self, location_id: str, inspection: ReturnInspection) -> None:
        ret = self._require()
        verdict = {ln.line_id: ln.sellable for ln in inspection.lines}
        sellable: dict[str, int] = {}
        written_off: dict[str, int] = {}
        for ln in ret.lines:
            target = sellable if verdict.get(ln.line_id, not ln.defective) else written_off
            target[ln.sku] = target.get(ln.sku, 0) + ln.quantity
        await workflow.execute_activity_method(
            ReturnActivities.book_stock,
            StockBooking(
                return_id=ret.return_id,
                order_id=ret.order_id,
                location_id=location_id,
                sellable=sellable,
                written_off=written_off,
            ),
            **SHORT,
        )

    async def _refund(self) -> None:
        """Lines at their sold prices plus the shipping share fixed at request time, to the
        cent, booked against the capture of the parcel the goods came in."""
        ret = self._require()
        amount = ret.refund_cents
        parent: str | None = await workflow.execute_activity_method(
            ReturnActivities.refund_parent,
            args=[ret.order_id, sorted({ln.shipment_id for ln in ret.lines})],
            **SHORT,
        )
        refund: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.refund_payment,
            args=[ret.order_id, amount, parent, f"return:{ret.return_id}"],
            **SHORT,
        )
        if not refund.ok:
            raise ApplicationError(
                f"refund of {amount} cents failed: {refund.reason}",
                type="RefundFailed",
                non_retryable=True,
            )
        self._refunded = amount
        detail: dict[str, Any] = {
            "refunded_cents": amount,
            "shipping_refund_cents": ret.shipping_refund_cents,
            "transaction_id": refund.transaction_id,
            "parent_id": parent,
        }
        if workflow.patched(RETURN_CREDIT_NOTES):
            notes: list[str] = await workflow.execute_activity_method(
                BillingActivities.issue_return_credit_notes, args=[ret], **SHORT
            )
            detail["credit_notes"] = ", ".join(notes)
        await self._record(ReturnStatus.REFUNDED, detail)
        await self._email(
            "refunded",
            "return_refunded",
            {"amount_cents": amount, "shipping_refund_cents": ret.shipping_refund_cents},
        )

    async def _expire(self) -> None:
        until = workflow.now().date().isoformat()
        await self._record(ReturnStatus.EXPIRED, {"until": until})
        await self._email("expired", "return_expired", {"until": until})

    # ---- helpers -----------------------------------------------------------------------------
    def _require(self) -> ReturnInput:
        assert self._ret is not None
        return self._ret

    def _by_reason(self, by: str) -> ReturnInspection:
        ret = self._require()
        return ReturnInspection.model_validate(
            {
                "by": by,
                "lines": [
                    {"line_id": ln.line_id, "sellable": not ln.defective} for ln in ret.lines
                ],
            }
        )

    def _verdict(self, inspection: ReturnInspection) -> dict[str, str | int | float | bool | None]:
        ret = self._require()
        verdict = {ln.line_id: ln.sellable for ln in inspection.lines}
        return {
            ln.line_id: "sellable" if verdict.get(ln.line_id, not ln.defective) else "write_off"
            for ln in ret.lines
        }

    def _items(self) -> str:
        return ", ".join(f"{ln.quantity} x {ln.name}" for ln in self._require().lines)

    async def _record(
        self,
        status: ReturnStatus,
        detail: dict[str, str | int | float | bool | None],
        actor: str = "system",
    ) -> None:
        ret = self._require()
        self._status = status
        await workflow.execute_activity_method(
            ReturnActivities.record_return,
            ReturnProgress(
                return_id=ret.return_id,
                order_id=ret.order_id,
                status=status,
                at=workflow.now(),
                detail=detail,
                actor=actor,
            ),
            **SHORT,
        )

    async def _email(self, step: str, template: str, context: dict[str, object]) -> None:
        ret = self._require()
        await workflow.execute_activity_method(
            EmailActivities.send_email,
            EmailRequest(
                step=f"return:{ret.return_id}:{step}",
                order_id=ret.order_id,
                to=str(ret.customer.email),
                template=template,
                locale=ret.customer.locale,
                context={
                    "order_id": ret.order_id,
                    "customer_name": ret.customer.name,
                    "return_id": ret.return_id,
                    "items": self._items(),
                    "page_url": ret.page_url,
                    **context,
                },
            ),
            **EMAIL,
        )
