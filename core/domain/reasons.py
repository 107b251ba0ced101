"""Why an order ended or money went back, as the customer is told it.

The workflows pass one of these codes into an e-mail's context (``reason``); the templates put
it into words per locale (``templates/email/_reasons.<locale>.txt``), so a German mail never
carries an English sentence. The event log keeps its own English detail, and a
customer-service agent's free-text note stays in the log: it is internal and never mailed.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """The reasons a customer can read in an e-mail (cancellation, refund)."""

    RISK_REJECTED = "risk_rejected"
    REVIEW_REJECTED = "review_rejected"
    OUT_OF_STOCK = "out_of_stock"
    BACKORDER_EXPIRED = "backorder_expired"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_NOT_RECEIVED = "payment_not_received"
    NOT_PICKED_UP = "not_picked_up"
    CANCELLED_BY_SERVICE = "cancelled_by_service"
    LINES_CANCELLED = "lines_cancelled"
    PARCEL_RETURNED = "parcel_returned"
    PARCEL_LOST = "parcel_lost"
    PROMISE_MISSED = "promise_missed"
    OVERPAID = "overpaid"
    PAID_AFTER_CANCEL = "paid_after_cancel"
