"""Delivery instructions as a value: what the shop, the customer and customer service may
send (plain text, one line, bounded; 422 naming the field otherwise), what a change touches
(only the instructions: nothing re-priced), how the e-mails show them and how the
self-service page writes the end of the release hold."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlmodel import Session, SQLModel, create_engine

from activities.messaging.templates import local_datetime, render
from activities.orders.log import request_hash
from activities.orders.pricing import InvalidOrder, modified_order
from core.domain.commands import ModifyRequest
from core.domain.orders import (
    MAX_DELIVERY_INSTRUCTIONS,
    OrderInput,
    OrderLine,
    OrderRequest,
    OrderStatus,
)
from core.domain.shipment_book import ShipmentBook
from core.rules import refusals
from tests.support.orders import order_request
from tests.unit.test_email_templates import CONTEXT

NEIGHBOUR = "Bitte beim Nachbarn (Nr. 19) abgeben"


def _request(**extra: object) -> OrderRequest:
    body = order_request("T-fixed", **extra)
    body["customer"]["id"] = "C-fixed"
    return OrderRequest.model_validate(body)


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[object, ...]]:
    return [tuple(e["loc"]) for e in exc.value.errors()]


def test_the_shop_may_send_instructions_as_one_line_of_plain_text() -> None:
    assert _request().delivery_instructions is None
    assert _request(delivery_instructions=NEIGHBOUR).delivery_instructions == NEIGHBOUR
    typed = "  Garage links,\r\n  neben der Mülltonne\t "
    assert _request(delivery_instructions=typed).delivery_instructions == (
        "Garage links, neben der Mülltonne"
    )
    assert _request(delivery_instructions="   ").delivery_instructions is None
    hostile = "<script>alert(1)</script> {{7*7}} '; DROP TABLE x; -- \u202eשלום 🧦"
    assert _request(delivery_instructions=hostile).delivery_instructions == hostile


@pytest.mark.parametrize(
    "text",
    [
        "x" * (MAX_DELIVERY_INSTRUCTIONS + 1),
        "Klingel \x07 kaputt",
        "Hof\x1b[31m",
        "Tür\x00offen",
        "\x7f",
    ],
    ids=["too_long", "bell", "escape", "nul", "delete"],
)
def test_too_long_or_control_characters_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(ValidationError) as exc:
        _request(delivery_instructions=text)
    assert ("delivery_instructions",) in _errors(exc)
    with pytest.raises(ValidationError) as exc:
        ModifyRequest.model_validate({"agent": "customer", "delivery_instructions": text})
    assert ("delivery_instructions",) in _errors(exc)


def test_exactly_the_limit_is_fine() -> None:
    text = "y" * MAX_DELIVERY_INSTRUCTIONS
    assert _request(delivery_instructions=text).delivery_instructions == text


def test_a_request_without_instructions_hashes_as_before_and_with_them_differently() -> None:
    """A shop retrying across the upgrade is no conflict; other instructions are."""
    plain = _request()
    assert "delivery_instructions" not in plain.model_dump(exclude_none=True)
    assert request_hash(plain) == request_hash(_request(delivery_instructions=""))
    assert request_hash(plain) != request_hash(_request(delivery_instructions=NEIGHBOUR))


def test_a_modification_names_what_it_changes() -> None:
    only = ModifyRequest(agent="customer", delivery_instructions=NEIGHBOUR)
    assert only.changes == ["delivery_instructions"] and only.instructions_only
    removed = ModifyRequest(agent="customer", delivery_instructions="")
    assert removed.changes == ["delivery_instructions"] and removed.instructions_only
    both = ModifyRequest(agent="cs", shipping_speed="express", delivery_instructions=NEIGHBOUR)
    assert both.changes == ["shipping_speed", "delivery_instructions"]
    assert not both.instructions_only
    assert ModifyRequest(agent="cs").changes == []


def test_the_order_takes_new_instructions_as_a_change_until_release() -> None:
    """The rule behind the ``modify`` Update's validator: instructions alone are a change."""
    change = ModifyRequest(agent="customer", delivery_instructions=NEIGHBOUR)
    waiting = OrderStatus.AWAITING_PAYMENT
    assert refusals.modify(waiting, False, False, ShipmentBook(), change) == ""
    assert refusals.modify(waiting, False, False, ShipmentBook(), ModifyRequest(agent="c"))
    released = refusals.modify(OrderStatus.IN_FULFILMENT, False, True, ShipmentBook(), change)
    assert released == refusals.modify_closed(
        OrderStatus.IN_FULFILMENT, False, True, ShipmentBook()
    )
    assert released


