"""One way for a shipment event to reach its order: checked, then signalled to the workflow.

The shipment webhook (warehouse systems, carriers) and the store and vendor portal both use it,
so an event means the same whoever reports it.
"""

from __future__ import annotations

from temporalio.client import Client

from api.http.errors import field_error, invalid
from core.db.schema import ShipmentRecord
from core.domain.shipments import ShipmentEvent, steps_done
from workflows.order.client import OrderClient, OrderClosed


def check_event(event: ShipmentEvent) -> None:
    """Events the workflow could not act on are 422, naming the field, before anything moves."""
    if event.kind == "shipped" and not event.tracking_number:
        raise invalid(
            [
                field_error(
                    ("tracking_number",), "a shipped event needs a tracking number", "missing"
                )
            ]
        )
    if (event.kind == "exception") != (event.exception is not None):
        raise invalid(
            [
                field_error(
                    ("exception",),
                    "give the exception (lost, damaged, "
                    "returned_to_sender) with event=exception, and only then",
                    "exception",
                )
            ]
        )


async def send_shipment_event(client: Client, record: ShipmentRecord, event: ShipmentEvent) -> None:
    """Signal ``event`` to the order owning ``record``. The workflow ignores duplicates and
    stale events; an order whose workflow has closed refuses (``OrderClosed``, 409)."""
    if event.shipment_id != record.shipment_id:
        raise ValueError(f"event for {event.shipment_id} sent with record {record.shipment_id}")
    check_event(event)
    try:
        await OrderClient(client, record.order_id).shipment_event(event)
    except OrderClosed:
        if already_recorded(record, event):
            return  # a carrier's resend of what the order already knows: accepted again
        raise


def already_recorded(record: ShipmentRecord, event: ShipmentEvent) -> bool:
    """Senders retry webhooks whose answer they missed; once the order is closed, a repeat of
    an event it took (or an earlier step of the same parcel) is answered as accepted, while
    news it never took (shipping a cancelled order's parcel) stays a 409."""
    done = steps_done(record.status)
    step = steps_done(event.kind)
    return done is not None and step is not None and step <= done and done > 0
