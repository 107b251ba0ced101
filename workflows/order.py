"""The order workflow: one durable workflow per order, from risk check to delivery.

Deterministic: it decides, activities act. Every side effect is an activity keyed by order id +
step, so a replay or retry never repeats a reservation, a charge or an e-mail.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr imports it lazily)

    from activities.email import EmailActivities
    from activities.fulfilment import FulfilmentActivities
    from activities.order_log import OrderLogActivities
    from activities.payments.activities import PaymentActivities
    from activities.planning import PlanningActivities
    from activities.risk import RiskActivities
    from activities.stock import StockActivities
    from core.models import (
        EmailRequest,
        OrderInput,
        OrderState,
        OrderStatus,
        PaymentResult,
        ProgressEvent,
        RerouteRequest,
        ReservationResult,
        RiskAssessment,
        RoutingResult,
        ShipmentEvent,
        ShipmentPlan,
    )
    from workflows.search_attributes import ORDER_STATUS
    from workflows.shipment_book import ShipmentBook, lines_summary, merged_lines

SHORT = {"start_to_close_timeout": timedelta(seconds=15),
         "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10))}
ROUTING = {"start_to_close_timeout": timedelta(seconds=30),
           "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10))}
EMAIL = {"start_to_close_timeout": timedelta(seconds=30),
         "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1))}


class OrderAborted(Exception):
    """The order cannot go on (e.g. a re-route found no stock); compensation already ran."""


@workflow.defn
class OrderWorkflow:
    def __init__(self) -> None:
        self._state: OrderState | None = None
        self._order: OrderInput | None = None
        self._book = ShipmentBook()
        self._inbox: list[ShipmentEvent] = []
        self._reroutes: list[RerouteRequest] = []
        self._released = False
        self._auth: PaymentResult | None = None
        self._reroute_no = 0

    # ---- what the outside world sees -------------------------------------------------------
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

    # ---- the lifecycle -----------------------------------------------------------------------
    @workflow.run
    async def run(self, order: OrderInput) -> OrderState:
        self._order = order
        self._state = OrderState(order_id=order.order_id, status=OrderStatus.RECEIVED)
        with contextlib.suppress(OrderAborted):  # compensation ran; the state says why
            await self._lifecycle(order)
        return self.state()

    async def _lifecycle(self, order: OrderInput) -> None:
        assert self._state is not None
        await workflow.execute_activity_method(OrderLogActivities.register_order, order, **SHORT)
        await self._progress("placed", OrderStatus.RECEIVED,
                             {"channel": order.channel, "total_cents": order.total_cents})

        await self._set_status(OrderStatus.RISK_CHECK, "risk check")
        risk: RiskAssessment = await workflow.execute_activity_method(
            RiskActivities.assess_risk, order, **SHORT)
        await self._progress("risk_assessed", None, {"score": risk.score, "outcome": risk.outcome,
                                                     "reasons": "; ".join(risk.reasons)})
        if risk.outcome == "reject":
            await self._end_unfulfilled(OrderStatus.REJECTED, "risk check failed")
            return

        await self._set_status(OrderStatus.RESERVING, "stock reservation")
        plan = await self._plan_and_reserve(order)
        if plan is None:
            await self._end_unfulfilled(OrderStatus.FAILED, "items not in stock")
            return
        self._book.add(plan.shipments, "reserved")
        await self._progress("reserved", OrderStatus.CONFIRMED, {
            "shipments": len(plan.shipments), "strategy": plan.strategy,
            "optimal": plan.optimal,
            "locations": ",".join(s.location_id for s in plan.shipments)})
        await self._email("confirmation", "order_confirmation", {
            "lines": [{"sku": ln.sku, "name": ln.name, "quantity": ln.quantity,
                       "total_cents": ln.total_cents} for ln in order.lines],
            "shipping_cents": order.shipping_cents, "total_cents": order.total_cents,
            "address": ", ".join([order.delivery_address.name, order.delivery_address.street,
                                  f"{order.delivery_address.postcode} "
                                  f"{order.delivery_address.city}"]),
            "promised_delivery": self._book.latest_promise()})

        self._state.waiting_for = "payment authorisation"
        auth: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.authorise_payment,
            args=[order.order_id, order.total_cents, order.payment_method], **SHORT)
        if not auth.ok:
            await workflow.execute_activity_method(
                StockActivities.release_stock, order.order_id, **SHORT)
            await self._end_unfulfilled(OrderStatus.CANCELLED, f"payment declined ({auth.reason})")
            return
        self._auth = auth
        await self._progress("payment_authorised", OrderStatus.PAYMENT_AUTHORISED,
                             {"transaction_id": auth.transaction_id,
                              "amount_cents": auth.amount_cents})

        await self._apply_reroutes(order)  # locations that failed before we released to them
        to_release = self._book.live()
        await self._release(order, to_release)
        self._released = True
        await self._progress("released", OrderStatus.IN_FULFILMENT,
                             {"shipments": ",".join(s.shipment_id for s in to_release)})
        await self._fulfil(order, auth)
        await self._progress("completed", OrderStatus.COMPLETED, {})
        self._state.waiting_for = ""

    async def _plan_and_reserve(self, order: OrderInput) -> RoutingResult | None:
        """Plan, then reserve exactly the plan; a lost race re-plans on fresh stock."""
        for attempt in range(order.policy.reservation_attempts):
            plan: RoutingResult = await workflow.execute_activity_method(
                PlanningActivities.plan_route,
                args=[order, sorted(self._book.excluded_locations)], **ROUTING)
            if plan.uncovered or not plan.shipments:
                return None
            shipments = self._book.numbered(order.order_id, plan.shipments)
            result: ReservationResult = await workflow.execute_activity_method(
                StockActivities.reserve_stock, args=[order.order_id, shipments], **SHORT)
            if result.ok:
                return plan.model_copy(update={"shipments": shipments})
            await self._progress(f"reservation_race_{self._reroute_no}_{attempt}", None,
                                 {"conflicts": ",".join(result.conflicts)})
        return None

    async def _release(self, order: OrderInput, shipments: list[ShipmentPlan]) -> None:
        await asyncio.gather(*(
            workflow.execute_activity_method(FulfilmentActivities.release_shipment,
                                             args=[order.order_id, s], **SHORT)
            for s in shipments))
        for s in shipments:
            self._book.status[s.shipment_id] = "released"

    async def _fulfil(self, order: OrderInput, auth: PaymentResult) -> None:
        """Handle shipment events and re-routes, in arrival order, until every parcel arrived."""
        assert self._state is not None
        book = self._book
        while not book.all_done():
            self._state.waiting_for = "shipment events"
            await workflow.wait_condition(lambda: bool(self._inbox or self._reroutes))
            await self._apply_reroutes(order)
            if not self._inbox:
                continue
            event = self._inbox.pop(0)
            shipment = book.plans.get(event.shipment_id)
            if shipment is None:
                continue
            if event.kind == "rejected":
                if book.status[shipment.shipment_id] in ("released", "accepted"):
                    self._reroutes.append(RerouteRequest(
                        location_id=shipment.location_id, shipment_ids=[shipment.shipment_id],
                        reason=f"rejected by location: {event.reason or 'no reason given'}"))
                continue
            if not book.advances(shipment.shipment_id, event.kind):
                continue
            if event.kind == "delivered" and book.status[shipment.shipment_id] != "shipped":
                # The carrier's scan came first: the parcel evidently left, so settle that too.
                await self._on_shipped(order, shipment, event.model_copy(
                    update={"kind": "shipped"}), auth)
            if event.kind == "shipped":
                await self._on_shipped(order, shipment, event, auth)
            else:
                await workflow.execute_activity_method(
                    FulfilmentActivities.record_shipment_event, args=[order.order_id, event],
                    **SHORT)
                book.status[shipment.shipment_id] = event.kind
                if event.kind == "delivered":
                    await self._progress(f"delivered_{shipment.shipment_id}", None,
                                         {"shipment_id": shipment.shipment_id})

    async def _on_shipped(self, order: OrderInput, shipment: ShipmentPlan,
                          event: ShipmentEvent, auth: PaymentResult) -> None:
        """Consume stock, capture this parcel's money, tell the customer how to track it."""
        assert self._state is not None
        first_to_ship = self._book.none_shipped()
        tracking_url: str = await workflow.execute_activity_method(
            FulfilmentActivities.record_shipment_event, args=[order.order_id, event], **SHORT)
        self._book.status[shipment.shipment_id] = "shipped"
        self._state.tracking[shipment.shipment_id] = tracking_url
        # Goods are captured per parcel; the shipping fee with the first parcel that ships.
        amount = shipment.goods_cents + (order.shipping_cents if first_to_ship else 0)
        capture: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.capture_payment,
            args=[order.order_id, shipment.shipment_id, auth.transaction_id, amount], **SHORT)
        await self._progress(
            f"shipped_{shipment.shipment_id}",
            OrderStatus.SHIPPED if self._book.all_shipped() else OrderStatus.PARTIALLY_SHIPPED,
            {"shipment_id": shipment.shipment_id, "tracking_number": event.tracking_number,
             "captured_cents": capture.amount_cents if capture.ok else 0,
             "capture_ok": capture.ok})
        await self._email(f"shipped:{shipment.shipment_id}", "shipment_shipped", {
            "carrier": event.carrier or shipment.carrier,
            "tracking_number": event.tracking_number or "",
            "tracking_url": tracking_url,
            "lines": [ln.model_dump() for ln in shipment.lines]})

    # ---- re-routing --------------------------------------------------------------------------
    async def _apply_reroutes(self, order: OrderInput) -> None:
        while self._reroutes:
            request = self._reroutes.pop(0)
            self._book.excluded_locations.add(request.location_id)
            moving = self._book.open_at(request.location_id, request.shipment_ids)
            if moving:
                await self._reroute(order, moving, request)

    async def _reroute(self, order: OrderInput, moving: list[ShipmentPlan],
                       request: RerouteRequest) -> None:
        """Withdraw the shipments, re-plan their lines elsewhere, reserve, release if due."""
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
            await self._abort(f"could not re-route from {request.location_id}: not in stock")
        assert plan is not None
        new = self._book.add(plan.shipments, "reserved")
        if self._released:
            await self._release(order, new)
        await self._progress(step, None, {
            "from": request.location_id, "reason": request.reason,
            "moved": ",".join(s.shipment_id for s in moving),
            "to": ",".join(f"{s.shipment_id}@{s.location_id}" for s in new)})
        new_promise = self._book.latest_promise()
        if new_promise > old_promise:
            await self._email(step, "delivery_update", {
                "old_promise": old_promise, "new_promise": new_promise,
                "lines": lines_summary([ln for s in new for ln in s.lines])})

    async def _abort(self, reason: str) -> None:
        """Saga compensation: void the authorisation, free the stock, tell the customer."""
        assert self._order is not None
        order = self._order
        if self._auth is not None and self._book.none_shipped():
            await workflow.execute_activity_method(
                PaymentActivities.void_payment,
                args=[order.order_id, self._auth.transaction_id], **SHORT)
        await workflow.execute_activity_method(
            StockActivities.release_stock, order.order_id, **SHORT)
        await self._end_unfulfilled(OrderStatus.CANCELLED, reason)
        raise OrderAborted(reason)

    # ---- helpers -----------------------------------------------------------------------------
    async def _end_unfulfilled(self, status: OrderStatus, reason: str) -> None:
        assert self._state is not None
        await self._progress(status.value, status, {"reason": reason})
        await self._email(status.value, "order_cancelled", {"reason": reason})
        self._state.waiting_for = ""

    async def _set_status(self, status: OrderStatus, waiting_for: str) -> None:
        assert self._state is not None
        self._state.status = status
        self._state.waiting_for = waiting_for
        workflow.upsert_search_attributes([ORDER_STATUS.value_set(status.value)])

    async def _progress(self, step: str, status: OrderStatus | None,
                        detail: dict[str, str | int | float | bool | None]) -> None:
        """Record one step in the event log (and move the status), exactly once per step."""
        assert self._order is not None and self._state is not None
        if status is not None and status != self._state.status:
            await self._set_status(status, self._state.waiting_for)
        await workflow.execute_activity_method(
            OrderLogActivities.record_progress,
            ProgressEvent(order_id=self._order.order_id, key=f"{self._order.order_id}:{step}",
                          type=step, status=status, detail=detail, at=workflow.now()),
            **SHORT)

    async def _email(self, step: str, template: str, context: dict[str, object]) -> None:
        assert self._order is not None
        order = self._order
        await workflow.execute_activity_method(
            EmailActivities.send_email,
            EmailRequest(key=f"{order.order_id}:{step}", order_id=order.order_id,
                         to=str(order.customer.email), template=template,
                         locale=order.customer.locale,
                         context={"order_id": order.order_id,
                                  "customer_name": order.customer.name, **context}),
            **EMAIL)
