"""The orders context's Temporal face: the event log, risk, pricing and routing steps of
the order workflow. Thin: each activity calls this context's services."""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime

from sqlmodel import func, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

import routing
from activities.messaging.outbound import enqueue_deliveries
from activities.orders.log import _apply_snapshot, order_record_for
from activities.orders.planning import build_problem, rule_profiles, to_result
from activities.orders.pricing import InvalidOrder, modified_order
from activities.orders.sweeper import SweepCursor, UnstartedOrders, unstarted_orders
from core.db.engine import session_scope
from core.db.schema import OrderEvent, OrderRecord
from core.domain.commands import ModifyRequest
from core.domain.events import ProgressEvent
from core.domain.orders import OrderInput, RiskAssessment
from core.domain.shipments import RoutingResult
from core.metrics import count_progress, observe_routing_solve
from core.rules.risk import score_order
from core.settings import Settings


class OrderLogActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def register_order(self, order: OrderInput) -> None:
        """Make sure the read model has the order (the API normally wrote it already)."""
        with session_scope(self.url) as s:
            if s.get(OrderRecord, order.order_id) is None:
                s.add(order_record_for(order, request_hash=""))

    @activity.defn
    def record_progress(self, ev: ProgressEvent) -> None:
        """Append to the event log once per key and move the read model's status."""
        if self._append(ev):
            count_progress(ev)  # metrics: once per event, after it is committed

    def _append(self, ev: ProgressEvent) -> bool:
        with session_scope(self.url) as s:
            if s.exec(select(OrderEvent.id).where(OrderEvent.key == ev.key)).first() is not None:
                return False
            event = OrderEvent(
                key=ev.key,
                order_id=ev.order_id,
                type=ev.type,
                detail=ev.detail,
                actor=ev.actor,
                at=ev.at,
            )
            s.add(event)
            enqueue_deliveries(s, event, ev.status)  # the outbox, in the same transaction
            rec = s.get(OrderRecord, ev.order_id)
            if rec is None:
                return True
            if ev.status is not None:
                rec.status = ev.status.value
            if ev.snapshot is not None:
                _apply_snapshot(rec, ev.snapshot)
            rec.updated_at = datetime.now(UTC)
        return True


class OrderSweepActivities:
    """The order sweeper's look at the read model (``activities/orders/sweeper.py``)."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def find_unstarted_orders(
        self, placed_before: datetime, limit: int, after: SweepCursor | None
    ) -> UnstartedOrders:
        return unstarted_orders(self.url, placed_before, limit, after)


class RiskActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def assess_risk(self, order: OrderInput) -> RiskAssessment:
        window_start = order.placed_at - order.policy.risk.velocity_window
        earlier = (
            OrderRecord.customer_id == order.customer.id,
            OrderRecord.order_id != order.order_id,
            OrderRecord.created_at < order.placed_at,
        )
        with session_scope(self.url) as s:
            previous = s.exec(select(func.count()).select_from(OrderRecord).where(*earlier)).one()
            recent = s.exec(
                select(func.count())
                .select_from(OrderRecord)
                .where(*earlier, OrderRecord.created_at >= window_start)
            ).one()
        return score_order(order, previous, recent)


class PricingActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def reprice_modification(self, order: OrderInput, request: ModifyRequest) -> OrderInput:
        try:
            with session_scope(self.url) as s:
                return modified_order(s, order, request)
        except InvalidOrder as exc:
            raise ApplicationError(str(exc), type="InvalidOrder", non_retryable=True) from exc


class PlanningActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @activity.defn
    def plan_route(self, order: OrderInput, exclude_locations: list[str]) -> RoutingResult:
        profile = routing.profile_for(
            rule_profiles(self.settings.routing_profiles_file), order.customer.group
        )
        with session_scope(self.settings.database_url) as s:
            problem = build_problem(s, order, exclude_locations, profile)
        started = clock.perf_counter()
        plan = routing.solve(
            problem,
            strategy=self.settings.routing_strategy,
            time_limit_s=self.settings.routing_time_limit_s,
        )
        observe_routing_solve(clock.perf_counter() - started, plan.strategy, plan.optimal)
        return to_result(order, plan, problem)
