"""Opening returns: what an order line may still send back, checked and booked atomically.

The order's workflow has usually completed by the time a customer returns something (it ends
when the last parcel is delivered), so the returnable quantities are kept in the database: a
return request locks the order's read-model row, checks every line against what was
delivered within the return window less what open returns already hold, and writes the new
returns in the same transaction. Two requests racing for the last unit cannot both win.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from activities.returns.routing import NoDestination, Origin, group_by_destination
from core.db.schema import Location, OrderRecord, ReturnRecord, ShipmentRecord, Sku
from core.domain.orders import Address, OrderInput
from core.domain.returns import (
    OPEN_RETURN_STATUSES,
    ReturnChannel,
    ReturnInput,
    ReturnLine,
    ReturnRequest,
    ReturnStatus,
)
from core.domain.shipments import ARRIVED
from core.geodata import lookup


class ReturnRefused(ValueError):
    """The request cannot be accepted; ``errors`` name the field and the reason."""

    def __init__(self, errors: list[tuple[tuple[str | int, ...], str]], status: int = 422):
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in errors))
        self.errors, self.status = errors, status


@dataclass
class Returnable:
    """One order line: units delivered, delivered within the window, already returned."""

    delivered: int = 0
    in_window: int = 0
    returned: int = 0
    window_ended: datetime | None = None
    shipment_id: str = ""
    location_id: str = ""
    shipments: list[str] = field(default_factory=list)

    @property
    def left(self) -> int:
        return max(0, min(self.in_window, self.delivered - self.returned))


def returnable(s: Session, order: OrderInput, now: datetime) -> dict[str, Returnable]:
    """Per order line, what may be returned now (the order's own return policy)."""
    window = order.policy.returns.window
    out = {ln.line_id: Returnable() for ln in order.lines}
    shipments = s.exec(
        select(ShipmentRecord)
        .where(
            ShipmentRecord.order_id == order.order_id,
            col(ShipmentRecord.status).in_(sorted(ARRIVED)),
        )
        .order_by(col(ShipmentRecord.shipment_id))
    ).all()
    for rec in shipments:
        arrived = rec.delivered_at or rec.shipped_at or now
        for ln in rec.lines:
            r = out.get(ln["line_id"])
            if r is None:
                continue
            r.delivered += int(ln["quantity"])
            r.shipments.append(rec.shipment_id)
            if arrived + window >= now:
                r.in_window += int(ln["quantity"])
                r.shipment_id, r.location_id = rec.shipment_id, rec.location_id
            elif r.window_ended is None or arrived + window > r.window_ended:
                r.window_ended = arrived + window
    for ret in _open_returns(s, order.order_id):
        for ln in ret.lines:
            if ln["line_id"] in out:
                out[ln["line_id"]].returned += int(ln["quantity"])
    return out


def _open_returns(s: Session, order_id: str) -> list[ReturnRecord]:
    return list(
        s.exec(
            select(ReturnRecord).where(
                ReturnRecord.order_id == order_id,
                col(ReturnRecord.status).in_(sorted(OPEN_RETURN_STATUSES)),
            )
        ).all()
    )


def check(
    order: OrderInput, req: ReturnRequest, left: dict[str, Returnable]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Every problem of the request, each naming its field; empty when it can be accepted."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for i, ln in enumerate(req.lines):
        r = left.get(ln.line_id)
        if r is None:
            errors.append(
                (("lines", i, "line_id"), f"{ln.line_id!r} is not a line of order {order.order_id}")
            )
        elif ln.line_id in seen:
            errors.append((("lines", i, "line_id"), f"line {ln.line_id} is named twice"))
        elif r.delivered == 0:
            errors.append(
                (("lines", i, "line_id"), f"line {ln.line_id} has not been delivered yet")
            )
        elif r.in_window == 0 and r.window_ended is not None:
            errors.append(
                (
                    ("lines", i, "line_id"),
                    f"the return window of line {ln.line_id} ended on "
                    f"{r.window_ended.date().isoformat()} "
                    f"({order.policy.returns.window.days} days after delivery)",
                )
            )
        elif ln.quantity > r.left:
            errors.append(
                (
                    ("lines", i, "quantity"),
                    f"only {r.left} unit(s) of line {ln.line_id} can be returned "
                    f"(delivered {r.delivered}, already returned {r.returned}), "
                    f"not {ln.quantity}",
                )
            )
        seen.add(ln.line_id)
    return errors


Links = Callable[[str, str], tuple[str, str]]
"""(order id, return id) -> (label URL, self-service page URL)."""


def open_returns(
    s: Session,
    order_id: str,
    req: ReturnRequest,
    *,
    channel: ReturnChannel,
    requested_by: str,
    now: datetime,
    links: Links,
    store_id: str | None = None,
) -> list[ReturnRecord]:
    """Check the request and write its returns (one per destination), in the caller's
    transaction with the order row locked. Raises ReturnRefused with nothing written."""
    rec = s.exec(
        select(OrderRecord).where(OrderRecord.order_id == order_id).with_for_update()
    ).first()
    if rec is None:
        raise ReturnRefused([(("order_id",), f"order {order_id} not found")], status=404)
    order = OrderInput.model_validate(rec.payload)
    left = returnable(s, order, now)
    if errors := check(order, req, left):
        raise ReturnRefused(errors)
    lines = _priced_lines(s, order, req, left)
    origin, sender = _origin(s, order, store_id)
    try:
        groups = group_by_destination(s, order.policy.returns, lines, origin, now)
    except NoDestination as exc:
        raise ReturnRefused([(("lines",), str(exc))], status=409) from exc
    existing = _open_returns(s, order_id)
    number = len(
        s.exec(select(ReturnRecord.return_id).where(ReturnRecord.order_id == order_id)).all()
    )
    shipping = _shipping_share(order, existing, lines)
    records = []
    for i, (destination, group) in enumerate(groups):
        return_id = f"R-{order_id}-{number + i + 1}"
        label_url, page_url = links(order_id, return_id)
        ret = ReturnInput(
            return_id=return_id,
            order_id=order_id,
            channel=channel,
            requested_by=requested_by,
            requested_at=now,
            customer=order.customer,
            sender=sender,
            lines=group,
            destination=destination,
            store_id=store_id,
            shipping_refund_cents=shipping if i == 0 else 0,
            policy=order.policy.returns,
            label_url=label_url if channel == "mail" else "",
            page_url=page_url,
        )
        row = ReturnRecord(
            return_id=return_id,
            order_id=order_id,
            channel=channel,
            status=ReturnStatus.REQUESTED.value,
            requested_by=requested_by,
            store_id=store_id,
            destination_id=destination.location_id,
            lines=[ln.model_dump(mode="json") for ln in group],
            payload=ret.model_dump(mode="json"),
            goods_cents=ret.goods_cents,
            shipping_refund_cents=ret.shipping_refund_cents,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        records.append(row)
    s.flush()
    return records


def _priced_lines(
    s: Session, order: OrderInput, req: ReturnRequest, left: dict[str, Returnable]
) -> list[ReturnLine]:
    by_id = {ln.line_id: ln for ln in order.lines}
    out = []
    for ln in req.lines:
        sold = by_id[ln.line_id]
        sku = s.get(Sku, sold.sku)
        out.append(
            ReturnLine(
                line_id=ln.line_id,
                sku=sold.sku,
                name=sold.name,
                quantity=ln.quantity,
                unit_price_cents=sold.unit_price_cents,
                weight_kg=sold.weight_kg,
                bulky=sku.bulky if sku else sold.bulky,
                reason=ln.reason,
                shipment_id=left[ln.line_id].shipment_id,
                from_location_id=left[ln.line_id].location_id,
            )
        )
    return out


def _origin(s: Session, order: OrderInput, store_id: str | None) -> tuple[Origin, Address]:
    if store_id is not None:
        store = s.get(Location, store_id)
        if store is None:
            raise ReturnRefused([(("store_id",), f"unknown location {store_id}")])
        return (
            Origin(store.postcode, store.latitude, store.longitude, store.id),
            Address(
                name=store.name, street="Warenannahme", postcode=store.postcode, city=store.city
            ),
        )
    sender = order.delivery_address
    place = lookup(sender.postcode)
    if place is None:
        raise ReturnRefused([(("postcode",), f"unknown postcode {sender.postcode}")])
    return Origin(place.postcode, place.latitude, place.longitude), sender


def _shipping_share(
    order: OrderInput, existing: list[ReturnRecord], lines: list[ReturnLine]
) -> int:
    """The shipping fee's share this return refunds, by policy; over all returns of an order
    the shares never exceed the fee (the return completing the order gets what is left)."""
    rule = order.policy.returns.shipping_refund
    given = sum(r.shipping_refund_cents for r in existing)
    units = sum(ln.quantity for ln in order.lines)
    returned = sum(int(ln["quantity"]) for r in existing for ln in r.lines)
    completes = returned + sum(ln.quantity for ln in lines) >= units
    if rule == "never":
        return 0
    if completes:
        return max(0, order.shipping_cents - given)
    if rule == "proportional" and order.goods_cents:
        share = order.shipping_cents * sum(ln.total_cents for ln in lines) // order.goods_cents
        return min(share, max(0, order.shipping_cents - given))
    return 0
