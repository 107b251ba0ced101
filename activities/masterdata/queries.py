"""Reading the catalogue and the locations: filtered lists, one record, a location's calendar
and load.

Lists are paged by key (keyset), not by offset: ordered by the SKU or location id, a page
answers ``next_after`` (the last id on it, or None at the end) and the caller passes it as
``after`` for the next page. Imports may add or change rows between pages without a row being
skipped or repeated, and a deep page costs no more than the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import Session, col, select

from activities.masterdata.calendar import WEEKDAYS, closed_days
from activities.masterdata.views import (
    CalendarDay,
    LocationDetail,
    LocationView,
    SkuView,
    location_view,
    resolved_cutoffs,
    sku_view,
)
from core.db.schema import Location, Reservation, Sku, Stock

BERLIN = ZoneInfo("Europe/Berlin")  # where the locations' calendars are kept
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


class SkuPage(BaseModel):
    skus: list[SkuView]
    next_after: str | None


class LocationPage(BaseModel):
    locations: list[LocationView]
    next_after: str | None


@dataclass(frozen=True)
class SkuFilter:
    text: str | None = None
    active: bool | None = None
    vat_class: str | None = None
    bulky: bool | None = None
    hazardous: bool | None = None


@dataclass(frozen=True)
class LocationFilter:
    kind: str | None = None
    online: bool | None = None
    zone: str | None = None
    state: str | None = None
    city: str | None = None
    pickup_point: bool | None = None
    ships_to_customers: bool | None = None


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive "contains"; % and _ in the text are literal."""
    return func.lower(column).contains(text.lower(), autoescape=True)


def list_skus(
    s: Session, f: SkuFilter, limit: int = DEFAULT_LIMIT, after: str | None = None
) -> SkuPage:
    """SKUs matching ``f`` in SKU order, one page after ``after``."""
    q = select(Sku)
    if f.text and f.text.strip():
        text = f.text.strip()
        q = q.where(
            or_(
                _contains(Sku.sku, text),
                _contains(Sku.name, text),
                _contains(Sku.name_en, text),
                _contains(Sku.gtin, text),
            )
        )
    for column, wanted in (
        (Sku.active, f.active),
        (Sku.vat_class, f.vat_class),
        (Sku.bulky, f.bulky),
        (Sku.hazardous, f.hazardous),
    ):
        if wanted is not None:
            q = q.where(col(column) == wanted)
    if after is not None:
        q = q.where(col(Sku.sku) > after)
    limit = _bounded(limit)
    rows = list(s.exec(q.order_by(col(Sku.sku)).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return SkuPage(
        skus=[sku_view(r) for r in rows], next_after=rows[-1].sku if more and rows else None
    )


def get_sku(s: Session, sku: str) -> SkuView | None:
    row = s.get(Sku, sku)
    return None if row is None else sku_view(row)


def list_locations(
    s: Session, f: LocationFilter, limit: int = DEFAULT_LIMIT, after: str | None = None
) -> LocationPage:
    """Locations matching ``f`` in id order, one page after ``after``."""
    q = select(Location)
    for column, wanted in (
        (Location.kind, f.kind),
        (Location.online, f.online),
        (Location.zone, f.zone),
        (Location.state, f.state.upper() if f.state else None),
        (Location.pickup_point, f.pickup_point),
        (Location.ships_to_customers, f.ships_to_customers),
    ):
        if wanted is not None:
            q = q.where(col(column) == wanted)
    if f.city and f.city.strip():
        q = q.where(_contains(Location.city, f.city.strip()))
    if after is not None:
        q = q.where(col(Location.id) > after)
    limit = _bounded(limit)
    rows = list(s.exec(q.order_by(col(Location.id)).limit(limit + 1)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return LocationPage(
        locations=[location_view(r) for r in rows],
        next_after=rows[-1].id if more and rows else None,
    )


def get_location(
    s: Session, location_id: str, calendar_days: int = 0, start: date | None = None
) -> LocationDetail | None:
    """One location, with its next ``calendar_days`` days of shipping calendar from ``start``
    (today in Berlin, where the calendars are kept, unless given)."""
    row = s.get(Location, location_id)
    if row is None:
        return None
    days = calendar(row, start or datetime.now(BERLIN).date(), calendar_days)
    return LocationDetail(**location_view(row).model_dump(), calendar=days)


def calendar(loc: Location, start: date, days: int) -> list[CalendarDay]:
    """Each of ``days`` days from ``start``: does it ship, by which cut-off, or why not (the
    routing calendar's reasons: weekday not open, a public holiday by name, own closing day)."""
    if days <= 0:
        return []
    cutoffs = resolved_cutoffs(loc)
    reasons = closed_days(loc, start, days)
    out = []
    for i in range(days):
        day = start + timedelta(days=i)
        weekday = WEEKDAYS[day.weekday()]
        reason = reasons.get(day)
        ships = reason is None
        out.append(
            CalendarDay(
                date=day,
                weekday=weekday,
                ships=ships,
                cutoff=cutoffs[weekday] if ships else None,
                reason=reason,
            )
        )
    return out


class LocationLoad(BaseModel):
    """What a location carries now: reservations and stock."""

    backlog_units: int
    reserved_today: int
    daily_capacity: int
    stock_skus: int
    on_hand: int
    reserved: int
    held: int


def location_load(s: Session, loc: Location, today: date | None = None) -> LocationLoad:
    """Backlog (units in active reservations) and units reserved today against the daily
    capacity, counted as the dashboard counts them; and a stock summary."""
    day = today or datetime.now(UTC).date()
    backlog, reserved_today = s.exec(
        select(
            func.coalesce(
                func.sum(case((col(Reservation.status) == "active", Reservation.quantity))), 0
            ),
            func.coalesce(
                func.sum(
                    case(
                        (
                            and_(
                                col(Reservation.day) == day, col(Reservation.status) != "released"
                            ),
                            Reservation.quantity,
                        )
                    )
                ),
                0,
            ),
        ).where(col(Reservation.location_id) == loc.id)
    ).one()
    skus, on_hand, reserved, held = s.exec(
        select(
            func.count(),
            func.coalesce(func.sum(Stock.on_hand), 0),
            func.coalesce(func.sum(Stock.reserved), 0),
            func.coalesce(func.sum(Stock.held), 0),
        ).where(col(Stock.location_id) == loc.id, col(Stock.on_hand) > 0)
    ).one()
    return LocationLoad(
        backlog_units=int(backlog),
        reserved_today=int(reserved_today),
        daily_capacity=loc.daily_capacity,
        stock_skus=int(skus),
        on_hand=int(on_hand),
        reserved=int(reserved),
        held=int(held),
    )


def _bounded(limit: int) -> int:
    return min(max(limit, 1), MAX_LIMIT)
