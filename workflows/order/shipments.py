"""The order's shipments in the workflow: plan and reserve, release, handle what warehouses
and carriers report, watch the promises, re-route, and change what is not shipped yet.

Shipments live in the order workflow (the ``ShipmentBook``) rather than in child workflows:
stock, money and promises are settled per order, a re-route or a replacement needs the whole
order's view, and an order has a handful of parcels, so one history stays small and every
decision about a parcel is visible in the order's own history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.order.journal import Detail, Journal
from workflows.order.options import ROUTING, SHORT
from workflows.order.patches import (
    DELAY_TOLD,
    EVENT_TIME_CAPPED,
    INVOICE_PER_PARCEL,
    PARCEL_CREDIT_NOTES,
)
from workflows.order.payments import Payments
from workflows.order.state import OrderAborted, OrderRun

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.billing.activities import BillingActivities
    from activities.fulfilment.activities import CompensationActivities, FulfilmentActivities
    from activities.orders.activities import PlanningActivities
    from activities.stock.activities import StockActivities
    from core.domain.orders import OrderInput, OrderStatus
    from core.domain.payments import PaymentResult
    from core.domain.reasons import ReasonCode
    from core.domain.shipment_book import merged_lines
    from core.domain.shipments import (
        AT_LOCATION,
        ON_THE_WAY,
        OPEN,
        RerouteRequest,
        ReservationResult,
        RoutingResult,
        ShipmentEvent,
        ShipmentLine,
        ShipmentPlan,
        ShipmentStatus,
    )

Cancel = Callable[[str, str, ReasonCode], Awaitable[tuple[int, int]]]
"""Cancel the whole order (reason for the log, actor, code for the customer) -> (voided,
refunded): the workflow's saga."""


