"""Fulfilment steps of the order workflow: release, shipment events, re-routing, promises.

Shipments live in the order workflow (the ``ShipmentBook``) rather than in child workflows:
stock, money and promises are settled per order, a re-route needs the whole order's view, and
an order has a handful of parcels, so one history stays small and every decision about a
parcel is visible in the order's own history.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from workflows.order_base import AUTHORISING, SHORT, OrderAborted, OrderBase

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.fulfilment import FulfilmentActivities
    from activities.payments.activities import PaymentActivities
    from core.models import (
        OrderStatus,
        PaymentResult,
        RerouteRequest,
        ShipmentEvent,
        ShipmentPlan,
    )
    from workflows.shipment_book import lines_summary, merged_lines


class FulfilmentSteps(OrderBase):
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
