"""Order policy: risk rules, payment and dunning, review, fees. Configuration, not code.

Read from a TOML file the retailer edits (``OMS_POLICY_FILE``) and validated on load. The
policy is frozen into each order's workflow input at placement, so editing the file changes
new orders only; running orders keep the rules they started with. Durations are ISO 8601
(``"P3D"``, ``"PT12H"``) or seconds.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.domain.inputs import Channel
from core.domain.payments import PaymentMethod


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RiskPolicy(_Policy):
    """Rules score an order; the score's band decides the outcome (highest band first)."""

    max_quantity_per_line: int = Field(default=20, gt=0, description="default for any SKU")
    sku_max_quantity: dict[str, int] = Field(default={}, description="per-SKU overrides")
    unusual_quantity_score: int = 40
    high_order_value_cents: int = 500_000
    high_value_score: int = 40
    new_customer_score: int = 10
    address_mismatch_score: int = 20
    velocity_orders: int = Field(default=3, gt=0, description="this many earlier orders ...")
    velocity_window: timedelta = Field(default=timedelta(hours=1), description="... within this")
    velocity_score: int = 30
    reject_score: int = 100
    review_score: int = 60
    force_prepayment_score: int = 40

    @model_validator(mode="after")
    def _bands_ordered(self) -> RiskPolicy:
        if not self.force_prepayment_score <= self.review_score <= self.reject_score:
            raise ValueError(
                "bands must satisfy force_prepayment_score <= review_score <= reject_score"
            )
        return self


class ReviewPolicy(_Policy):
    """Orders held for manual review: how long customer service has, and what happens then."""

    timeout: timedelta = timedelta(hours=24)
    on_timeout: Literal["approve", "reject"] = "reject"


class PaymentPolicy(_Policy):
    """Prepayment dunning: instructions at once, reminders, auto-cancel, late-money refunds."""

    prepayment_reminders: list[timedelta] = [timedelta(days=3), timedelta(days=6)]
    prepayment_deadline: timedelta = timedelta(days=10)
    late_payment_window: timedelta = Field(
        default=timedelta(days=30), description="after auto-cancel, late money is refunded"
    )
    bank_account_holder: str = "OMS Shop GmbH"
    bank_iban: str = "DE02120300000000202051"
    bank_bic: str = "BYLADEM1001"

    @model_validator(mode="after")
    def _reminders_before_deadline(self) -> PaymentPolicy:
        if any(r >= self.prepayment_deadline for r in self.prepayment_reminders):
            raise ValueError("every prepayment reminder must come before prepayment_deadline")
        if self.prepayment_reminders != sorted(self.prepayment_reminders):
            raise ValueError("prepayment_reminders must be in ascending order")
        return self


class FulfilmentPolicy(_Policy):
    """Watching shipments against their promises, and what a missed promise earns."""

    accept_within: timedelta = Field(
        default=timedelta(hours=4), description="a location accepts a released shipment ..."
    )
    reroute_unshipped_after: timedelta = Field(
        default=timedelta(days=1), description="past its ship-by time, still unshipped: move it"
    )
    refund_express_fee: bool = Field(
        default=True, description="missed express/same-day promise: fee back"
    )
    voucher_cents: int = Field(default=500, ge=0, description="standard delay: a voucher")
    voucher_valid: timedelta = timedelta(days=90)
    uncovered: Literal["accept", "refuse", "backorder"] = Field(
        default="accept",
        description="an order the network's available stock cannot cover when it is placed: "
        "accept it (routing then fails it, with its e-mail), refuse it at once (409 naming "
        "the lines and what is available), or take it as a backorder that waits for stock",
    )
    backorder_deadline: timedelta = Field(
        default=timedelta(days=14),
        gt=timedelta(0),
        description="a backorder not covered by then is cancelled (with its e-mail)",
    )
    backorder_recheck: timedelta = Field(
        default=timedelta(hours=1),
        gt=timedelta(0),
        description="a backorder also looks at the stock this often (a feed or adjustment "
        "wakes it at once)",
    )


class PickupPolicy(_Policy):
    """Click & collect and reserve & collect at a store."""

    window: timedelta = Field(default=timedelta(days=7), description="time to pick it up")
    reminder_before: timedelta = Field(
        default=timedelta(days=2), description="reminder this long before the window ends"
    )
    fee_cents: int = Field(default=0, ge=0, description="shipping fee of a pickup order")

    @model_validator(mode="after")
    def _reminder_inside_window(self) -> PickupPolicy:
        if self.reminder_before >= self.window:
            raise ValueError("reminder_before must be shorter than window")
        return self


