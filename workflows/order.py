"""The order workflow: one durable workflow per order, from risk check to delivery.

Deterministic: it decides, activities act. Every side effect is an activity keyed by order id +
step, so a replay or retry never repeats a reservation, a charge or an e-mail.
"""

from __future__ import annotations

import asyncio
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
        ReservationResult,
        RiskAssessment,
        RoutingResult,
        ShipmentEvent,
        ShipmentPlan,
    )
    from workflows.search_attributes import ORDER_STATUS

SHORT = {"start_to_close_timeout": timedelta(seconds=15),
         "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10))}
ROUTING = {"start_to_close_timeout": timedelta(seconds=30),
           "retry_policy": RetryPolicy(maximum_interval=timedelta(seconds=10))}
EMAIL = {"start_to_close_timeout": timedelta(seconds=30),
         "retry_policy": RetryPolicy(maximum_interval=timedelta(minutes=1))}


@workflow.defn
class OrderWorkflow:
    def __init__(self) -> None:
        self._state: OrderState | None = None
        self._inbox: list[ShipmentEvent] = []
        self._order: OrderInput | None = None

    # ---- what the outside world sees -------------------------------------------------------
    @workflow.query
    def state(self) -> OrderState:
        assert self._state is not None
        return self._state

    @workflow.signal
    def shipment_event(self, event: ShipmentEvent) -> None:
        """Warehouse systems and carriers report progress; handled in order in ``run``."""
        self._inbox.append(event)

    # ---- the lifecycle -----------------------------------------------------------------------
    @workflow.run
    async def run(self, order: OrderInput) -> OrderState:
        self._order = order
        self._state = OrderState(order_id=order.order_id, status=OrderStatus.RECEIVED)
        await workflow.execute_activity_method(OrderLogActivities.register_order, order, **SHORT)
        await self._progress("placed", OrderStatus.RECEIVED,
                             {"channel": order.channel, "total_cents": order.total_cents})

        await self._set_status(OrderStatus.RISK_CHECK, "risk check")
        risk: RiskAssessment = await workflow.execute_activity_method(
            RiskActivities.assess_risk, order, **SHORT)
        await self._progress("risk_assessed", None, {"score": risk.score, "outcome": risk.outcome,
                                                     "reasons": "; ".join(risk.reasons)})
        if risk.outcome == "reject":
            return await self._end_unfulfilled(OrderStatus.REJECTED, "risk check failed")

        await self._set_status(OrderStatus.RESERVING, "stock reservation")
        plan = await self._plan_and_reserve(order)
        if plan is None:
            return await self._end_unfulfilled(OrderStatus.FAILED, "items not in stock")
        self._state.shipments = plan.shipments
        self._state.shipment_status = {s.shipment_id: "reserved" for s in plan.shipments}
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
            "promised_delivery": max(s.promised_delivery for s in plan.shipments).isoformat()})

        self._state.waiting_for = "payment authorisation"
        auth: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.authorise_payment,
            args=[order.order_id, order.total_cents, order.payment_method], **SHORT)
        if not auth.ok:
            await workflow.execute_activity_method(
                StockActivities.release_stock, order.order_id, **SHORT)
            return await self._end_unfulfilled(OrderStatus.CANCELLED,
                                               f"payment declined ({auth.reason})")
        await self._progress("payment_authorised", OrderStatus.PAYMENT_AUTHORISED,
                             {"transaction_id": auth.transaction_id,
                              "amount_cents": auth.amount_cents})

        await asyncio.gather(*(
            workflow.execute_activity_method(FulfilmentActivities.release_shipment,
                                             args=[order.order_id, s], **SHORT)
            for s in plan.shipments))
        for s in plan.shipments:
            self._state.shipment_status[s.shipment_id] = "released"
        await self._progress("released", OrderStatus.IN_FULFILMENT,
                             {"shipments": ",".join(s.shipment_id for s in plan.shipments)})
        await self._fulfil(order, plan.shipments, auth)
        await self._progress("completed", OrderStatus.COMPLETED, {})
        self._state.waiting_for = ""
        return self._state

    async def _plan_and_reserve(self, order: OrderInput) -> RoutingResult | None:
        """Plan, then reserve exactly the plan; a lost race re-plans on fresh stock."""
        for attempt in range(order.policy.reservation_attempts):
            plan: RoutingResult = await workflow.execute_activity_method(
                PlanningActivities.plan_route, args=[order, []], **ROUTING)
            if plan.uncovered or not plan.shipments:
                return None
            result: ReservationResult = await workflow.execute_activity_method(
                StockActivities.reserve_stock, args=[order.order_id, plan.shipments], **SHORT)
            if result.ok:
                return plan
            await self._progress(f"reservation_race_{attempt}", None,
                                 {"conflicts": ",".join(result.conflicts)})
        return None

    async def _fulfil(self, order: OrderInput, shipments: list[ShipmentPlan],
                      auth: PaymentResult) -> None:
        """Handle shipment events, in arrival order, until every shipment is delivered."""
        assert self._state is not None
        by_id = {s.shipment_id: s for s in shipments}
        status = self._state.shipment_status
        while any(v != "delivered" for v in status.values()):
            self._state.waiting_for = "shipment events"
            await workflow.wait_condition(lambda: bool(self._inbox))
            event = self._inbox.pop(0)
            shipment = by_id.get(event.shipment_id)
            if shipment is None or not _advances(status[shipment.shipment_id], event.kind):
                continue
            if event.kind == "delivered" and status[shipment.shipment_id] != "shipped":
                # The carrier's scan came first: the parcel evidently left, so settle that too.
                await self._on_shipped(order, shipment, event.model_copy(
                    update={"kind": "shipped"}), auth)
            if event.kind == "shipped":
                await self._on_shipped(order, shipment, event, auth)
            else:
                await workflow.execute_activity_method(
                    FulfilmentActivities.record_shipment_event, args=[order.order_id, event],
                    **SHORT)
                status[shipment.shipment_id] = event.kind
                if event.kind == "delivered":
                    await self._progress(f"delivered_{shipment.shipment_id}", None,
                                         {"shipment_id": shipment.shipment_id})

    async def _on_shipped(self, order: OrderInput, shipment: ShipmentPlan,
                          event: ShipmentEvent, auth: PaymentResult) -> None:
        """Consume stock, capture this parcel's money, tell the customer how to track it."""
        assert self._state is not None
        status = self._state.shipment_status
        first_to_ship = not any(v in ("shipped", "delivered") for v in status.values())
        tracking_url: str = await workflow.execute_activity_method(
            FulfilmentActivities.record_shipment_event, args=[order.order_id, event], **SHORT)
        status[shipment.shipment_id] = "shipped"
        self._state.tracking[shipment.shipment_id] = tracking_url
        # Goods are captured per parcel; the shipping fee with the first parcel that ships.
        amount = shipment.goods_cents + (order.shipping_cents if first_to_ship else 0)
        capture: PaymentResult = await workflow.execute_activity_method(
            PaymentActivities.capture_payment,
            args=[order.order_id, shipment.shipment_id, auth.transaction_id, amount], **SHORT)
        shipped_all = all(v in ("shipped", "delivered") for v in status.values())
        await self._progress(
            f"shipped_{shipment.shipment_id}",
            OrderStatus.SHIPPED if shipped_all else OrderStatus.PARTIALLY_SHIPPED,
            {"shipment_id": shipment.shipment_id, "tracking_number": event.tracking_number,
             "captured_cents": capture.amount_cents if capture.ok else 0,
             "capture_ok": capture.ok})
        await self._email(f"shipped:{shipment.shipment_id}", "shipment_shipped", {
            "carrier": event.carrier or shipment.carrier,
            "tracking_number": event.tracking_number or "",
            "tracking_url": tracking_url,
            "lines": [ln.model_dump() for ln in shipment.lines]})

    # ---- helpers -----------------------------------------------------------------------------
    async def _end_unfulfilled(self, status: OrderStatus, reason: str) -> OrderState:
        assert self._state is not None
        await self._progress(status.value, status, {"reason": reason})
        await self._email(status.value, "order_cancelled", {"reason": reason})
        self._state.waiting_for = ""
        return self._state

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


_ORDER = ["reserved", "released", "accepted", "shipped", "delivered"]


def _advances(current: str, kind: str) -> bool:
    """Only forward moves count; duplicates and stale events are ignored."""
    return kind in _ORDER and _ORDER.index(kind) > _ORDER.index(current)
