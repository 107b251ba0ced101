"""The order workflow's book of shipments: what is planned where, and how far each has got.

Pure, deterministic state (no activities), so the workflow's rules about shipments can be
read and tested in one place.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from core.domain.orders import OrderLine
from core.domain.shipments import (
    DONE,
    FORWARD,
    GONE,
    LEFT_LOCATION,
    ON_THE_WAY,
    OPEN,
    ShipmentPlan,
    ShipmentStatus,
)


class ShipmentBook:
    """Every shipment the order ever planned, under its id, with its status. Shipment ids are
    never reused: a re-routed or cancelled shipment stays in the book as such."""

    def __init__(self) -> None:
        self.plans: dict[str, ShipmentPlan] = {}
        self.status: dict[str, ShipmentStatus] = {}
        self.excluded_locations: set[str] = set()
        self.released_at: dict[str, datetime] = {}
        self.handled: set[tuple[str, str]] = set()  # (shipment id, what) done once already
        self.told: str = ""  # the delivery date the customer was last told, if not the plan's

    def numbered(self, order_id: str, plans: list[ShipmentPlan]) -> list[ShipmentPlan]:
        """The plans under the next free ids ``<order>-S<n>`` (ids are never reused)."""
        first = len(self.plans) + 1
        return [
            p.model_copy(update={"shipment_id": f"{order_id}-S{first + i}"})
            for i, p in enumerate(plans)
        ]

    def add(self, plans: list[ShipmentPlan], status: ShipmentStatus) -> list[ShipmentPlan]:
        for plan in plans:
            self.plans[plan.shipment_id] = plan
            self.status[plan.shipment_id] = status
        return plans

    def advances(self, shipment_id: str, kind: str) -> bool:
        """Only forward moves count; duplicates, stale and unknown events are ignored."""
        current = self.status.get(shipment_id)
        if current is None or current in DONE or kind not in FORWARD:
            return False
        return FORWARD.index(ShipmentStatus(kind)) > FORWARD.index(current)

    def open(self) -> list[ShipmentPlan]:
        return [p for sid, p in self.plans.items() if self.status[sid] in OPEN]

    def open_at(self, location_id: str, only: list[str] | None = None) -> list[ShipmentPlan]:
        return [
            p
            for p in self.open()
            if p.location_id == location_id and (only is None or p.shipment_id in only)
        ]

    def shipped(self) -> list[ShipmentPlan]:
        """Parcels that left their location (a handed-over pickup counts as shipped)."""
        return [p for sid, p in self.plans.items() if self.status[sid] in LEFT_LOCATION]

    def live(self) -> list[ShipmentPlan]:
        return [p for sid, p in self.plans.items() if self.status[sid] not in GONE]

    def all_done(self) -> bool:
        """Every parcel reached its end; a transfer into a pickup store is only done when the
        customer collected it there."""
        return all(
            status in DONE
            and not (status == ShipmentStatus.DELIVERED and self.plans[sid].transfer_to)
            for sid, status in self.status.items()
        )

    def none_shipped(self) -> bool:
        return not self.shipped()

    def all_shipped(self) -> bool:
        return all(s not in OPEN for s in self.status.values())

    def shift_promises(self, now: datetime) -> None:
        """Released later than planned (payment or review took days): move every open
        shipment's dates by the whole days lost, so the promise counts from today."""
        for sid, plan in self.plans.items():
            if self.status[sid] not in OPEN or plan.ship_by is None or plan.ship_by >= now:
                continue
            days = timedelta(days=(now - plan.ship_by).days + 1)
            self.plans[sid] = plan.model_copy(
                update={
                    "ship_date": plan.ship_date + days,
                    "ship_by": plan.ship_by + days,
                    "promised_delivery": plan.promised_delivery + days,
                    "deliver_by": plan.deliver_by + days if plan.deliver_by else None,
                }
            )

    def ready_for_pickup(self) -> bool:
        """Everything for a pickup order is in the store: shelf items packed, transfers in."""
        live = [(p, self.status[p.shipment_id]) for p in self.live()]
        return bool(live) and all(
            (s == ShipmentStatus.PACKED) if p.from_shelf else (s == ShipmentStatus.DELIVERED)
            for p, s in live
        )

    def due(
        self, now: datetime, accept_within: timedelta, reroute_after: timedelta
    ) -> list[tuple[ShipmentPlan, str]]:
        """Promises broken by ``now`` and not yet dealt with, as (shipment, what)."""
        found = []
        for when, plan, what in self._deadlines(accept_within, reroute_after):
            if when <= now:
                found.append((plan, what))
        return found

    def next_deadline(self, accept_within: timedelta, reroute_after: timedelta) -> datetime | None:
        times = [when for when, _, _ in self._deadlines(accept_within, reroute_after)]
        return min(times) if times else None

    def _deadlines(
        self, accept_within: timedelta, reroute_after: timedelta
    ) -> list[tuple[datetime, ShipmentPlan, str]]:
        out: list[tuple[datetime, ShipmentPlan, str]] = []
        for sid, plan in self.plans.items():
            status = self.status[sid]
            if (
                status == ShipmentStatus.RELEASED
                and sid in self.released_at
                and not plan.from_shelf
            ):
                out.append((self.released_at[sid] + accept_within, plan, "not_accepted"))
            if status in OPEN and plan.ship_by is not None:
                out.append((plan.ship_by, plan, "ship_late"))
                if not plan.from_shelf:
                    out.append((plan.ship_by + reroute_after, plan, "still_unshipped"))
            if status in ON_THE_WAY and plan.deliver_by is not None:
                out.append((plan.deliver_by, plan, "deliver_late"))
        return [
            (when, plan, what)
            for when, plan, what in out
            if (plan.shipment_id, what) not in self.handled
        ]

    def any_released(self) -> bool:
        return any(s != ShipmentStatus.RESERVED for s in self.status.values() if s not in GONE)

    def latest_promise(self) -> str:
        live = self.live()
        return max(p.promised_delivery for p in live).isoformat() if live else ""

    def cancellable(self) -> dict[str, int]:
        """Units per order line that have not shipped and can still be cancelled."""
        return merged_lines(self.open())

    def take_out(self, line_id: str, quantity: int, prices: dict[str, int]) -> list[ShipmentPlan]:
        """Remove units of a line from open shipments, latest first; returns the shipments
        changed (in their new form; a shipment without lines is marked cancelled)."""
        changed: dict[str, ShipmentPlan] = {}
        for plan in reversed(self.open()):
            if quantity == 0:
                break
            current = changed.get(plan.shipment_id, plan)
            lines = []
            for ln in current.lines:
                if ln.line_id == line_id and quantity:
                    taken = min(quantity, ln.quantity)
                    quantity -= taken
                    if ln.quantity > taken:
                        lines.append(ln.model_copy(update={"quantity": ln.quantity - taken}))
                else:
                    lines.append(ln)
            if lines != current.lines:
                changed[plan.shipment_id] = current.model_copy(
                    update={
                        "lines": lines,
                        "goods_cents": sum(prices[ln.line_id] * ln.quantity for ln in lines),
                    }
                )
        for sid, plan in changed.items():
            self.plans[sid] = plan
            if not plan.lines:
                self.status[sid] = ShipmentStatus.CANCELLED
        return list(changed.values())


def merged_lines(shipments: list[ShipmentPlan]) -> dict[str, int]:
    """Quantity per order line over several shipments."""
    qty: dict[str, int] = defaultdict(int)
    for s in shipments:
        for ln in s.lines:
            qty[ln.line_id] += ln.quantity
    return dict(qty)


def reduce_lines(lines: list[OrderLine], cancel: dict[str, int]) -> list[OrderLine]:
    """Order lines less the cancelled units; lines that reach zero disappear."""
    out = []
    for ln in lines:
        left = ln.quantity - cancel.get(ln.line_id, 0)
        if left > 0:
            out.append(ln.model_copy(update={"quantity": left}))
    return out
