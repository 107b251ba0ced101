"""Stock activities: reserve a routed plan, release it (saga compensation)."""

from __future__ import annotations

from temporalio import activity

from activities.stock import reservations
from core.domain.shipments import ReservationResult, ShipmentPlan
from core.settings import Settings


class StockActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def reserve_stock(self, order_id: str, shipments: list[ShipmentPlan]) -> ReservationResult:
        return reservations.reserve(self.url, order_id, shipments)

    @activity.defn
    def release_stock(self, order_id: str) -> int:
        """Give back everything the order still holds."""
        return reservations.release(self.url, order_id)
