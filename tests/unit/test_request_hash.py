"""An order request's fingerprint (same order id with another body is a conflict) must not
change when the request model grows: a shop retrying across an upgrade is no conflict."""

from __future__ import annotations

from activities.orders.log import request_hash
from core.domain.orders import OrderRequest
from tests.support.orders import order_request

BEFORE_CHANNEL_PRICES = "c4a7a9b382797049f9689155c2e49f5d5e4284cebd61c22f89cfae350ace71c7"
"""The hash of the request below as the code before channel prices computed it."""


def _request(**extra: object) -> OrderRequest:
    body = order_request("T-fixed", [("TS-0000", 2), ("HZ-0003", 1)], **extra)
    body["customer"]["id"] = "C-fixed"
    return OrderRequest.model_validate(body)


def test_a_request_without_shop_prices_hashes_as_before() -> None:
    assert request_hash(_request()) == BEFORE_CHANNEL_PRICES


def test_shop_prices_and_coupons_are_part_of_the_fingerprint() -> None:
    coupon = _request(discounts=[{"code": "WINTER10", "amount_cents": 100}])
    fee = _request(shipping_cents=0)
    assert len({request_hash(r) for r in (_request(), coupon, fee)}) == 3
