"""What the store and vendor portal shows, read from the OMS database for ONE location.

Every query here takes the location id and filters on it, so a page can only ever show the
work of the location the staff member logged in for. The rules about which action a shipment
takes next live here too, so the page offers exactly what the portal will accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from api.pages.translations import ENGLISH_WORDS, Words
from core.db.schema import Location, OrderEvent, OrderRecord, ShipmentRecord, Sku
from core.domain.shipments import AT_LOCATION, LEFT_LOCATION, ShipmentStatus
from core.domain.shipments import FORWARD as FORWARD_ORDER

SHELF_CARRIER = "pickup"  # a pickup store's own-shelf shipment: handed over, never shipped

OPEN_WORK = sorted(AT_LOCATION)
LEFT_HERE = sorted(LEFT_LOCATION)


def _before(kind: ShipmentStatus) -> frozenset[str]:
    return frozenset(s for s in AT_LOCATION if FORWARD_ORDER.index(s) < FORWARD_ORDER.index(kind))


# Which recorded statuses each portal action moves forward from, in the order they are offered.
FORWARD: dict[str, frozenset[str]] = {
    ShipmentStatus.ACCEPTED: _before(ShipmentStatus.ACCEPTED),
    ShipmentStatus.PICKED: _before(ShipmentStatus.PICKED),
    ShipmentStatus.PACKED: _before(ShipmentStatus.PACKED),
    ShipmentStatus.SHIPPED: AT_LOCATION,
    "rejected": AT_LOCATION,
}


@dataclass
class LineView:
    line_id: str
    sku: str
    name: str
    quantity: int


@dataclass
class ShipmentView:
    shipment_id: str
    order_id: str
    status: str
    carrier: str
    speed: str
    ship_by: datetime | None
    ship_to: str
    shelf: bool
    lines: list[LineView]
    actions: list[str] = field(default_factory=list)
    tracking_number: str = ""
    shipped_at: datetime | None = None
    delivery_instructions: str = ""
    """The customer's instructions for the carrier, as released with the parcel ("" = none)."""


@dataclass
class PickupView:
    order_id: str
    customer: str
    until: str
    to_pay_cents: int
    lines: list[LineView]


def refusal(rec: ShipmentRecord, kind: str, words: Words = ENGLISH_WORDS) -> str:
    """Why the portal will not send ``kind`` for this shipment now (in ``words``); empty if it
    will."""
    shelf = rec.carrier == SHELF_CARRIER
    if kind not in FORWARD:
        return words.gettext("unknown action %(action)r", action=kind)
    if shelf and kind == "shipped":
        return words.gettext(
            "an item on the pickup shelf is handed over under Pickups, not shipped"
        )
    if shelf and kind == "rejected":
        return words.gettext(
            "a pickup order cannot be moved away from its pickup store: "
            "ask customer service to cancel the line"
        )
    if rec.status not in FORWARD[kind]:
        return words.gettext(
            "shipment %(id)s is %(status)s: it cannot be marked %(action)s now",
            id=rec.shipment_id,
            status=words.label(rec.status, "shipment status"),
            action=words.label(kind, "portal action"),
        )
    return ""


def owned_shipment(s: Session, location_id: str, shipment_id: str) -> ShipmentRecord | None:
    """The shipment if it is this location's; another location's is as good as unknown."""
    rec = s.get(ShipmentRecord, shipment_id)
    return rec if rec is not None and rec.location_id == location_id else None


def queue(s: Session, location_id: str, words: Words = ENGLISH_WORDS) -> list[ShipmentView]:
    recs = s.exec(
        select(ShipmentRecord)
        .where(ShipmentRecord.location_id == location_id, col(ShipmentRecord.status).in_(OPEN_WORK))
        .order_by(col(ShipmentRecord.ship_by).asc().nulls_last(), col(ShipmentRecord.shipment_id))
    ).all()
    return _views(s, list(recs), words)


def recently_left(
    s: Session, location_id: str, limit: int = 50, words: Words = ENGLISH_WORDS
) -> list[ShipmentView]:
    recs = s.exec(
        select(ShipmentRecord)
        .where(ShipmentRecord.location_id == location_id, col(ShipmentRecord.status).in_(LEFT_HERE))
        .order_by(
            col(ShipmentRecord.shipped_at).desc().nulls_last(),
            col(ShipmentRecord.shipment_id).desc(),
        )
        .limit(limit)
    ).all()
    return _views(s, list(recs), words)


def shipment_view(s: Session, rec: ShipmentRecord, words: Words = ENGLISH_WORDS) -> ShipmentView:
    return _views(s, [rec], words)[0]


def pickup_order(s: Session, location_id: str, order_id: str) -> OrderRecord | None:
    """The order if it is collected at this store; anyone else's is as good as unknown."""
    rec = s.get(OrderRecord, order_id)
    if rec is None or rec.payload.get("pickup_store_id") != location_id:
        return None
    return rec


