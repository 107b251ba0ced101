"""Fulfilment steps of the order workflow: release, shipment events, promises, re-routing,
click & collect.

Shipments live in the order workflow (the ``ShipmentBook``) rather than in child workflows:
stock, money and promises are settled per order, a re-route or a replacement needs the whole
order's view, and an order has a handful of parcels, so one history stays small and every
decision about a parcel is visible in the order's own history.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow

from workflows.order.base import AUTHORISING, SHORT, OrderAborted, OrderBase

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.fulfilment.activities import CompensationActivities, FulfilmentActivities
    from activities.payments.activities import PaymentActivities
    from core.domain.orders import OrderStatus
    from core.domain.payments import PaymentResult
    from core.domain.shipment_book import OPEN, lines_summary, merged_lines
    from core.domain.shipments import RerouteRequest, ShipmentEvent, ShipmentPlan

MONITORING = "shipment-monitoring-v1"  # patch id: orders started before it wait without timers
HANDOVER_ENDS_WAIT = "pickup-handover-ends-wait-v1"


@dataclass
class PickupTicket:
    """A pickup order whose goods are all in the store, waiting for the customer."""

    code: str
    expires_at: datetime
    reminded: bool = False


class FulfilmentSteps(OrderBase):
    _pickup: PickupTicket | None = None
    _monitoring: bool = False

    async def _release(self, shipments: list[ShipmentPlan]) -> None:
        assert self._order is not None
        await asyncio.gather(
            *(
                self._db(
                    FulfilmentActivities.release_shipment, args=[self._order.order_id, s], **SHORT
                )
                for s in shipments
            )
        )
        for s in shipments:
            self._book.status[s.shipment_id] = "released"
            self._book.released_at[s.shipment_id] = workflow.now()

    async def _fulfil(self) -> None:
        """Handle shipment events, re-routes, payments and broken promises until every parcel
        arrived (or was picked up)."""
        assert self._state is not None and self._order is not None
        self._monitoring = workflow.patched(MONITORING)
        # A handover (an Update) can finish every parcel while we wait: then stop waiting.
        ends_when_done = workflow.patched(HANDOVER_ENDS_WAIT)
        book = self._book
        while not book.all_done():
            self._state.waiting_for = self._waiting_for()
            wake = lambda: (  # noqa: E731
                bool(self._inbox or self._reroutes or self._payments)
                or (ends_when_done and book.all_done())
            )
            deadline = self._next_deadline()
            if deadline is None:
                await self._wait(wake)
            elif deadline > workflow.now():
                await self._wait(wake, deadline - workflow.now())
            async with self._step():
                await self._book_payments()
                await self._apply_reroutes()
                if self._inbox:
                    await self._on_event(self._inbox.pop(0))
                if self._monitoring:
                    await self._check_promises()
                    await self._check_pickup()

    def _waiting_for(self) -> str:
        if self._pickup is not None:
            return f"customer pickup until {self._pickup.expires_at.isoformat()}"
        return "shipment events"

    def _next_deadline(self) -> datetime | None:
        if not self._monitoring:
            return None
        assert self._order is not None
        policy = self._order.policy
        times = [
            t
            for t in (
                self._book.next_deadline(
                    policy.fulfilment.accept_within, policy.fulfilment.reroute_unshipped_after
                ),
                self._pickup_deadline(),
            )
            if t is not None
        ]
        return min(times) if times else None

    # ---- events ------------------------------------------------------------------------------
    async def _on_event(self, event: ShipmentEvent) -> None:
        assert self._order is not None
        book = self._book
        shipment = book.plans.get(event.shipment_id)
        if shipment is None:
            return
        status = book.status[shipment.shipment_id]
        if event.kind == "rejected":
            if status in OPEN - {"reserved"}:
                self._reroutes.append(
                    RerouteRequest(
                        location_id=shipment.location_id,
                        shipment_ids=[shipment.shipment_id],
                        reason=f"rejected by location: {event.reason or 'no reason given'}",
                    )
                )
                await self._apply_reroutes()
            return
        if event.kind == "exception":
            if status in ("shipped", "in_transit"):
                await self._on_exception(shipment, event)
            return
        if not book.advances(shipment.shipment_id, event.kind):
            return
        if event.kind in ("in_transit", "delivered") and status in OPEN:
            # The carrier's scan came first: the parcel evidently left, so settle that too.
            await self._on_shipped(shipment, event.model_copy(update={"kind": "shipped"}))
        if event.kind == "shipped":
            await self._on_shipped(shipment, event)
            return
        await self._db(
            FulfilmentActivities.record_shipment_event, args=[self._order.order_id, event], **SHORT
        )
        book.status[shipment.shipment_id] = event.kind
        if event.kind == "delivered":
            await self._progress(
                f"delivered_{shipment.shipment_id}", None, {"shipment_id": shipment.shipment_id}
            )
            arrived = event.at or workflow.now()
            if (
                self._monitoring
                and shipment.deliver_by is not None
                and arrived > shipment.deliver_by
                and shipment.transfer_to is None
            ):
                await self._missed_promise(shipment, "delivered_late")

    async def _on_shipped(self, shipment: ShipmentPlan, event: ShipmentEvent) -> None:
        """Consume stock, capture this parcel's money, tell the customer how to track it.
        A transfer into a pickup store is paid and announced at pickup instead."""
        assert self._state is not None and self._order is not None
        order = self._order
        first_to_ship = self._book.none_shipped()
        tracking_url: str = await self._db(
            FulfilmentActivities.record_shipment_event, args=[order.order_id, event], **SHORT
        )
        self._book.status[shipment.shipment_id] = "shipped"
        self._state.tracking[shipment.shipment_id] = tracking_url
        detail: dict[str, str | int | float | bool | None] = {
            "shipment_id": shipment.shipment_id,
            "tracking_number": event.tracking_number,
        }
        direct = order.pickup_store_id is None
        if direct and order.payment_method in AUTHORISING:
            # Goods are captured per parcel; the shipping fee with the first parcel that ships.
            amount = shipment.goods_cents + (order.shipping_cents if first_to_ship else 0)
            if amount:
                capture: PaymentResult = await workflow.execute_activity_method(
                    PaymentActivities.capture_payment,
                    args=[
                        order.order_id,
                        shipment.shipment_id,
                        self._money.authorisation_id,
                        amount,
                    ],
                    **SHORT,
                )
                if capture.ok:
                    self._money.captured += amount
                detail |= {
                    "captured_cents": capture.amount_cents if capture.ok else 0,
                    "capture_ok": capture.ok,
                }
        await self._progress(
            f"shipped_{shipment.shipment_id}",
            OrderStatus.SHIPPED
            if direct and self._book.all_shipped()
            else OrderStatus.PARTIALLY_SHIPPED
            if direct
            else None,
            detail,
        )
        if direct:
            await self._email(
                f"shipped:{shipment.shipment_id}",
                "shipment_shipped",
                {
                    "carrier": event.carrier or shipment.carrier,
                    "tracking_number": event.tracking_number or "",
                    "tracking_url": tracking_url,
                    "lines": [ln.model_dump() for ln in shipment.lines],
                },
            )

    async def _on_exception(self, shipment: ShipmentPlan, event: ShipmentEvent) -> None:
        """Lost or damaged: send a replacement. Returned to sender: restock and refund."""
        assert self._order is not None
        order = self._order
        await self._db(
            FulfilmentActivities.record_shipment_event, args=[order.order_id, event], **SHORT
        )
        sid = shipment.shipment_id
        if event.exception == "returned_to_sender":
            self._book.status[sid] = "returned"
            voided, refunded = await self._give_back(
                shipment.goods_cents, f"returned_{sid}", "parcel returned to us undelivered"
            )
            await self._progress(
                f"returned_{sid}",
                None,
                {"shipment_id": sid, "refunded_cents": refunded, "voided_cents": voided},
            )
            await self._email(
                f"returned:{sid}",
                "parcel_returned",
                {"lines": lines_summary(shipment.lines), "amount_cents": shipment.goods_cents},
            )
            return
        self._book.status[sid] = "lost"
        await self._progress(
            f"lost_{sid}", None, {"shipment_id": sid, "exception": event.exception}
        )
        # Already paid for: the replacement is free, so it captures nothing.
        part = order.model_copy(
            update={
                "lines": [
                    ln.model_copy(update={"quantity": q})
                    for ln in order.lines
                    if (q := merged_lines([shipment]).get(ln.line_id, 0))
                ]
            }
        )
        plan = await self._plan_and_reserve(part)
        if plan is None:
            voided, refunded = await self._give_back(
                shipment.goods_cents, f"lost_{sid}", "lost parcel, no replacement in stock"
            )
            await self._email(
                f"lost:{sid}",
                "parcel_returned",
                {"lines": lines_summary(shipment.lines), "amount_cents": shipment.goods_cents},
            )
            return
        replacements = self._book.add(
            [p.model_copy(update={"goods_cents": 0}) for p in plan.shipments], "reserved"
        )
        await self._release(replacements)
        await self._progress(
            f"replacement_{sid}",
            None,
            {
                "for": sid,
                "replacements": ",".join(f"{p.shipment_id}@{p.location_id}" for p in replacements),
            },
        )
        await self._missed_promise(shipment, "lost", replacements[-1].promised_delivery.isoformat())

    # ---- promises ----------------------------------------------------------------------------
    async def _check_promises(self) -> None:
        assert self._order is not None
        policy = self._order.policy.fulfilment
        for plan, what in self._book.due(
            workflow.now(), policy.accept_within, policy.reroute_unshipped_after
        ):
            self._book.handled.add((plan.shipment_id, what))
            if what == "not_accepted":
                self._reroutes.append(
                    RerouteRequest(
                        location_id=plan.location_id,
                        shipment_ids=[plan.shipment_id],
                        reason=f"not accepted within {policy.accept_within}",
                    )
                )
            elif what == "still_unshipped":
                self._reroutes.append(
                    RerouteRequest(
                        location_id=plan.location_id,
                        shipment_ids=[plan.shipment_id],
                        reason="not shipped in time",
                    )
                )
            else:
                await self._missed_promise(plan, what)
        await self._apply_reroutes()

    async def _missed_promise(
        self, shipment: ShipmentPlan, what: str, new_estimate: str = ""
    ) -> None:
        """Tell the customer before they ask, with a new estimate, and compensate once per
        parcel: the express (or same-day) fee back, else a voucher."""
        assert self._order is not None
        order = self._order
        sid = shipment.shipment_id
        if (sid, "compensated") in self._book.handled:
            return
        self._book.handled.add((sid, "compensated"))
        self._mark(late=True)
        policy = order.policy
        estimate = (
            new_estimate
            or (
                shipment.promised_delivery + timedelta(days=2 if what == "ship_late" else 1)
            ).isoformat()
        )
        detail: dict[str, str | int | float | bool | None] = {
            "shipment_id": sid,
            "why": what,
            "promised": shipment.promised_delivery.isoformat(),
            "new_estimate": estimate,
        }
        context: dict[str, object] = {
            "why": what,
            "promised": detail["promised"],
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
            and ("order", "fee_refunded") not in self._book.handled
        ):
            self._book.handled.add(("order", "fee_refunded"))
            # The fee comes off the order: not captured if still open, refunded if it was.
            self._order = order.model_copy(
                update={"shipping_cents": max(0, order.shipping_cents - fee_back)}
            )
            await self._give_back(fee_back, f"late_{sid}", f"{order.shipping_speed} promise missed")
            detail["refund_cents"] = context["refund_cents"] = fee_back
        elif policy.fulfilment.voucher_cents:
            code = f"SORRY-{order.order_id}-{len(self._book.handled)}"
            await self._db(
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
        await self._progress(f"delay_{sid}", None, detail, snapshot=True)
        await self._email(
            f"delay:{sid}", "delay_notice", {**context, "lines": lines_summary(shipment.lines)}
        )

    # ---- click & collect ---------------------------------------------------------------------
    def _pickup_deadline(self) -> datetime | None:
        if self._pickup is None:
            return None
        assert self._order is not None
        if not self._pickup.reminded:
            return self._pickup.expires_at - self._order.policy.pickup.reminder_before
        return self._pickup.expires_at

    async def _check_pickup(self) -> None:
        """All goods in the store: issue the code; then remind, and cancel when it expires."""
        assert self._order is not None
        order = self._order
        if order.pickup_store_id is None or self._ended:
            return
        policy = order.policy.pickup
        if self._pickup is None:
            if not self._book.ready_for_pickup():
                return
            self._pickup = PickupTicket(
                code=f"{workflow.random().randint(0, 999_999):06d}",
                expires_at=workflow.now() + policy.window,
            )
            await self._progress(
                "ready_for_pickup",
                OrderStatus.READY_FOR_PICKUP,
                {"store": order.pickup_store_id, "until": self._pickup.expires_at.isoformat()},
            )
            await self._email("ready_for_pickup", "ready_for_pickup", self._pickup_context())
            return
        now = workflow.now()
        if now >= self._pickup.expires_at:
            await self._pickup_expired()
        elif not self._pickup.reminded and now >= (
            self._pickup.expires_at - policy.reminder_before
        ):
            self._pickup.reminded = True
            await self._progress("pickup_reminder", None, {})
            await self._email("pickup_reminder", "pickup_reminder", self._pickup_context())

    def _pickup_context(self) -> dict[str, object]:
        assert self._order is not None and self._pickup is not None
        return {
            "code": self._pickup.code,
            "store": self._order.pickup_store_label or self._order.pickup_store_id,
            "until": self._pickup.expires_at.date().isoformat(),
            "amount_cents": (
                self._order.total_cents if self._order.payment_method == "cash_on_pickup" else 0
            ),
        }

    async def _pickup_expired(self) -> None:
        """Nobody came: the goods go back on the store's shelf, the money back to the
        customer."""
        assert self._order is not None
        order = self._order
        arrived = [
            p
            for p in self._book.live()
            if p.transfer_to is not None and self._book.status[p.shipment_id] == "delivered"
        ]
        for plan in arrived:  # transferred goods now sit in the store: they become its stock
            await self._db(
                FulfilmentActivities.restock,
                args=[order.order_id, plan, order.pickup_store_id, "pickup window expired"],
                **SHORT,
            )
            self._book.status[plan.shipment_id] = "cancelled"
        await self._cancel_everything("not picked up in time", actor="policy")
        raise OrderAborted()

    async def _hand_over(self, staff: str) -> None:
        """The customer showed the right code: hand everything over and take the money."""
        assert self._order is not None and self._state is not None
        order = self._order
        for plan in self._book.live():
            await self._db(
                FulfilmentActivities.record_shipment_event,
                args=[
                    order.order_id,
                    ShipmentEvent(shipment_id=plan.shipment_id, kind="picked_up"),
                ],
                **SHORT,
            )
            self._book.status[plan.shipment_id] = "picked_up"
        if order.payment_method == "cash_on_pickup":
            paid: PaymentResult = await workflow.execute_activity_method(
                PaymentActivities.record_incoming_payment,
                args=[order.order_id, "cash-at-pickup", order.total_cents, f"cash {staff}"],
                **SHORT,
            )
            self._money.received += order.total_cents
            taken = paid.amount_cents
        else:
            capture: PaymentResult = await workflow.execute_activity_method(
                PaymentActivities.capture_payment,
                args=[order.order_id, "pickup", self._money.authorisation_id, order.total_cents],
                **SHORT,
            )
            if capture.ok:
                self._money.captured += order.total_cents
            taken = capture.amount_cents if capture.ok else 0
        self._pickup = None
        await self._progress("picked_up", None, {"paid_cents": taken}, actor=staff)

    # ---- re-routing --------------------------------------------------------------------------
    async def _apply_reroutes(self) -> None:
        while self._reroutes:
            request = self._reroutes.pop(0)
            if request.location_id == (self._order.pickup_store_id if self._order else None):
                continue  # the pickup store cannot be routed around; ops see it in the log
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
            await self._db(
                FulfilmentActivities.withdraw_shipment,
                args=[order.order_id, s.shipment_id, request.reason],
                **SHORT,
            )
            self._book.status[s.shipment_id] = "rerouted"
        quantities = merged_lines(moving)
        part = order.model_copy(
            update={
                "lines": [
                    ln.model_copy(update={"quantity": quantities[ln.line_id]})
                    for ln in order.lines
                    if ln.line_id in quantities
                ]
            }
        )
        plan = await self._plan_and_reserve(part)
        if plan is None:
            await self._cancel_everything(
                f"could not re-route from {request.location_id}: not in stock", actor="system"
            )
            raise OrderAborted()
        new = self._book.add(plan.shipments, "reserved")
        self._mark()
        if self._released:
            await self._release(new)
        await self._progress(
            step,
            None,
            {
                "from": request.location_id,
                "reason": request.reason,
                "moved": ",".join(s.shipment_id for s in moving),
                "to": ",".join(f"{s.shipment_id}@{s.location_id}" for s in new),
            },
        )
        new_promise = self._book.latest_promise()
        if new_promise > old_promise:
            await self._email(
                step,
                "delivery_update",
                {
                    "old_promise": old_promise,
                    "new_promise": new_promise,
                    "lines": lines_summary([ln for s in new for ln in s.lines]),
                },
            )
