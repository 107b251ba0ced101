"""A SKU taken off sale: no new order and no new line takes it, but an order that already has
it may still be modified (a new address, fewer units) without being refused for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.orders.pricing import InvalidOrder, price_lines
from core.db.engine import session_scope
from core.db.migrate import upgrade
from core.db.schema import Sku
from core.domain.orders import Address, OrderLineRequest

KASSEL = Address(name="Erika", street="Königsplatz 1", postcode="34117", city="Kassel")


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'inactive.db'}"
    upgrade(url)
    with session_scope(url) as s:
        s.add(Sku(sku="OLD-1", name="Auslauf", price_cents=990, active=False))
        s.add(Sku(sku="NEW-1", name="Neu", price_cents=1990))
    return url


def test_a_new_order_for_an_inactive_sku_is_refused_naming_the_line(url: str) -> None:
    lines = [OrderLineRequest(sku="NEW-1", quantity=1), OrderLineRequest(sku="OLD-1", quantity=1)]
    with session_scope(url) as s, pytest.raises(InvalidOrder) as refused:
        price_lines(s, lines, KASSEL)
    assert [(loc, kind) for loc, _msg, kind in refused.value.errors] == [
        (("lines", 1, "sku"), "inactive_sku")
    ]


def test_an_order_that_already_has_it_may_keep_it(url: str) -> None:
    lines = [OrderLineRequest(sku="OLD-1", quantity=1)]
    with session_scope(url) as s:
        (line,) = price_lines(s, lines, KASSEL, already_ordered={"OLD-1"})
    assert (line.sku, line.unit_price_cents) == ("OLD-1", 990)
    with session_scope(url) as s, pytest.raises(InvalidOrder):  # an order without it
        price_lines(s, lines, KASSEL, already_ordered={"NEW-1"})
