"""Risk check: configurable rules score an order; the score's band decides the outcome.

Outcomes, highest band first: reject, review (hold for customer service), force_prepayment
(switch to a safe payment method), accept. Every rule that fires adds a reason.

Pure: the caller counts the customer's earlier orders (a database read, in the orders
context's ``RiskActivities``) and passes the counts in.
"""

from __future__ import annotations

from core.domain.orders import OrderInput, RiskAssessment


def score_order(order: OrderInput, previous_orders: int, recent_orders: int) -> RiskAssessment:
    """Pure scoring, so the rules can be tested without a database.

    ``previous_orders``: the customer's orders before this one; ``recent_orders``: those within
    the policy's velocity window.
    """
    policy = order.policy.risk
    score, reasons = 0, []
    for line in order.lines:
        limit = policy.sku_max_quantity.get(line.sku, policy.max_quantity_per_line)
        if line.quantity > limit:
            score += policy.unusual_quantity_score
            reasons.append(f"unusual quantity {line.quantity} of {line.sku} (usual <= {limit})")
    if order.total_cents > policy.high_order_value_cents:
        score += policy.high_value_score
        reasons.append(f"high order value {order.total_cents} cents")
    if previous_orders == 0:
        score += policy.new_customer_score
        reasons.append("new customer")
    if _address_mismatch(order):
        score += policy.address_mismatch_score
        reasons.append("billing and delivery address differ")
    if recent_orders >= policy.velocity_orders:
        score += policy.velocity_score
        reasons.append(f"{recent_orders} orders within {policy.velocity_window}")
    if score >= policy.reject_score:
        outcome = "reject"
    elif score >= policy.review_score:
        outcome = "review"
    elif score >= policy.force_prepayment_score and order.payment_method != "prepayment":
        outcome = "force_prepayment"
    else:
        outcome = "accept"
    return RiskAssessment(score=score, outcome=outcome, reasons=reasons)


def _address_mismatch(order: OrderInput) -> bool:
    delivery, billing = order.delivery_address, order.billing_address
    if billing is None:
        return delivery.name.casefold() != order.customer.name.casefold()
    return (billing.postcode, billing.name.casefold()) != (
        delivery.postcode,
        delivery.name.casefold(),
    )
