"""Location availability: ops take a location offline (or back online)."""

from __future__ import annotations

from sqlmodel import col, select
from temporalio import activity

from core.db.engine import session_scope
from core.db.schema import Location, ShipmentRecord
from core.settings import Settings

UNSHIPPED = ["reserved", "released", "accepted"]


class LocationActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def set_location_online(self, location_id: str, online: bool) -> list[str]:
        """Flag the location; returns the orders with unshipped shipments there (to re-route
        when it goes offline). Routing skips offline locations from this moment on."""
        with session_scope(self.url) as s:
            loc = s.get(Location, location_id)
            if loc is None:
                raise LookupError(f"unknown location {location_id}")
            loc.online = online
            if online:
                return []
            rows = s.exec(
                select(ShipmentRecord.order_id)
                .where(
                    ShipmentRecord.location_id == location_id,
                    col(ShipmentRecord.status).in_(UNSHIPPED),
                )
                .distinct()
            ).all()
            return sorted(rows)
