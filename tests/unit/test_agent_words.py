"""The MCP server's pure parts: every status has words in both languages, amounts and dates
are written the customer's way, a link or its token verifies alike, and the actor fits the
event log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.http.security import Principal, Role
from api.mcp import answers, callers
from core.domain.orders import OrderStatus
from core.domain.shipments import ShipmentStatus
from core.order_tokens import order_token


@pytest.mark.parametrize("locale", ["de", "en"])
def test_every_status_has_words_in_both_languages(locale: str) -> None:
    assert set(answers.ORDER_WORDS) == set(OrderStatus)
    assert set(answers.PARCEL_WORDS) == set(ShipmentStatus)
    for status in OrderStatus:
        words = answers.ORDER_WORDS[status][0 if locale == "de" else 1]
        assert answers.order_words(status.value, locale) == words != ""
    for shipment in ShipmentStatus:
        words = answers.PARCEL_WORDS[shipment][0 if locale == "de" else 1]
        assert answers.parcel_words(shipment.value, locale) == words != ""
    assert answers.order_words("no_such_status", locale) == "no_such_status"


def test_a_moment_is_written_the_customers_way_in_german_time() -> None:
    moment = datetime(2026, 12, 3, 13, 30, tzinfo=UTC)
    assert answers.when(moment, "de") == "3. Dezember 2026, 14:30"
    assert answers.when(moment, "en") == "3 December 2026, 14:30"


def test_a_link_or_its_token_is_the_same_proof() -> None:
    token = order_token("s" * 32, "T-1")
    link = f"https://shop.example/my/orders/T-1?t={token}"
    assert callers._link_token(link) == token
    assert callers._link_token(f"  {token} ") == token
    assert callers._link_token("https://shop.example/my/orders/T-1") == ""


def test_the_actor_names_the_key_and_fits_the_event_log() -> None:
    agent = Principal(key_id=7, roles=frozenset({Role.AGENT}), location_id=None, label="Bot")
    verified = callers.Verified(customer_id="C-1", email="a@b.de", order_id="T-1", method="email")
    scope = callers.Scope(agent, verified)
    assert scope.actor == "agent:Bot" and not scope.staff
    assert scope.note == "caller verified by order number + e-mail address (order T-1)"
    long = Principal(key_id=8, roles=frozenset({Role.AGENT}), location_id=None, label="x" * 90)
    assert len(callers.Scope(long, verified).actor) == callers.ACTOR_MAX
    staff = Principal(7, frozenset({Role.CUSTOMER_SERVICE}), None, "Anna")
    assert callers.Scope(staff, None).note == "staff-assist (customer service key 7)"
    assert callers.may_connect(agent) and callers.may_connect(staff)
    assert not callers.may_connect(Principal(9, frozenset({Role.SHOP}), None, "shop"))
