"""When a running order refuses a change (the rules behind its Update validators)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.domain.commands import (
    CancelLinesRequest,
    LineQuantity,
    ModifyRequest,
    PickupConfirmation,
)
from core.domain.orders import OrderStatus
from core.domain.shipment_book import ShipmentBook
from core.domain.shipments import ShipmentLine, ShipmentPlan, ShipmentStatus
from core.rules import refusals


def _book(*statuses: ShipmentStatus) -> ShipmentBook:
    book = ShipmentBook()
    for n, status in enumerate(statuses, start=1):
        plan = ShipmentPlan(
            shipment_id=f"O-1-S{n}",
            location_id="WH-A",
            lines=[ShipmentLine(line_id="L1", sku="SKU-1", quantity=2)],
            carrier="DHL",
            ship_date=date(2026, 12, 2),
            promised_delivery=date(2026, 12, 4),
            cost_cents=500,
            goods_cents=2000,
        )
        book.add([plan], status)
    return book


@pytest.mark.parametrize(
    "status", [OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REJECTED]
)
def test_a_closed_order_refuses_everything(status: OrderStatus) -> None:
    book = _book(ShipmentStatus.RESERVED)
    lines = CancelLinesRequest(agent="a", lines=[LineQuantity(line_id="L1", quantity=1)])
    modify = ModifyRequest(agent="a", shipping_speed="express")
    expected = f"the order is already {status.value}"
    assert refusals.cancel(status, False, book) == expected
    assert refusals.cancel_lines(status, False, book, lines) == expected
    assert refusals.modify(status, False, False, book, modify) == expected


def test_an_ended_order_refuses_even_before_its_status_caught_up() -> None:
    assert refusals.cancel(OrderStatus.IN_FULFILMENT, True, _book()).startswith("the order is")


def test_cancel_is_refused_once_a_parcel_left_and_names_it() -> None:
    book = _book(ShipmentStatus.SHIPPED, ShipmentStatus.RELEASED)
    assert refusals.cancel(OrderStatus.PARTIALLY_SHIPPED, False, book).startswith(
        "already shipped: O-1-S1;"
    )
    assert refusals.cancel(OrderStatus.IN_FULFILMENT, False, _book(ShipmentStatus.PACKED)) == ""


def test_cancel_lines_counts_only_unshipped_units_and_each_line_once() -> None:
    book = _book(ShipmentStatus.SHIPPED, ShipmentStatus.RELEASED)  # 2 units left of L1

    def ask(*quantities: int) -> str:
        request = CancelLinesRequest(
            agent="a", lines=[LineQuantity(line_id="L1", quantity=q) for q in quantities]
        )
        return refusals.cancel_lines(OrderStatus.PARTIALLY_SHIPPED, False, book, request)

    assert ask(2) == ""
    assert ask(3) == "line L1: only 2 unshipped unit(s) can be cancelled, not 3"
    assert ask(1, 1) == "line L1 named twice"
    unrouted = CancelLinesRequest(agent="a", lines=[LineQuantity(line_id="L1", quantity=1)])
    assert "not routed yet" in refusals.cancel_lines(
        OrderStatus.RISK_CHECK, False, ShipmentBook(), unrouted
    )


def test_modify_only_before_release_and_only_with_something_to_change() -> None:
    change = ModifyRequest(agent="a", shipping_speed="express")
    reserved = _book(ShipmentStatus.RESERVED)
    assert refusals.modify(OrderStatus.CONFIRMED, False, False, reserved, change) == ""
    assert "released" in refusals.modify(OrderStatus.CONFIRMED, False, True, reserved, change)
    released = _book(ShipmentStatus.RELEASED)
    assert "released" in refusals.modify(OrderStatus.CONFIRMED, False, False, released, change)
    nothing = ModifyRequest(agent="a")
    assert refusals.modify(OrderStatus.CONFIRMED, False, False, reserved, nothing) == (
        "nothing to change"
    )


def test_pickup_needs_the_store_the_ready_order_and_its_code() -> None:
    store = "ST-1"
    ok = PickupConfirmation(location_id="ST-1", code="123456", staff="Eva")
    status = OrderStatus.READY_FOR_PICKUP
    assert refusals.pickup(status, False, store, "123456", ok) == ""
    assert refusals.pickup(status, False, store, None, ok) == (
        "the order is not ready for pickup yet"
    )
    wrong = ok.model_copy(update={"code": "000000"})
    assert refusals.pickup(status, False, store, "123456", wrong) == "wrong pickup code"
    elsewhere = ok.model_copy(update={"location_id": "ST-2"})
    assert refusals.pickup(status, False, store, "123456", elsewhere) == (
        "this order is not picked up at this store"
    )


def test_review_only_while_held_and_only_once() -> None:
    assert refusals.review(OrderStatus.ON_HOLD, False) == ""
    assert "not waiting for a review" in refusals.review(OrderStatus.ON_HOLD, True)
    assert "(status confirmed)" in refusals.review(OrderStatus.CONFIRMED, False)


def test_shipment_news_is_refused_for_withdrawn_or_unreleased_but_not_while_releasing() -> None:
    from core.domain.shipments import ShipmentEvent

    shipped = ShipmentEvent(shipment_id="O-1-S1", kind="shipped", tracking_number="T")
    status = OrderStatus.CONFIRMED
    reserved = _book(ShipmentStatus.RESERVED)
    assert "not released" in refusals.shipment_event(status, False, reserved, shipped)
    # the location has its release and answers before the order booked it: not refused
    assert refusals.shipment_event(status, False, reserved, shipped, frozenset({"O-1-S1"})) == ""
    withdrawn = _book(ShipmentStatus.CANCELLED)
    assert "withdrawn" in refusals.shipment_event(status, False, withdrawn, shipped)
    assert "not expected to move" in refusals.shipment_event(
        OrderStatus.CANCELLED, True, _book(ShipmentStatus.RELEASED), shipped
    )
    assert refusals.shipment_event(status, False, _book(ShipmentStatus.RELEASED), shipped) == ""


def test_offered_actions_follow_the_validators() -> None:
    """What a page offers is what the Update validators would accept, action by action."""
    reserved = _book(ShipmentStatus.RESERVED)
    on_hold = refusals.offered(OrderStatus.ON_HOLD, False, False, ShipmentBook(), False)
    assert on_hold["review"] == "" and on_hold["modify"] == ""
    assert on_hold["cancel_lines"]  # not routed yet
    confirmed = refusals.offered(OrderStatus.CONFIRMED, False, False, reserved, False)
    assert confirmed == {
        "cancel": "",
        "cancel_lines": "",
        "modify": "",
        "review": confirmed["review"],
        "release_now": "the order is not held for changes",
    }
    assert confirmed["review"]
    now = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
    held = refusals.offered(
        OrderStatus.PAYMENT_AUTHORISED,
        False,
        False,
        reserved,
        False,
        hold_until=now + timedelta(minutes=15),
        now=now,
    )
    assert held["release_now"] == "" and held["modify"] == "" and held["cancel"] == ""
    over = refusals.offered(
        OrderStatus.PAYMENT_AUTHORISED, False, False, reserved, False, hold_until=now, now=now
    )
    assert over["release_now"] == "the order is not held for changes"
    lifted = refusals.offered(
        OrderStatus.PAYMENT_AUTHORISED,
        False,
        False,
        reserved,
        False,
        hold_until=now + timedelta(minutes=15),
        now=now,
        hold_lifted=True,
    )
    assert lifted["release_now"] == "the release hold was already lifted"
    released = refusals.offered(
        OrderStatus.IN_FULFILMENT, False, True, _book(ShipmentStatus.RELEASED), False
    )
    assert released["modify"] and not released["cancel"] and not released["cancel_lines"]
    shipped = refusals.offered(
        OrderStatus.SHIPPED, False, True, _book(ShipmentStatus.SHIPPED), False
    )
    assert shipped["cancel"] and shipped["cancel_lines"] and shipped["modify"]
    done = refusals.offered(
        OrderStatus.COMPLETED, True, True, _book(ShipmentStatus.DELIVERED), False
    )
    assert all(done.values())
