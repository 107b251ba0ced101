"""The order workflow's book of shipments: what is planned where, and how far each has got.

Pure, deterministic state (no activities), so the workflow's rules about shipments can be
read and tested in one place.
"""

from __future__ import annotations

from collections import defaultdict

from core.models import ShipmentLine, ShipmentPlan

# Forward order of a shipment's states; "rerouted" and "delivered" are terminal.
PROGRESS = ["reserved", "released", "accepted", "shipped", "delivered"]
OPEN = {"reserved", "released", "accepted"}  # not yet shipped: may still be re-routed
DONE = {"delivered", "rerouted"}


class ShipmentBook:
    def __init__(self) -> None:
        self.plans: dict[str, ShipmentPlan] = {}
        self.status: dict[str, str] = {}
        self.excluded_locations: set[str] = set()

    def numbered(self, order_id: str, plans: list[ShipmentPlan]) -> list[ShipmentPlan]:
        """The plans under the next free ids ``<order>-S<n>`` (ids are never reused)."""
        first = len(self.plans) + 1
        return [p.model_copy(update={"shipment_id": f"{order_id}-S{first + i}"})
                for i, p in enumerate(plans)]

    def add(self, plans: list[ShipmentPlan], status: str) -> list[ShipmentPlan]:
        for plan in plans:
            self.plans[plan.shipment_id] = plan
            self.status[plan.shipment_id] = status
        return plans

    def advances(self, shipment_id: str, kind: str) -> bool:
        """Only forward moves count; duplicates, stale and unknown events are ignored."""
        current = self.status.get(shipment_id)
        if current is None or current in DONE or kind not in PROGRESS:
            return False
        return PROGRESS.index(kind) > PROGRESS.index(current)

    def open_at(self, location_id: str, only: list[str] | None = None) -> list[ShipmentPlan]:
        return [p for sid, p in self.plans.items()
                if p.location_id == location_id and self.status[sid] in OPEN
                and (only is None or sid in only)]

    def live(self) -> list[ShipmentPlan]:
        return [p for sid, p in self.plans.items() if self.status[sid] != "rerouted"]

    def all_done(self) -> bool:
        return all(s in DONE for s in self.status.values())

    def none_shipped(self) -> bool:
        return not any(s in ("shipped", "delivered") for s in self.status.values())

    def all_shipped(self) -> bool:
        return all(s in ("shipped", "delivered", "rerouted") for s in self.status.values())

    def latest_promise(self) -> str:
        live = self.live()
        return max(p.promised_delivery for p in live).isoformat() if live else ""


def merged_lines(shipments: list[ShipmentPlan]) -> dict[str, int]:
    """Quantity per order line over several shipments."""
    qty: dict[str, int] = defaultdict(int)
    for s in shipments:
        for ln in s.lines:
            qty[ln.line_id] += ln.quantity
    return dict(qty)


def lines_summary(lines: list[ShipmentLine]) -> str:
    return ", ".join(f"{ln.quantity}x{ln.sku}" for ln in lines)
