"""Available to promise (ATP): on hand − reserved − safety stock − active holds, by channel.

Holds count only until they expire, read straight from the holds, so an expired hold stops
counting the moment it expires, whether or not the cleanup schedule has ended it yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import Subquery, and_, func, select
from sqlmodel import Session

from core.db.schema import Location, Stock, StockHold
from core.settings import Settings

STOCK = Stock.__table__  # type: ignore[attr-defined]
LOCATION = Location.__table__  # type: ignore[attr-defined]
HOLD = StockHold.__table__  # type: ignore[attr-defined]

REMOTE_CHANNELS = frozenset({"web", "app", "phone"})
"""Channels whose customer is not standing in a store: they get parcels, not shelf stock."""


def channel_buffer(kind: str, channel: str, settings: Settings) -> int:
    """Units of a store's stock kept for walk-in customers: remote channels never see them."""
    return settings.store_online_buffer if kind == "store" and channel in REMOTE_CHANNELS else 0


def counts_for(channel: str, online: bool, ships_to_customers: bool) -> bool:
    """Whether a location's stock adds to the channel's network figure: remote channels only
    count locations that ship to customers; nothing counts while ops have it offline."""
    return online and (channel not in REMOTE_CHANNELS or ships_to_customers)


class LocationAvailability(BaseModel):
    location_id: str
    kind: str
    online: bool
    ships_to_customers: bool
    pickup_point: bool
    on_hand: int
    reserved: int
    held: int
    safety_stock: int
    channel_buffer: int
    available: int
    counts_for_network: bool


class SkuAvailability(BaseModel):
    """ATP of one SKU for one channel: per location and for the whole network."""

    sku: str
    channel: str
    as_of: datetime
    available: int
    on_hand: int
    reserved: int
    held: int
    locations: list[LocationAvailability]


def active_holds(skus: Iterable[str] | None, now: datetime) -> Subquery:
    """Units held per location and SKU (all SKUs for None) by holds that have not expired."""
    query = select(HOLD.c.location_id, HOLD.c.sku, func.sum(HOLD.c.quantity).label("units")).where(
        HOLD.c.status == "active", HOLD.c.expires_at > now
    )
    if skus is not None:
        query = query.where(HOLD.c.sku.in_(list(skus)))
    return query.group_by(HOLD.c.location_id, HOLD.c.sku).subquery()


def availability(
    s: Session,
    skus: list[str],
    channel: str,
    settings: Settings,
    now: datetime | None = None,
    location_ids: list[str] | None = None,
) -> dict[str, SkuAvailability]:
    """ATP of each SKU (in one query), per location and over the network, for a channel."""
    now = now or datetime.now(UTC)
    held = active_holds(skus, now)
    query = (
        select(
            STOCK.c.location_id,
            STOCK.c.sku,
            STOCK.c.on_hand,
            STOCK.c.reserved,
            STOCK.c.safety_stock,
            func.coalesce(held.c.units, 0).label("held"),
            LOCATION.c.kind,
            LOCATION.c.online,
            LOCATION.c.ships_to_customers,
            LOCATION.c.pickup_point,
        )
        .join(LOCATION, LOCATION.c.id == STOCK.c.location_id)
        .outerjoin(held, and_(held.c.location_id == STOCK.c.location_id, held.c.sku == STOCK.c.sku))
        .where(STOCK.c.sku.in_(skus))
    )
    if location_ids is not None:
        query = query.where(STOCK.c.location_id.in_(location_ids))
    result = {
        sku: SkuAvailability(
            sku=sku,
            channel=channel,
            as_of=now,
            available=0,
            on_hand=0,
            reserved=0,
            held=0,
            locations=[],
        )
        for sku in skus
    }
    for r in s.connection().execute(query.order_by(STOCK.c.sku, STOCK.c.location_id)):
        buffer = channel_buffer(r.kind, channel, settings)
        counts = counts_for(channel, r.online, r.ships_to_customers)
        free = r.on_hand - r.reserved - r.held - r.safety_stock - buffer
        loc = LocationAvailability(
            location_id=r.location_id,
            kind=r.kind,
            online=r.online,
            ships_to_customers=r.ships_to_customers,
            pickup_point=r.pickup_point,
            on_hand=r.on_hand,
            reserved=r.reserved,
            held=r.held,
            safety_stock=r.safety_stock,
            channel_buffer=buffer,
            available=max(0, free) if r.online else 0,
            counts_for_network=counts,
        )
        total = result[r.sku]
        total.locations.append(loc)
        if counts:
            total.available += loc.available
            total.on_hand += r.on_hand
            total.reserved += r.reserved
            total.held += r.held
    return result


def shortfalls(
    s: Session, wanted: dict[str, int], channel: str, settings: Settings, order_id: str
) -> dict[str, int]:
    """The SKUs of ``wanted`` (SKU -> units) that the network cannot cover now, with what it
    has available; units held for this very order (its checkout hold) count as its own."""
    now = datetime.now(UTC)
    atp = availability(s, sorted(wanted), channel, settings, now=now)
    rows = s.connection().execute(
        select(HOLD.c.sku, func.sum(HOLD.c.quantity))
        .where(
            HOLD.c.order_id == order_id,
            HOLD.c.status == "active",
            HOLD.c.expires_at > now,
            HOLD.c.sku.in_(sorted(wanted)),
        )
        .group_by(HOLD.c.sku)
    )
    own: dict[str, int] = {sku: int(units) for sku, units in rows}
    out: dict[str, int] = {}
    for sku, units in wanted.items():
        available = atp[sku].available + int(own.get(sku, 0))
        if units > available:
            out[sku] = available
    return out
