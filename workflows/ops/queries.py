"""The Temporal visibility queries operations use, in one place: the README shows them and a
test runs them against the dev server, so they stay true."""

from __future__ import annotations

from datetime import datetime


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def prepayment_waiting_since(before: datetime) -> str:
    """Prepayment orders still waiting for their money, placed before ``before``."""
    return (
        "WorkflowType = 'OrderWorkflow' AND PaymentMethod = 'prepayment' AND "
        f"OrderStatus = 'awaiting_payment' AND StartTime < '{_when(before)}'"
    )


def late_at(location_id: str) -> str:
    """Orders with a broken promise that have a parcel at this location."""
    return f"Late = true AND FulfilmentLocations = '{location_id}'"


def held_for_review() -> str:
    return "OrderStatus = 'on_hold' AND RiskOutcome = 'review'"


def big_orders(min_cents: int) -> str:
    return f"OrderTotalCents >= {min_cents} AND ExecutionStatus = 'Running'"


def customer(customer_id: str) -> str:
    return f"CustomerId = '{customer_id}'"
