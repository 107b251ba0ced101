"""When a running order refuses a change: the rules behind the order workflow's Update
validators, pure so that they read the same in the workflow, in its tests and in the docs.

Each rule answers the reason for a refusal, or ``""`` when the change may go ahead. The
workflow raises the reason as an ``ActionRefused`` failure; the typed client turns it into
``OrderRefused`` and the API into 409, once (``api/http/errors.py``).
"""

from __future__ import annotations

from datetime import datetime

from core.domain.commands import CancelLinesRequest, ModifyRequest, PickupConfirmation
from core.domain.orders import TERMINAL_STATUSES, OrderStatus
from core.domain.shipment_book import ShipmentBook
from core.domain.shipments import GONE, ShipmentEvent, ShipmentStatus

REFUSAL_TYPE = "ActionRefused"
"""The failure type of a refused Update, as the workflow raises it and the client reads it."""


def closed(status: OrderStatus, ended: bool) -> str:
    if ended or status in TERMINAL_STATUSES:
        return f"the order is already {status.value}"
    return ""


def cancel(status: OrderStatus, ended: bool, book: ShipmentBook) -> str:
    if problem := closed(status, ended):
        return problem
    if shipped := book.shipped():
        return (
            f"already shipped: {', '.join(s.shipment_id for s in shipped)}; cancel "
            "the unshipped lines instead, or start a return"
        )
    return ""


def lines_closed(status: OrderStatus, ended: bool, book: ShipmentBook) -> str:
    """Why the order takes no cancellation of units now, whatever the request."""
    if problem := closed(status, ended):
        return problem
    if not book.plans:
        return "the order is not routed yet: modify it, or cancel it"
    return ""


def cancel_lines(
    status: OrderStatus, ended: bool, book: ShipmentBook, request: CancelLinesRequest
) -> str:
    if problem := lines_closed(status, ended, book):
        return problem
    cancellable = book.cancellable()
    seen: set[str] = set()
    for ln in request.lines:
        if ln.line_id in seen:
            return f"line {ln.line_id} named twice"
        seen.add(ln.line_id)
        left = cancellable.get(ln.line_id, 0)
        if ln.quantity > left:
            return (
                f"line {ln.line_id}: only {left} unshipped unit(s) can be cancelled, "
                f"not {ln.quantity}"
            )
    return ""


def modify_closed(status: OrderStatus, ended: bool, released: bool, book: ShipmentBook) -> str:
    """Why the order takes no modification now, whatever the request."""
    if problem := closed(status, ended):
        return problem
    if released or book.any_released():
        return "already released to fulfilment: changes are no longer possible"
    return ""


def modify(
    status: OrderStatus, ended: bool, released: bool, book: ShipmentBook, request: ModifyRequest
) -> str:
    if problem := modify_closed(status, ended, released, book):
        return problem
    if not request.changes:
        return "nothing to change"
    return ""


def pickup(
    status: OrderStatus,
    ended: bool,
    pickup_store_id: str | None,
    pickup_code: str | None,
    confirmation: PickupConfirmation,
) -> str:
    """``pickup_code`` is the code issued when everything arrived in the store, else None."""
    if problem := closed(status, ended):
        return problem
    if pickup_store_id != confirmation.location_id:
        return "this order is not picked up at this store"
    if pickup_code is None:
        return "the order is not ready for pickup yet"
    if confirmation.code != pickup_code:
        return "wrong pickup code"
    return ""


def shipment_event(
    status: OrderStatus,
    ended: bool,
    book: ShipmentBook,
    event: ShipmentEvent,
    releasing: frozenset[str] = frozenset(),
) -> str:
    """What a location or carrier may report. Refused: news for a closed order, for a
    shipment the order withdrew (cancelled, moved elsewhere), or for one never released to
    its location. A shipment being released right now (``releasing``: the location may have
    its release and answer before the order has booked it) is not refused. Duplicates and
    stale events are not refused either: a resend is harmless."""
    current = book.status.get(event.shipment_id)
    if current is None:
        return f"shipment {event.shipment_id} is not one of this order's"
    if problem := closed(status, ended):
        return f"{problem}: shipment {event.shipment_id} was not expected to move"
    if current in GONE:
        return f"shipment {event.shipment_id} was withdrawn ({current}): it must not ship"
    if current == ShipmentStatus.RESERVED and event.shipment_id not in releasing:
        return f"shipment {event.shipment_id} is not released to its location yet"
    return ""


def release_now(
    status: OrderStatus,
    ended: bool,
    released: bool,
    hold_until: datetime | None,
    now: datetime,
    lifted: bool,
) -> str:
    """Customer service lifts the release hold: only while the order is held for changes."""
    if problem := closed(status, ended):
        return problem
    if released:
        return "already released to fulfilment"
    if hold_until is None or hold_until <= now:
        return "the order is not held for changes"
    if lifted:
        return "the release hold was already lifted"
    return ""


def review(status: OrderStatus, decided: bool) -> str:
    if status != OrderStatus.ON_HOLD or decided:
        return f"the order is not waiting for a review (status {status})"
    return ""


def offered(
    status: OrderStatus,
    ended: bool,
    released: bool,
    book: ShipmentBook,
    review_decided: bool,
    *,
    hold_until: datetime | None = None,
    now: datetime = datetime.min,
    hold_lifted: bool = False,
) -> dict[str, str]:
    """Per customer-service action, why the order would refuse it now ("" = it would take
    it): the same rules as the validators, so a page offers exactly what the workflow accepts
    (answered by the workflow's ``actions`` query)."""
    return {
        "cancel": cancel(status, ended, book),
        "cancel_lines": lines_closed(status, ended, book)
        or ("" if any(book.cancellable().values()) else "every unit has shipped or was cancelled"),
        "modify": modify_closed(status, ended, released, book),
        "review": review(status, review_decided),
        "release_now": release_now(status, ended, released, hold_until, now, hold_lifted),
    }
