"""Pricing and validating order lines against the catalogue and German geography.

One home for it: the API prices new orders with it, the workflow re-prices modifications
through the activity.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import Session, col, select

from core.db.schema import Sku
from core.domain.commands import ModifyRequest
from core.domain.orders import Address, OrderDiscount, OrderInput, OrderLine, OrderLineRequest
from core.geodata import lookup
from core.policy import PricingPolicy
from core.rules.channel_prices import AgreedLine, price_tiers


class InvalidOrder(ValueError):
    """Field errors as (location, message, kind) triples, e.g. (("lines", 0, "sku"), ...)."""

    def __init__(self, errors: list[tuple[tuple[str | int, ...], str, str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg, _ in errors))
        self.errors = errors


def price_lines(
    s: Session,
    lines: list[OrderLineRequest],
    address: Address,
    loc_prefix: tuple[str | int, ...] = (),
    already_ordered: Collection[str] = (),
) -> list[OrderLine]:
    """Catalogue prices and attributes for the lines; raises InvalidOrder naming each field.
    An inactive SKU takes no new orders, nor new lines in a modification; a modification
    may keep the SKUs the order already has (``already_ordered``): running orders are never
    refused for a SKU taken off sale after they were placed."""
    skus = {
        row.sku: row
        for row in s.exec(select(Sku).where(col(Sku.sku).in_([ln.sku for ln in lines]))).all()
    }
    errors = [
        ((*loc_prefix, "lines", i, "sku"), f"unknown SKU {ln.sku!r}", "unknown_sku")
        for i, ln in enumerate(lines)
        if ln.sku not in skus
    ]
    errors += [
        ((*loc_prefix, "lines", i, "sku"), f"SKU {ln.sku!r} is not sold any more", "inactive_sku")
        for i, ln in enumerate(lines)
        if ln.sku in skus and not skus[ln.sku].active and ln.sku not in already_ordered
    ]
    if lookup(address.postcode) is None:
        errors.append(
            (
                (*loc_prefix, "delivery_address", "postcode"),
                f"unknown postcode {address.postcode!r}",
                "unknown_postcode",
            )
        )
    if errors:
        raise InvalidOrder(errors)
    return [
        OrderLine(
            line_id=f"L{i + 1}",
            sku=ln.sku,
            name=skus[ln.sku].name,
            quantity=ln.quantity,
            unit_price_cents=skus[ln.sku].price_cents,
            weight_kg=skus[ln.sku].weight_kg,
            bulky=skus[ln.sku].bulky,
            hazardous=skus[ln.sku].hazardous,
            vat_class=skus[ln.sku].vat_class,
        )
        for i, ln in enumerate(lines)
    ]


def instructions_problems(
    pickup_store_id: str | None, instructions: str | None, loc_prefix: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], str, str]]:
    """Delivery instructions are for a delivery: a pickup order is collected in the store."""
    if pickup_store_id and instructions:
        return [
            (
                (*loc_prefix, "delivery_instructions"),
                "a pickup order is collected in the store: no delivery instructions",
                "pickup_order",
            )
        ]
    return []


def modified_order(s: Session, order: OrderInput, req: ModifyRequest) -> OrderInput:
    """The order with the request's changes applied and re-priced. New delivery instructions
    alone change nothing else: no re-pricing ("" removes them)."""
    if errors := instructions_problems(order.pickup_store_id, req.delivery_instructions):
        raise InvalidOrder(errors)
    instructions = (
        order.delivery_instructions
        if req.delivery_instructions is None
        else req.delivery_instructions or None
    )
    if req.instructions_only:
        return order.model_copy(update={"delivery_instructions": instructions})
    address = req.delivery_address or order.delivery_address
    speed = req.shipping_speed or order.shipping_speed
    if req.lines is not None:
        lines = price_lines(s, req.lines, address, already_ordered={ln.sku for ln in order.lines})
    else:
        price_lines(s, [], address)  # still check a new address's postcode
        lines = order.lines
    return order.model_copy(
        update={
            "delivery_address": address,
            "shipping_speed": speed,
            "lines": lines,
            "shipping_cents": (
                order.policy.pickup.fee_cents
                if order.pickup_store_id
                else order.policy.shipping_fee_cents[speed]
            ),
            "delivery_instructions": instructions,
        }
    )


def channel_priced(
    priced: list[OrderLine],
    requested: list[OrderLineRequest],
    discounts: list[OrderDiscount],
    policy: PricingPolicy,
) -> list[OrderLine]:
    """The catalogue-priced lines at the shop's prices and discounts instead: each request
    line becomes one or two lines (price tiers, ``core.rules.channel_prices``) whose units
    cost what the customer pays for them, numbered L1, L2, ... again. Raises InvalidOrder
    naming each field that breaks the pricing policy."""
    errors: list[tuple[tuple[str | int, ...], str, str]] = []
    agreed: list[AgreedLine] = []
    for i, (line, req) in enumerate(zip(priced, requested, strict=True)):
        unit = line.unit_price_cents if req.unit_price_cents is None else req.unit_price_cents
        floor = policy.max_below_list_percent
        if floor is not None and unit * 100 < line.unit_price_cents * (100 - floor):
            errors.append(
                (
                    ("lines", i, "unit_price_cents"),
                    f"{unit} cents is more than {floor:g} % below the list price "
                    f"{line.unit_price_cents} cents",
                    "price_below_floor",
                )
            )
        if req.discount_cents > unit * req.quantity:
            errors.append(
                (
                    ("lines", i, "discount_cents"),
                    f"the discount {req.discount_cents} is more than the line "
                    f"({req.quantity} x {unit} cents)",
                    "discount_too_large",
                )
            )
        agreed.append(AgreedLine(unit, req.quantity, req.discount_cents))
    coupons = sum(d.amount_cents for d in discounts)
    if not errors and coupons > sum(a.gross_cents for a in agreed):
        errors.append(
            (
                ("discounts",),
                f"the discounts ({coupons} cents) are more than the goods",
                "discount_too_large",
            )
        )
    if errors:
        raise InvalidOrder(errors)
    out: list[OrderLine] = []
    for tier in price_tiers(agreed, coupons):
        out.append(
            priced[tier.line].model_copy(
                update={
                    "line_id": f"L{len(out) + 1}",
                    "quantity": tier.quantity,
                    "unit_price_cents": tier.paid_unit_cents,
                    "list_unit_price_cents": tier.list_unit_cents,
                    "discount_cents": tier.discount_cents,
                }
            )
        )
    return out
