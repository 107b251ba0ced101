"""One way for a shipment event to reach its order: checked, then signalled to the workflow.

The shipment webhook (warehouse systems, carriers) and the store and vendor portal both use it,
so an event means the same whoever reports it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.concurrency import run_in_threadpool
from temporalio.client import Client

from activities.fulfilment import ops_cases
from api.http.errors import field_error, invalid
from core.db.schema import ShipmentRecord
from core.domain.shipments import MOVING, ShipmentEvent, steps_done
from workflows.order.client import OrderClient, OrderClosed, OrderRefused


def check_event(event: ShipmentEvent, max_skew: timedelta) -> None:
    """Events the workflow could not act on are 422, naming the field, before anything moves.

    ``at`` needs a time zone (the order compares it with its promises) and may not lie more
    than ``max_skew`` ahead of our clock: a carrier whose clock is years ahead must not make
    a parcel "late" on a day that has not come."""
    if event.at is not None:
        if event.at.tzinfo is None:
            raise invalid(
                [field_error(("at",), "give the time with its offset (e.g. Z)", "timezone")]
            )
        latest = datetime.now(UTC) + max_skew
        if event.at > latest:
            raise invalid(
                [
                    field_error(
                        ("at",),
                        f"{event.at.isoformat()} is in the future (our clock allows up to "
                        f"{latest.isoformat(timespec='seconds')})",
                        "future",
                    )
                ]
            )
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


async def send_shipment_event(
    client: Client,
    database_url: str,
    record: ShipmentRecord,
    event: ShipmentEvent,
    max_skew: timedelta,
) -> None:
    """Report ``event`` to the order owning ``record`` (a Temporal Update, answered once the
    order accepted it); ``max_skew`` is ``Settings.event_clock_skew``. The order ignores
    duplicates and stale events and refuses news for a withdrawn or unreleased shipment or a
    closed order (``OrderRefused``, 409); refused news of a parcel that moved also opens an
    ops case."""
    if event.shipment_id != record.shipment_id:
        raise ValueError(f"event for {event.shipment_id} sent with record {record.shipment_id}")
    check_event(event, max_skew)
    try:
        await OrderClient(client, record.order_id).report_shipment_event(event)
    except OrderClosed as exc:
        if already_recorded(record, event):
            return  # a carrier's resend of what the order already knows: accepted again
        await _case_if_moved(database_url, record, event, exc.reason)
        raise
    except OrderRefused as exc:
        await _case_if_moved(database_url, record, event, exc.reason)
        raise


async def _case_if_moved(url: str, record: ShipmentRecord, event: ShipmentEvent, why: str) -> None:
    """A parcel that physically left is never dropped: refused news of it is a case for
    operations (the partner gets 409 and keeps it too)."""
    if event.kind in MOVING:
        key = ops_cases.case_key(ops_cases.PARCEL_MOVED_UNEXPECTEDLY, event.shipment_id, event.kind)
        detail = {"event": event.kind, "why": why, "tracking_number": event.tracking_number or "",
                  "carrier": event.carrier or ""}  # fmt: skip
        await run_in_threadpool(
            ops_cases.open_case, url, key, ops_cases.PARCEL_MOVED_UNEXPECTEDLY,
            record.order_id, event.shipment_id, detail,
        )  # fmt: skip


def already_recorded(record: ShipmentRecord, event: ShipmentEvent) -> bool:
    """Senders retry webhooks whose answer they missed; once the order is closed, a repeat of
    an event it took (or an earlier step of the same parcel) is answered as accepted, while
    news it never took (shipping a cancelled order's parcel) stays a 409."""
    done = steps_done(record.status)
    step = steps_done(event.kind)
    return done is not None and step is not None and step <= done and done > 0
