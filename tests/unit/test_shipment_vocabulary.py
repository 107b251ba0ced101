"""The shipment-status vocabulary decides, once, what moves and what counts: these tests pin the
two places where copies used to disagree (an outage and the workflow moving different
shipments; a table default nothing wrote)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from activities.stock.activities import LocationActivities
from core.db.engine import session_scope
from core.db.migrate import upgrade
from core.db.schema import Location, ShipmentRecord
from core.domain.shipment_book import ShipmentBook
from core.domain.shipments import (
    DONE,
    FORWARD,
    GONE,
    LEFT_LOCATION,
    OPEN,
    ShipmentLine,
    ShipmentPlan,
    ShipmentStatus,
    steps_done,
)
from core.settings import Settings

LOC = "WH-TEST"


def _plan(shipment_id: str) -> ShipmentPlan:
    return ShipmentPlan(
        shipment_id=shipment_id,
        location_id=LOC,
        lines=[ShipmentLine(line_id="L1", sku="SKU-1", quantity=1)],
        carrier="DHL",
        ship_date=date(2026, 12, 2),
        promised_delivery=date(2026, 12, 4),
        cost_cents=500,
        goods_cents=1000,
    )


def test_an_outage_reroutes_exactly_what_the_order_workflow_moves(tmp_path: Path) -> None:
    """Decided: every shipment not yet shipped (OPEN, picked and packed included) leaves an
    offline location. The outage picks the orders to tell by that set, and the workflow moves
    that set, so no order with a packed parcel there is forgotten."""
    url = f"sqlite:///{tmp_path}/oms.db"
    upgrade(url)
    with session_scope(url) as s:
        s.add(Location(id=LOC, name="Test", kind="warehouse", postcode="04109", city="Leipzig",
                       latitude=51.3, longitude=12.4))  # fmt: skip
        for status in ShipmentStatus:
            s.add(ShipmentRecord(shipment_id=f"O-{status}-S1", order_id=f"O-{status}",
                                 location_id=LOC, status=status.value, lines=[]))  # fmt: skip
    told = LocationActivities(Settings(database_url=url)).set_location_online(LOC, False)

    book = ShipmentBook()
    for status in ShipmentStatus:
        book.add([_plan(f"O-{status}-S1")], status)
    moved = {p.shipment_id.removesuffix("-S1") for p in book.open_at(LOC)}

    assert set(told) == moved == {f"O-{s}" for s in OPEN}
    assert {ShipmentStatus.PICKED, ShipmentStatus.PACKED} <= OPEN


def test_a_new_shipment_record_starts_as_the_first_status_the_workflow_writes() -> None:
    """Decided: no 'planned' status; a record is reserved until the workflow says more."""
    record = ShipmentRecord(shipment_id="O-1-S1", order_id="O-1", location_id=LOC)
    assert record.status == ShipmentStatus.RESERVED == FORWARD[0]
    assert {s.value for s in ShipmentStatus} >= {record.status}


def test_every_status_is_on_the_forward_path_or_an_end() -> None:
    assert set(FORWARD) | DONE == set(ShipmentStatus)
    assert not OPEN & LEFT_LOCATION and not OPEN & GONE
    assert set(FORWARD) == OPEN | LEFT_LOCATION - {ShipmentStatus.LOST, ShipmentStatus.RETURNED}


def test_events_only_move_a_shipment_forward() -> None:
    book = ShipmentBook()
    book.add([_plan("O-1-S1")], ShipmentStatus.RELEASED)
    assert book.advances("O-1-S1", "packed")
    book.status["O-1-S1"] = ShipmentStatus.PACKED
    assert not book.advances("O-1-S1", "accepted")  # stale
    assert not book.advances("O-1-S1", "packed")  # duplicate
    assert not book.advances("O-1-S1", "rejected")  # not a step
    book.status["O-1-S1"] = ShipmentStatus.CANCELLED
    assert not book.advances("O-1-S1", "shipped")  # gone


def test_resend_steps_count_from_release_with_both_ends_equal() -> None:
    assert steps_done("reserved") is None and steps_done("cancelled") is None
    assert [steps_done(s) for s in FORWARD[1:]] == [0, 1, 2, 3, 4, 5, 6, 6]