def pickups(s: Session, location_id: str) -> list[PickupView]:
    """This store's click & collect orders whose goods are all here, waiting for customers."""
    order_ids = s.exec(
        select(ShipmentRecord.order_id)
        .where(
            or_(
                col(ShipmentRecord.transfer_to) == location_id,
                and_(
                    col(ShipmentRecord.location_id) == location_id,
                    col(ShipmentRecord.carrier) == SHELF_CARRIER,
                ),
            )
        )
        .distinct()
    ).all()
    handed_over = (
        set(
            s.exec(
                select(ShipmentRecord.order_id).where(
                    col(ShipmentRecord.order_id).in_(order_ids),
                    ShipmentRecord.status == "picked_up",
                )
            ).all()
        )
        if order_ids
        else set()
    )
    order_ids = [o for o in order_ids if o not in handed_over]  # done, whatever the read model
    if not order_ids:
        return []
    orders = s.exec(
        select(OrderRecord)
        .where(col(OrderRecord.order_id).in_(order_ids), OrderRecord.status == "ready_for_pickup")
        .order_by(col(OrderRecord.updated_at))
    ).all()
    out = []
    for order in orders:
        if order.payload.get("pickup_store_id") != location_id:
            continue
        ready = s.exec(
            select(OrderEvent)
            .where(OrderEvent.order_id == order.order_id, OrderEvent.type == "ready_for_pickup")
            .order_by(col(OrderEvent.id).desc())
        ).first()
        lines = [
            {"line_id": ln.get("line_id", ""), "sku": ln["sku"], "quantity": ln["quantity"]}
            for ln in order.payload.get("lines", [])
        ]
        out.append(
            PickupView(
                order_id=order.order_id,
                customer=order.customer_name,
                until=str(ready.detail.get("until", ""))[:10] if ready else "",
                to_pay_cents=order.total_cents if order.payment_method == "cash_on_pickup" else 0,
                lines=_lines(s, lines),
            )
        )
    return out


def location_name(s: Session, location_id: str | None) -> str:
    loc = s.get(Location, location_id) if location_id else None
    return f"{loc.name} ({loc.id})" if loc else (location_id or "")


def _views(s: Session, recs: list[ShipmentRecord], words: Words) -> list[ShipmentView]:
    orders = (
        {
            o.order_id: o
            for o in s.exec(
                select(OrderRecord).where(col(OrderRecord.order_id).in_({r.order_id for r in recs}))
            )
        }
        if recs
        else {}
    )
    names = _sku_names(s, {ln["sku"] for r in recs for ln in r.lines})
    views = []
    for rec in recs:
        order = orders.get(rec.order_id)
        views.append(
            ShipmentView(
                shipment_id=rec.shipment_id,
                order_id=rec.order_id,
                status=rec.status,
                carrier=rec.carrier,
                speed=order.shipping_speed if order else "",
                ship_by=rec.ship_by,
                ship_to=_ship_to(s, rec, order, words),
                shelf=rec.carrier == SHELF_CARRIER,
                lines=[
                    LineView(
                        ln.get("line_id", ""),
                        ln["sku"],
                        names.get(ln["sku"], ln["sku"]),
                        ln["quantity"],
                    )
                    for ln in rec.lines
                ],
                actions=[k for k in FORWARD if not refusal(rec, k)],
                tracking_number=rec.tracking_number,
                shipped_at=rec.shipped_at,
                delivery_instructions=rec.delivery_instructions or "",
            )
        )
    return views


def _ship_to(s: Session, rec: ShipmentRecord, order: OrderRecord | None, words: Words) -> str:
    if rec.carrier == SHELF_CARRIER:
        return words.gettext("pickup shelf in this store")
    if rec.transfer_to:
        return words.gettext("%(store)s, for pickup", store=location_name(s, rec.transfer_to))
    address: dict[str, Any] = order.payload.get("delivery_address", {}) if order else {}
    parts = [
        address.get("name", ""),
        address.get("street", ""),
        f"{address.get('postcode', '')} {address.get('city', '')}".strip(),
    ]
    return ", ".join(p for p in parts if p)


def _lines(s: Session, lines: list[dict[str, Any]]) -> list[LineView]:
    names = _sku_names(s, {ln["sku"] for ln in lines})
    return [
        LineView(ln.get("line_id", ""), ln["sku"], names.get(ln["sku"], ln["sku"]), ln["quantity"])
        for ln in lines
    ]


def _sku_names(s: Session, skus: set[str]) -> dict[str, str]:
    if not skus:
        return {}
    return dict(s.exec(select(Sku.sku, Sku.name).where(col(Sku.sku).in_(skus))).all())