class Shipments:
    def __init__(self, run: OrderRun, journal: Journal, payments: Payments, cancel: Cancel) -> None:
        self.run = run
        self.journal = journal
        self.payments = payments
        self.cancel = cancel
        self.uncovered: list[ShipmentLine] = []  # what the last plan could not cover

    # ---- planning ----------------------------------------------------------------------------
    async def plan_and_reserve(self, order: OrderInput, tag: str = "") -> RoutingResult | None:
        """Plan, then reserve exactly the plan; a lost race re-plans on fresh stock. None if
        the stock does not cover the order (``uncovered`` says what is missing). ``tag`` keeps
        the step names of a later attempt (a backorder's) apart from the first's."""
        book = self.run.book
        for attempt in range(order.policy.reservation_attempts):
            plan: RoutingResult = await self.run.db(
                PlanningActivities.plan_route,
                args=[order, sorted(book.excluded_locations)],
                **ROUTING,
            )
            if plan.uncovered or not plan.shipments:
                self.uncovered = plan.uncovered
                return None
            shipments = book.numbered(order.order_id, plan.shipments)
            result: ReservationResult = await self.run.db(
                StockActivities.reserve_stock, args=[order.order_id, shipments], **SHORT
            )
            if result.ok:
                return plan.model_copy(update={"shipments": shipments})
            await self.journal.progress(
                f"reservation_race_{len(book.plans)}_{self.run.reroute_no}_{attempt}{tag}",
                None,
                {"conflicts": ",".join(result.conflicts)},
            )
        return None

    async def release(self, shipments: list[ShipmentPlan]) -> None:
        order_id = self.run.order.order_id
        self.run.releasing |= {s.shipment_id for s in shipments}
        await asyncio.gather(
            *(
                self.run.db(FulfilmentActivities.release_shipment, args=[order_id, s], **SHORT)
                for s in shipments
            )
        )
        for s in shipments:
            self.run.book.status[s.shipment_id] = ShipmentStatus.RELEASED
            self.run.book.released_at[s.shipment_id] = workflow.now()
        self.run.releasing -= {s.shipment_id for s in shipments}

    async def withdraw(
        self, shipments: list[ShipmentPlan], reason: str, status: ShipmentStatus
    ) -> None:
        """Take shipments back from their locations (their stock is freed)."""
        order_id = self.run.order.order_id
        for s in shipments:
            args: list[object] = [order_id, s.shipment_id, reason]
            if status != ShipmentStatus.REROUTED:  # the activity's default
                args.append(status.value)
            await self.run.db(FulfilmentActivities.withdraw_shipment, args=args, **SHORT)
            self.run.book.status[s.shipment_id] = status

    # ---- events ------------------------------------------------------------------------------
    async def on_event(self, event: ShipmentEvent) -> None:
        run = self.run
        book = run.book
        shipment = book.plans.get(event.shipment_id)
        if shipment is None:
            return
        status = book.status[shipment.shipment_id]
        if event.kind == "rejected":
            if status in AT_LOCATION:
                run.reroutes.append(
                    RerouteRequest(
                        location_id=shipment.location_id,
                        shipment_ids=[shipment.shipment_id],
                        reason=f"rejected by location: {event.reason or 'no reason given'}",
                    )
                )
                await self.apply_reroutes()
            return
        if event.kind == "exception":
            if status in ON_THE_WAY:
                await self._on_exception(shipment, event)
            return
        if not book.advances(shipment.shipment_id, event.kind):
            return
        kind = ShipmentStatus(event.kind)
        if kind in (ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED) and status in OPEN:
            # The carrier's scan came first: the parcel evidently left, so settle that too.
            await self._on_shipped(shipment, event.model_copy(update={"kind": "shipped"}))
        if kind == ShipmentStatus.SHIPPED:
            await self._on_shipped(shipment, event)
            return
        await run.db(
            FulfilmentActivities.record_shipment_event, args=[run.order.order_id, event], **SHORT
        )
        book.status[shipment.shipment_id] = kind
        if kind == ShipmentStatus.DELIVERED:
            await self.journal.progress(
                f"delivered_{shipment.shipment_id}", None, {"shipment_id": shipment.shipment_id}
            )
            arrived = event.at or workflow.now()
            if arrived > workflow.now() and workflow.patched(EVENT_TIME_CAPPED):
                arrived = workflow.now()  # a sender's clock ahead of ours: it arrived by now
            if (
                run.monitoring
                and shipment.deliver_by is not None
                and arrived > shipment.deliver_by
                and shipment.transfer_to is None
            ):
                await self.missed_promise(shipment, "delivered_late")

    async def _on_shipped(self, shipment: ShipmentPlan, event: ShipmentEvent) -> None:
        """Consume stock, capture this parcel's money, tell the customer how to track it.
        A transfer into a pickup store is paid and announced at pickup instead."""
        run = self.run
        order = run.order
        sid = shipment.shipment_id
        first_to_ship = run.book.none_shipped()
        tracking_url: str = await run.db(
            FulfilmentActivities.record_shipment_event, args=[order.order_id, event], **SHORT
        )
        run.book.status[sid] = ShipmentStatus.SHIPPED
        run.state.tracking[sid] = tracking_url
        detail: Detail = {"shipment_id": sid, "tracking_number": event.tracking_number}
        direct = order.pickup_store_id is None
        if direct:
            detail |= await self.payments.capture_parcel(shipment, first_to_ship)
        invoice = ""
        if direct and workflow.patched(INVOICE_PER_PARCEL):
            if order.policy.billing.invoice_per == "parcel":
                invoice = await workflow.execute_activity_method(
                    BillingActivities.issue_parcel_invoice,
                    args=[order, shipment, first_to_ship],
                    **SHORT,
                )
            elif run.book.all_shipped():  # one invoice for the order, with its last parcel
                invoice = await workflow.execute_activity_method(
                    BillingActivities.issue_order_invoice, args=[order], **SHORT
                )
            if invoice:
                detail["invoice_number"] = invoice
        status = None
        if direct:
            status = (
                OrderStatus.SHIPPED if run.book.all_shipped() else OrderStatus.PARTIALLY_SHIPPED
            )
        await self.journal.progress(f"shipped_{sid}", status, detail)
        if direct:
            await self.journal.email(
                f"shipped_{sid}",
                "shipment_shipped",
                {
                    "carrier": event.carrier or shipment.carrier,
                    "tracking_number": event.tracking_number or "",
                    "tracking_url": tracking_url,
                    "lines": self.journal.parcel_lines(shipment.lines),
                    **({"invoice_number": invoice} if invoice else {}),
                },
                invoices=[invoice] if invoice else [],
            )

    async def _credit(self, shipment: ShipmentPlan, step: str) -> str:
        """The credit note for a parcel's goods given back; "" if it had no invoice."""
        number: str = await workflow.execute_activity_method(
            BillingActivities.issue_parcel_credit_note,
            args=[self.run.order, shipment, step],
            **SHORT,
        )
        return number

    async def _on_exception(self, shipment: ShipmentPlan, event: ShipmentEvent) -> None:
        """Lost or damaged: send a replacement. Returned to sender: restock and refund."""
        run = self.run
        order = run.order
        await run.db(
            FulfilmentActivities.record_shipment_event, args=[order.order_id, event], **SHORT
        )
        sid = shipment.shipment_id
        lost_goods = {
            "lines": self.journal.parcel_summary(shipment.lines),
            "amount_cents": shipment.goods_cents,
        }
        if event.exception == "returned_to_sender":
            run.book.status[sid] = ShipmentStatus.RETURNED
            voided, refunded = await self.payments.give_back(
                shipment.goods_cents,
                f"returned_{sid}",
                "parcel returned to us undelivered",
                ReasonCode.PARCEL_RETURNED,
            )
            detail: Detail = {
                "shipment_id": sid,
                "refunded_cents": refunded,
                "voided_cents": voided,
            }
            if workflow.patched(PARCEL_CREDIT_NOTES):
                detail["credit_note"] = await self._credit(shipment, f"returned_{sid}")
            await self.journal.progress(f"returned_{sid}", None, detail)
            await self.journal.email(f"returned_{sid}", "parcel_returned", lost_goods)
            return
        run.book.status[sid] = ShipmentStatus.LOST
        await self.journal.progress(
            f"lost_{sid}", None, {"shipment_id": sid, "exception": event.exception}
        )
        # Already paid for: the replacement is free, so it captures nothing.
        plan = await self.plan_and_reserve(_part_of(order, merged_lines([shipment])))
        if plan is None:
            await self.payments.give_back(
                shipment.goods_cents,
                f"lost_{sid}",
                "lost parcel, no replacement in stock",
                ReasonCode.PARCEL_LOST,
            )
            if workflow.patched(PARCEL_CREDIT_NOTES):
                await self._credit(shipment, f"lost_{sid}")
            await self.journal.email(f"lost_{sid}", "parcel_returned", lost_goods)
            return
        replacements = run.book.add(
            [p.model_copy(update={"goods_cents": 0}) for p in plan.shipments],
            ShipmentStatus.RESERVED,
        )
        await self.release(replacements)
        await self.journal.progress(
            f"replacement_{sid}",
            None,
            {
                "for": sid,
                "replacements": ",".join(f"{p.shipment_id}@{p.location_id}" for p in replacements),
            },
        )
        await self.missed_promise(shipment, "lost", replacements[-1].promised_delivery.isoformat())

    # ---- promises ----------------------------------------------------------------------------
    def next_deadline(self) -> datetime | None:
        policy = self.run.order.policy.fulfilment
        return self.run.book.next_deadline(policy.accept_within, policy.reroute_unshipped_after)

    async def check_promises(self) -> None:
        run = self.run
        policy = run.order.policy.fulfilment
        for plan, what in run.book.due(
            workflow.now(), policy.accept_within, policy.reroute_unshipped_after
        ):
            run.book.handled.add((plan.shipment_id, what))
            if what == "not_accepted":
                reason = f"not accepted within {policy.accept_within}"
            elif what == "still_unshipped":
                reason = "not shipped in time"
            else:
                await self.missed_promise(plan, what)
                continue
            run.reroutes.append(
                RerouteRequest(
                    location_id=plan.location_id, shipment_ids=[plan.shipment_id], reason=reason
                )
            )
        await self.apply_reroutes()

    async def missed_promise(
        self, shipment: ShipmentPlan, what: str, new_estimate: str = ""
    ) -> None:
        """Tell the customer before they ask, with a new estimate, and compensate once per
        parcel: the express (or same-day) fee back, else a voucher."""
        run = self.run
        order = run.order
        book = run.book
        sid = shipment.shipment_id
        if (sid, "compensated") in book.handled:
            return
        book.handled.add((sid, "compensated"))
        self.journal.mark(late=True)
        policy = order.policy
        estimate = (
            new_estimate
            or (
                shipment.promised_delivery + timedelta(days=2 if what == "ship_late" else 1)
            ).isoformat()
        )
        promised = shipment.promised_delivery.isoformat()
        detail: Detail = {
            "shipment_id": sid,
            "why": what,
            "promised": promised,
            "new_estimate": estimate,
        }
        context: dict[str, object] = {
            "why": what,
            "promised": promised,
            "new_estimate": estimate,
            "voucher_code": "",
            "refund_cents": 0,
            "voucher_cents": 0,
        }
        fee_back = (
            policy.shipping_fee_cents.get(order.shipping_speed, 0)
            - policy.shipping_fee_cents["standard"]
        )
        if (
            order.shipping_speed != "standard"
            and policy.fulfilment.refund_express_fee
            and fee_back > 0
            and ("order", "fee_refunded") not in book.handled
        ):
            book.handled.add(("order", "fee_refunded"))
            # The fee comes off the order: not captured if still open, refunded if it was.
            run.order = order.model_copy(
                update={"shipping_cents": max(0, order.shipping_cents - fee_back)}
            )
            await self.payments.give_back(
                fee_back,
                f"late_{sid}",
                f"{order.shipping_speed} promise missed",
                ReasonCode.PROMISE_MISSED,
            )
            detail["refund_cents"] = context["refund_cents"] = fee_back
            if workflow.patched(PARCEL_CREDIT_NOTES):
                detail["credit_note"] = await workflow.execute_activity_method(
                    BillingActivities.issue_shipping_credit_note,
                    args=[order.order_id, fee_back, f"late_{sid}"],
                    **SHORT,
                )
        elif policy.fulfilment.voucher_cents:
            code = f"SORRY-{order.order_id}-{len(book.handled)}"
            await run.db(
                CompensationActivities.issue_voucher,
                args=[
                    order.order_id,
                    code,
                    policy.fulfilment.voucher_cents,
                    workflow.now() + policy.fulfilment.voucher_valid,
                ],
                **SHORT,
            )
            detail["voucher_code"] = context["voucher_code"] = code
            detail["voucher_cents"] = context["voucher_cents"] = policy.fulfilment.voucher_cents
        await self.journal.progress(f"delay_{sid}", None, detail, snapshot=True)
        if workflow.patched(DELAY_TOLD):
            book.told = max(book.told, estimate)  # a re-route compares with this
            context["location_id"] = shipment.location_id  # "left our store", not "warehouse"
        await self.journal.email(
            f"delay_{sid}",
            "delay_notice",
            {**context, "lines": self.journal.parcel_summary(shipment.lines)},
        )

    # ---- re-routing --------------------------------------------------------------------------
    async def apply_reroutes(self) -> None:
        run = self.run
        while run.reroutes:
            request = run.reroutes.pop(0)
            if request.location_id == run.order.pickup_store_id:
                continue  # the pickup store cannot be routed around; ops see it in the log
            run.book.excluded_locations.add(request.location_id)
            moving = run.book.open_at(request.location_id, request.shipment_ids)
            if moving:
                await self._reroute(moving, request)

    async def _reroute(self, moving: list[ShipmentPlan], request: RerouteRequest) -> None:
        """Withdraw the shipments, re-plan their lines elsewhere, reserve, release if due."""
        run = self.run
        run.reroute_no += 1
        step = f"reroute_{run.reroute_no}"
        old_promise = run.book.latest_promise()
        await self.withdraw(moving, request.reason, ShipmentStatus.REROUTED)
        plan = await self.plan_and_reserve(_part_of(run.order, merged_lines(moving)))
        if plan is None:
            await self.cancel(
                f"could not re-route from {request.location_id}: not in stock",
                "system",
                ReasonCode.OUT_OF_STOCK,
            )
            raise OrderAborted()
        new = run.book.add(plan.shipments, ShipmentStatus.RESERVED)
        self.journal.mark()
        if run.released:
            await self.release(new)
        await self.journal.progress(
            step,
            None,
            {
                "from": request.location_id,
                "reason": request.reason,
                "moved": ",".join(s.shipment_id for s in moving),
                "to": ",".join(f"{s.shipment_id}@{s.location_id}" for s in new),
            },
        )
        new_promise = run.book.latest_promise()
        told = run.book.told
        if told and workflow.patched(DELAY_TOLD):
            # the customer holds the delay notice's date: any other date is news to them
            changed, old_promise = new_promise != told, told
            run.book.told = ""
        else:
            changed = new_promise > old_promise
        if changed:
            await self.journal.email(
                step,
                "delivery_update",
                {
                    "old_promise": old_promise,
                    "new_promise": new_promise,
                    "lines": self.journal.parcel_summary([ln for s in new for ln in s.lines]),
                },
            )

    # ---- changes by customer service ---------------------------------------------------------
    async def replan(
        self, old: OrderInput, new: OrderInput, step: str, replacement: PaymentResult | None
    ) -> None:
        """Give up the old reservation, route and reserve the new order; if the stock is not
        there, put the old order back as it was."""
        run = self.run
        await self.withdraw(run.book.open(), f"replaced by {step}", ShipmentStatus.CANCELLED)
        plan = await self.plan_and_reserve(new)
        if plan is not None:
            run.book.add(plan.shipments, ShipmentStatus.RESERVED)
            return
        if replacement is not None:
            await self.payments.void_replacement(replacement, step)
        restored = await self.plan_and_reserve(old)
        if restored is None:
            await self.cancel(
                "stock vanished while the order was being changed",
                "system",
                ReasonCode.OUT_OF_STOCK,
            )
            raise ApplicationError("order could not be restored and was cancelled")
        run.book.add(restored.shipments, ShipmentStatus.RESERVED)
        raise ApplicationError("not enough stock for the change; order unchanged")

    async def take_out(self, cancel: dict[str, int], prices: dict[str, int]) -> None:
        """Cancelled units leave their (unshipped) shipments, latest shipment first."""
        for line_id, quantity in cancel.items():
            for changed in self.run.book.take_out(line_id, quantity, prices):
                await self.run.db(
                    FulfilmentActivities.resize_shipment,
                    args=[self.run.order.order_id, changed],
                    **SHORT,
                )


def _part_of(order: OrderInput, quantities: dict[str, int]) -> OrderInput:
    """The order reduced to these units of its lines (to re-plan or replace them)."""
    return order.model_copy(
        update={
            "lines": [
                ln.model_copy(update={"quantity": quantities[ln.line_id]})
                for ln in order.lines
                if quantities.get(ln.line_id, 0)
            ]
        }
    )
