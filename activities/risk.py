"""Risk check: a first rule set that scores an order and says accept or reject, with reasons."""

from __future__ import annotations

from sqlmodel import func, select
from temporalio import activity

from core.db.engine import session_scope
from core.db.schema import OrderRecord
from core.models import OrderInput, RiskAssessment
from core.settings import Settings


def score_order(order: OrderInput, previous_orders: int) -> RiskAssessment:
    """Pure scoring, so the rules can be tested without a database."""
    policy = order.policy.risk
    score, reasons = 0, []
    for line in order.lines:
        if line.quantity > policy.max_quantity_per_line:
            score += 40
            reasons.append(f"unusual quantity {line.quantity} of {line.sku}")
    if order.total_cents > policy.high_order_value_cents:
        score += 40
        reasons.append(f"high order value {order.total_cents} cents")
    if previous_orders == 0:
        score += 10
        reasons.append("new customer")
    if order.delivery_address.name.casefold() != order.customer.name.casefold():
        score += 10
        reasons.append("delivery name differs from customer name")
    outcome = "reject" if score >= policy.reject_score else "accept"
    return RiskAssessment(score=score, outcome=outcome, reasons=reasons)


class RiskActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def assess_risk(self, order: OrderInput) -> RiskAssessment:
        with session_scope(self.url) as s:
            previous = s.exec(select(func.count()).select_from(OrderRecord).where(
                OrderRecord.customer_id == order.customer.id,
                OrderRecord.order_id != order.order_id,
                OrderRecord.created_at < order.placed_at)).one()
        return score_order(order, previous)
