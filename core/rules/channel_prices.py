"""What each unit cost the customer when the shop sets the prices: its unit price, minus the
line's discount, minus the line's share of the order's discounts (coupons), to the cent.

The order-level discount is allocated over the lines by what they cost after their own
discounts (largest remainder, ``core.rules.vat.allocate``). A line whose amount does not divide
by its quantity is split in two price tiers, ``q`` and ``q + 1`` cents a unit: the units of a
tier all cost the same, so a partial cancel, a return or a refund of any units gives back
exactly what those units cost, and every amount the OMS computes as unit price x quantity
(parcels, captures, returns, invoices) stays exact without knowing about discounts.

Pure: no I/O, so the intake, the tests and anyone reading the rule share one definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.rules.vat import allocate


@dataclass(frozen=True)
class AgreedLine:
    """A line as the shop agreed it: unit price, quantity, the line's own discount."""

    unit_cents: int
    quantity: int
    discount_cents: int = 0

    @property
    def gross_cents(self) -> int:
        return self.unit_cents * self.quantity - self.discount_cents


@dataclass(frozen=True)
class PriceTier:
    """Units of one agreed line that all cost the customer ``paid_unit_cents``."""

    line: int
    """Index of the agreed line it comes from."""
    quantity: int
    paid_unit_cents: int
    list_unit_cents: int
    """The shop's unit price before discounts."""
    discount_cents: int
    """Line and order discount on these units together."""


def price_tiers(lines: Sequence[AgreedLine], order_discount_cents: int) -> list[PriceTier]:
    """The lines' units in price tiers, the cheaper tier first. Raises ValueError if a line's
    discount exceeds its amount or the order's discount exceeds what the lines cost."""
    for i, ln in enumerate(lines):
        if ln.quantity <= 0 or ln.unit_cents < 0 or ln.discount_cents < 0:
            raise ValueError(f"line {i}: quantity, price and discount must not be negative")
        if ln.gross_cents < 0:
            raise ValueError(f"line {i}: the discount is larger than the line")
    weights = [ln.gross_cents for ln in lines]
    if order_discount_cents > sum(weights):
        raise ValueError("the order discount is larger than the goods")
    shares = allocate(order_discount_cents, weights)
    tiers: list[PriceTier] = []
    for i, (ln, share) in enumerate(zip(lines, shares, strict=True)):
        paid = ln.gross_cents - share
        low, dearer = divmod(paid, ln.quantity)
        for quantity, unit in ((ln.quantity - dearer, low), (dearer, low + 1)):
            if quantity:
                tiers.append(
                    PriceTier(
                        line=i,
                        quantity=quantity,
                        paid_unit_cents=unit,
                        list_unit_cents=ln.unit_cents,
                        discount_cents=(ln.unit_cents - unit) * quantity,
                    )
                )
    return tiers
