"""The stock context's Temporal face: reserve a routed plan, release it (saga compensation), take
a location offline, expire holds."""

from __future__ import annotations

from sqlmodel import col, select
from temporalio import activity

from activities.masterdata import changes
from activities.stock import reservations
from activities.stock.holds import ExpiredHolds, expire_due
from core.db.engine import session_scope
from core.db.schema import Location, ShipmentRecord
from core.domain.shipments import OPEN, ReservationResult, ShipmentPlan
from core.settings import Settings


class StockActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def reserve_stock(self, order_id: str, shipments: list[ShipmentPlan]) -> ReservationResult:
        return reservations.reserve(self.url, order_id, shipments)

    @activity.defn
    def release_stock(self, order_id: str) -> int:
        """Give back everything the order still holds; it ends, so its unshipped shipments
        are cancelled too."""
        return reservations.release_order(self.url, order_id)


class LocationActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def set_location_online(self, location_id: str, online: bool) -> list[str]:
        """Flag the location; returns the orders with unshipped (``OPEN``) shipments there, the
        ones the order workflow moves, to re-route when it goes offline. Routing skips offline
        locations from this moment on."""
        with session_scope(self.url) as s:
            loc = s.get(Location, location_id)
            if loc is None:
                raise LookupError(f"unknown location {location_id}")
            source = (activity.info().workflow_id or "") if activity.in_activity() else ""
            changes.set_online(s, loc, online, actor="location outage workflow", source=source)
            if online:
                return []
            rows = s.exec(
                select(ShipmentRecord.order_id)
                .where(
                    ShipmentRecord.location_id == location_id,
                    col(ShipmentRecord.status).in_(sorted(OPEN)),
                )
                .distinct()
            ).all()
            return sorted(rows)


class HoldActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def expire_holds(self, limit: int) -> ExpiredHolds:
        """End up to ``limit`` stock rows' worth of expired holds."""
        return expire_due(self.url, limit)
