"""Releasing shipments to the locations' systems and recording what happens to them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio import activity

from activities.fulfilment import ops_cases
from activities.stock import reservations
from activities.stock.restock import restock
from core.db.engine import session_scope
from core.db.schema import OrderRecord, ShipmentRecord, Voucher
from core.domain.shipments import CONSUMES_STOCK, GONE, ShipmentEvent, ShipmentPlan
from core.metrics import observe_release_latency
from core.policy import ReleasePolicy
from core.settings import Settings


class FulfilmentActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.database_url

    @activity.defn
    def release_shipment(self, order_id: str, shipment: ShipmentPlan) -> None:
        """Hand the shipment to its location. Stores and vendors read their queue from the
        portal; a warehouse system adapter would be called here with the same idempotency.

        A parcel to the customer goes with the order's delivery instructions as they stand at
        release (the read model holds the order's latest change: a change is recorded before
        the order moves on, and none is taken after release); a transfer to a pickup store or
        the store's own shelf goes without. Written once, with the release: a retry finds it."""
        latency: float | None = None
        with session_scope(self.url) as s:
            rec = s.get(ShipmentRecord, shipment.shipment_id)
            if rec is None:
                raise LookupError(f"shipment {shipment.shipment_id} was never reserved")
            if rec.released_at is None:
                rec.status = "released"
                rec.released_at = datetime.now(UTC)
                # the promise as released (later than planned if payment took days)
                rec.ship_date, rec.ship_by = shipment.ship_date, shipment.ship_by
                rec.promised_delivery = shipment.promised_delivery
                rec.deliver_by = shipment.deliver_by
                order = s.get(OrderRecord, order_id)
                if order is not None:
                    latency = release_latency(order, rec.released_at)
                    if shipment.transfer_to is None and not shipment.from_shelf:
                        rec.delivery_instructions = order.payload.get("delivery_instructions")
        if latency is not None:  # counted once, after the release is committed
            observe_release_latency(latency)

    @activity.defn
    def record_shipment_event(self, order_id: str, event: ShipmentEvent) -> str:
        """Apply a shipment event to the read model and stock; returns the tracking URL.

        Shipped (or handed over at pickup): its reserved units leave on-hand stock. Returned
        to sender: the units go back on the shelf they came from."""
        clock = datetime.now(UTC)
        # a sender's clock running ahead never dates a delivery after it could have happened
        now = min(event.at, clock) if event.at is not None and event.at.tzinfo else clock
        if event.kind in CONSUMES_STOCK:
            reservations.consume(self.url, order_id, event.shipment_id)
        with session_scope(self.url) as s:
            rec = s.get(ShipmentRecord, event.shipment_id)
            if rec is None:
                raise LookupError(f"unknown shipment {event.shipment_id}")
            if event.kind == "exception":
                rec.status = "returned" if event.exception == "returned_to_sender" else "lost"
                if event.exception == "returned_to_sender":
                    restock(
                        self.url,
                        rec.location_id,
                        _quantities(rec.lines),
                        source=f"order:{order_id}",
                        key=f"returned:{rec.shipment_id}",
                        reason="parcel returned to sender",
                    )
                return rec.tracking_url
            rec.status = event.kind
            if event.kind == "shipped":
                rec.carrier = event.carrier or rec.carrier
                rec.tracking_number = event.tracking_number or ""
                rec.tracking_url = self.settings.tracking_url_template.format(
                    carrier=rec.carrier, tracking=rec.tracking_number
                )
                rec.shipped_at = rec.shipped_at or now
            elif event.kind == "delivered":
                rec.delivered_at = rec.delivered_at or now
            return rec.tracking_url

    @activity.defn
    def withdraw_shipment(
        self, order_id: str, shipment_id: str, reason: str, status: str = "rerouted"
    ) -> None:
        """Take a shipment back from its location (offline, refused, cancelled, replaced): its
        stock is freed and its queue entry disappears; the location's system is told here."""
        reservations.release(self.url, order_id, shipment_id)
        with session_scope(self.url) as s:
            rec = s.get(ShipmentRecord, shipment_id)
            if rec is not None and rec.status not in GONE:
                rec.status = status

    @activity.defn
    def resize_shipment(self, order_id: str, shipment: ShipmentPlan) -> int:
        """A partial cancel took lines out of an unshipped shipment: give back their stock and
        update what the location sees. No lines left: the shipment is cancelled."""
        keep = {ln.line_id: ln.quantity for ln in shipment.lines}
        freed = reservations.shrink(self.url, order_id, shipment.shipment_id, keep)
        with session_scope(self.url) as s:
            rec = s.get(ShipmentRecord, shipment.shipment_id)
            if rec is not None:
                rec.lines = [ln.model_dump() for ln in shipment.lines]
                rec.goods_cents = shipment.goods_cents
                if not shipment.lines:
                    rec.status = "cancelled"
        return freed

    @activity.defn
    def restock(self, order_id: str, shipment: ShipmentPlan, location_id: str, reason: str) -> int:
        """Goods of a shipment that ended up at ``location_id`` become its stock."""
        with session_scope(self.url) as s:
            rec = s.get(ShipmentRecord, shipment.shipment_id)
            if rec is not None:
                rec.status = "cancelled"
        return restock(
            self.url,
            location_id,
            _quantities([ln.model_dump() for ln in shipment.lines]),
            source=f"order:{order_id}",
            key=f"restock:{shipment.shipment_id}",
            reason=reason,
        )


def _quantities(lines: list[dict[str, Any]]) -> dict[str, int]:
    qty: dict[str, int] = {}
    for ln in lines:
        qty[ln["sku"]] = qty.get(ln["sku"], 0) + int(ln["quantity"])
    return qty


class OpsCaseActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def open_parcel_case(self, order_id: str, event: ShipmentEvent, why: str) -> int:
        """A parcel moved that the order did not expect to: a case for operations, once."""
        return ops_cases.open_case(
            self.url,
            ops_cases.case_key(ops_cases.PARCEL_MOVED_UNEXPECTEDLY, event.shipment_id, event.kind),
            ops_cases.PARCEL_MOVED_UNEXPECTEDLY,
            order_id,
            event.shipment_id,
            {
                "event": event.kind,
                "why": why,
                "tracking_number": event.tracking_number or "",
                "carrier": event.carrier or "",
            },  # fmt: skip
        )


class CompensationActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def issue_voucher(
        self, order_id: str, code: str, value_cents: int, valid_until: datetime
    ) -> str:
        """Create the voucher once; a retry finds it by its code."""
        with session_scope(self.url) as s:
            if s.get(Voucher, code) is None:
                s.add(
                    Voucher(
                        code=code,
                        order_id=order_id,
                        value_cents=value_cents,
                        valid_until=valid_until,
                    )
                )
        return code


def release_latency(order: OrderRecord, released_at: datetime) -> float | None:
    """Seconds from the order's placement, or its release hold's end, to its release: what
    the OMS itself takes. None for an order released early ("release now"): its start is the
    agent's click, not known here."""
    start = order.created_at
    payload = order.payload
    release = (payload.get("policy") or {}).get("release")
    if release is not None and "placed_at" in payload:
        hold = ReleasePolicy.model_validate(release).hold_for(
            payload.get("channel", ""), payload.get("payment_method", "")
        )
        start = max(start, datetime.fromisoformat(payload["placed_at"]) + hold)
    if released_at < start:
        return None
    return (released_at - start).total_seconds()
