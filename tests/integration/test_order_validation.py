"""Invalid orders are answered 422 naming the field, and nothing is created anywhere."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import func, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.db.engine import session_scope
from core.db.schema import OrderEvent, OrderRecord, Reservation
from core.settings import Settings
from tests.support.orders import new_order_id, order_request


def _without_email(body: dict[str, Any]) -> dict[str, Any]:
    body["customer"].pop("email")
    return body


CASES = {
    "unknown_sku": (
        lambda b: {**b, "lines": [{"sku": "NOPE-1", "quantity": 1}]},
        ["body", "lines", 0, "sku"],
    ),
    "quantity_zero": (
        lambda b: {**b, "lines": [{"sku": "TS-0000", "quantity": 0}]},
        ["body", "lines", 0, "quantity"],
    ),
    "quantity_negative": (
        lambda b: {**b, "lines": [{"sku": "TS-0000", "quantity": -2}]},
        ["body", "lines", 0, "quantity"],
    ),
    "malformed_postcode": (
        lambda b: {**b, "delivery_address": {**b["delivery_address"], "postcode": "1234X"}},
        ["body", "delivery_address", "postcode"],
    ),
    "unknown_postcode": (
        lambda b: {**b, "delivery_address": {**b["delivery_address"], "postcode": "00000"}},
        ["body", "delivery_address", "postcode"],
    ),
    "missing_email": (_without_email, ["body", "customer", "email"]),
    "bad_email": (
        lambda b: {**b, "customer": {**b["customer"], "email": "not-an-address"}},
        ["body", "customer", "email"],
    ),
    "empty_lines": (lambda b: {**b, "lines": []}, ["body", "lines"]),
    "bad_order_id": (lambda b: {**b, "order_id": "../etc/passwd"}, ["body", "order_id"]),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_invalid_order_is_rejected_naming_the_field(
    case: str, api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    order_id = new_order_id("BAD")
    mutate, loc = CASES[case]
    body = mutate(order_request(order_id))
    r = await api.post("/orders", json=body)
    assert r.status_code == 422, r.text
    assert loc in [err["loc"] for err in r.json()["detail"]], r.json()

    with session_scope(settings.database_url) as s:
        for table, column in (
            (OrderRecord, OrderRecord.order_id),
            (Reservation, Reservation.order_id),
            (OrderEvent, OrderEvent.order_id),
        ):
            assert (
                s.exec(
                    select(func.count()).select_from(table).where(column == body["order_id"])
                ).one()
                == 0
            )
    with pytest.raises(RPCError) as err:  # describe is strongly consistent, unlike listing
        await temporal_client.get_workflow_handle(f"order-{body['order_id']}").describe()
    assert err.value.status == RPCStatusCode.NOT_FOUND
