"""One way for a shipment event to reach its order: checked, then signalled to the workflow.

The shipment webhook (warehouse systems, carriers) and the store and vendor portal both use it,
so an event means the same whoever reports it.
"""

from __future__ import annotations

from fastapi import HTTPException
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.errors import field_error, invalid
from core.db.schema import ShipmentRecord
from core.models import ShipmentEvent, workflow_id_for
from workflows.order import OrderWorkflow


def check_event(event: ShipmentEvent) -> None:
    """Events the workflow could not act on are 422, naming the field, before anything moves."""
    if event.kind == "shipped" and not event.tracking_number:
        raise invalid([field_error(("tracking_number",), "a shipped event needs a tracking "
                                   "number", "missing")])
    if (event.kind == "exception") != (event.exception is not None):
        raise invalid([field_error(("exception",), "give the exception (lost, damaged, "
                                   "returned_to_sender) with event=exception, and only then",
                                   "exception")])


async def send_shipment_event(client: Client, record: ShipmentRecord,
                              event: ShipmentEvent) -> None:
    """Signal ``event`` to the order owning ``record``. The workflow ignores duplicates and
    stale events; an order whose workflow has closed answers 409 (nothing left to tell)."""
    if event.shipment_id != record.shipment_id:
        raise ValueError(f"event for {event.shipment_id} sent with record {record.shipment_id}")
    check_event(event)
    try:
        await client.get_workflow_handle(workflow_id_for(record.order_id)).signal(
            OrderWorkflow.shipment_event, event)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(409, detail=f"order {record.order_id} is closed") from exc
        raise