def _order(**extra: object) -> OrderInput:
    data: dict[str, object] = {
        "order_id": "T-1",
        "channel": "web",
        "customer": {"id": "C-1", "email": "erika@example.org", "name": "Erika"},
        "delivery_address": {
            "name": "Erika",
            "street": "Heidestraße 17",
            "postcode": "51147",
            "city": "Köln",
        },
        "lines": [
            OrderLine(
                line_id="L1",
                sku="TS-1",
                name="Shirt",
                quantity=1,
                unit_price_cents=1000,
                weight_kg=0.2,
            )
        ],  # fmt: skip
        "shipping_speed": "standard",
        "payment_method": "card",
        "shipping_cents": 0,  # the shop's own fee: a re-price by policy would change it
        "placed_at": datetime(2026, 3, 12, 9, 0, tzinfo=UTC),
    }
    return OrderInput.model_validate({**data, **extra})


def test_changing_only_the_instructions_changes_nothing_else() -> None:
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine)
    old = _order(delivery_instructions="alt")
    with Session(engine) as s:
        new = modified_order(s, old, ModifyRequest(agent="c", delivery_instructions=NEIGHBOUR))
        assert new == old.model_copy(update={"delivery_instructions": NEIGHBOUR})
        assert new.total_cents == old.total_cents
        gone = modified_order(s, old, ModifyRequest(agent="c", delivery_instructions=""))
        assert gone.delivery_instructions is None
        kept = modified_order(s, old, ModifyRequest(agent="c", shipping_speed="express"))
        assert kept.delivery_instructions == "alt"
        pickup = _order(pickup_store_id="ST-1")
        with pytest.raises(InvalidOrder) as exc:
            modified_order(s, pickup, ModifyRequest(agent="c", delivery_instructions=NEIGHBOUR))
        assert exc.value.errors[0][0] == ("delivery_instructions",)


def test_old_orders_without_the_field_still_load() -> None:
    """Recorded histories and read-model rows from before carry no instructions."""
    payload = _order().model_dump(mode="json")
    del payload["delivery_instructions"]
    assert OrderInput.model_validate(payload).delivery_instructions is None


@pytest.mark.parametrize(
    ("locale", "shown"),
    [("de", f"Lieferhinweis: {NEIGHBOUR}"), ("en", f"Delivery instructions: {NEIGHBOUR}")],
)
@pytest.mark.parametrize("template", ["order_confirmation", "order_modified"])
def test_the_e_mails_show_the_instructions(template: str, locale: str, shown: str) -> None:
    mail = render(template, locale, {**CONTEXT, "delivery_instructions": NEIGHBOUR})
    assert shown in mail.text
    assert NEIGHBOUR in mail.html
    without = render(template, locale, CONTEXT)  # a workflow from before sends no such key
    label = shown.split(":")[0] + ":"
    assert NEIGHBOUR not in without.text and label not in without.text


def test_the_confirmation_promises_the_change_only_for_a_delivery() -> None:
    delivery = render("order_confirmation", "de", {**CONTEXT, "pickup_store": ""})
    assert "Lieferhinweise ändern" in delivery.text and "Lieferhinweise ändern" in delivery.html
    pickup = render("order_confirmation", "de", {**CONTEXT, "pickup_store": "Filiale Köln"})
    assert "Lieferhinweise" not in pickup.text and "Lieferhinweise" not in pickup.html
    english = render("order_confirmation", "en", {**CONTEXT, "pickup_store": "Filiale Köln"})
    assert "delivery instructions" not in english.text


def test_the_end_of_the_hold_in_the_customers_words() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    winter = datetime(2026, 3, 12, 13, 5, tzinfo=UTC)
    assert local_datetime(winter, "de", berlin) == "12. März 2026, 14:05"
    assert local_datetime(winter, "en", berlin) == "12 March 2026, 14:05"
    summer = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # already the next day in Berlin
    assert local_datetime(summer, "de", berlin) == "2. Juli 2026, 00:30"