class ReturnPolicy(_Policy):
    """Returns: the window, where returned goods go, and how much of the shipping comes back."""

    window: timedelta = Field(
        default=timedelta(days=30), description="a delivered item may be returned this long after"
    )
    arrival_timeout: timedelta = Field(
        default=timedelta(days=30), description="a mail return that never arrives expires"
    )
    inspection_timeout: timedelta = Field(
        default=timedelta(days=5), description="not inspected by then: judged by its reason"
    )
    mail_destination_kinds: list[Literal["warehouse", "store"]] = Field(
        default=["warehouse"],
        min_length=1,
        description="kinds of location a non-defective mail return may be sent to",
    )
    forward_kinds: list[Literal["warehouse", "store"]] = Field(
        default=["warehouse"],
        min_length=1,
        description="where an in-store return may be forwarded if the store is not the best",
    )
    demand_window: timedelta = Field(
        default=timedelta(days=28), description="recent demand counts over this window"
    )
    cover_tolerance_days: float = Field(
        default=7.0,
        ge=0,
        description="locations within this many days of cover of the most "
        "needy one count as equally useful; the cheapest of them wins",
    )
    returns_centre_id: str = Field(
        default="RC-KASSEL", min_length=1, description="where defective goods go"
    )
    defective_to_vendor: bool = Field(
        default=True, description="defective drop-ship goods go to the vendor"
    )
    shipping_refund: Literal["never", "whole_order", "proportional"] = Field(
        default="whole_order",
        description="whole_order: the shipping fee back when the "
        "return completes the whole order; proportional: by goods value (the last return "
        "gets the remaining cents)",
    )


class PricingPolicy(_Policy):
    """How far the shop's own prices may go (sale prices, discounts sent with the order)."""

    max_below_list_percent: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="a shop unit price at most this far below the catalogue's list price "
        "(before discounts); None: any price the shop sends",
    )


class BillingPolicy(_Policy):
    """When invoices are issued."""

    invoice_per: Literal["parcel", "order"] = Field(
        default="parcel",
        description="parcel: an invoice with each parcel that ships (what its capture took); "
        "order: one invoice when the order's last parcel ships",
    )


class ReleaseRule(_Policy):
    """A release hold for orders of one channel and/or payment method (unset = any)."""

    channel: Channel | None = None
    payment_method: PaymentMethod | None = None
    hold: timedelta = Field(ge=timedelta(0), le=timedelta(days=1))


class ReleasePolicy(_Policy):
    """Time to change an order: it waits this long after it is placed before it is released
    to the warehouse, so the customer or customer service can still change or cancel it. The
    first rule that matches the order's channel and payment method wins, else ``hold``."""

    hold: timedelta = Field(
        default=timedelta(minutes=15),
        ge=timedelta(0),
        le=timedelta(days=1),
        description="hold after placement before release; 0 releases at once",
    )
    rules: list[ReleaseRule] = Field(default=[], description="per channel / payment method")

    def hold_for(self, channel: str, payment_method: str) -> timedelta:
        for rule in self.rules:
            if rule.channel in (None, channel) and rule.payment_method in (None, payment_method):
                return rule.hold
        return self.hold


class OrderPolicy(_Policy):
    """Per-order policy, frozen into the workflow input so a running order never changes rules."""

    risk: RiskPolicy = RiskPolicy()
    review: ReviewPolicy = ReviewPolicy()
    payment: PaymentPolicy = PaymentPolicy()
    fulfilment: FulfilmentPolicy = FulfilmentPolicy()
    pickup: PickupPolicy = PickupPolicy()
    returns: ReturnPolicy = ReturnPolicy()
    pricing: PricingPolicy = PricingPolicy()
    billing: BillingPolicy = BillingPolicy()
    release: ReleasePolicy = ReleasePolicy()
    reservation_attempts: int = Field(default=3, gt=0)
    shipping_fee_cents: dict[str, int] = {"standard": 495, "express": 995, "same_day": 1495}


class PolicyError(ValueError):
    """The policy file is unreadable or invalid; the message names the file and field."""


@lru_cache(maxsize=4)
def load_policy(path: str | None) -> OrderPolicy:
    if not path:
        return OrderPolicy()
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{file}: cannot read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{file}: not valid TOML: {exc}") from exc
    try:
        return OrderPolicy.model_validate(data)
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}" for e in exc.errors()
        )
        raise PolicyError(f"{file}: {fields}") from exc
