"""Risk outcomes on the real engine: review approved, rejected, timed out; forced prepayment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.catalogue import active_reservations, make_sku, warehouses
from tests.support.histories import keep
from tests.support.orders import order_request, wait_for_event, wait_for_status
from tests.support.policies import policy_file
from tests.support.smtp import Inbox, wait_for_subject

BILLING_ELSEWHERE = {
    "name": "Erika Mustermann",
    "street": "Andere Straße 9",
    "postcode": "80331",
    "city": "München",
}


def _risky(settings: Settings) -> dict:
    """25 units (unusual: +40) with the bill going elsewhere (+20): 70 with new customer."""
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 30}, price_cents=990)
    return order_request(lines=[(sku, 25)], billing_address=BILLING_ELSEWHERE)


@pytest.mark.parametrize("approve, final", [(True, "in_fulfilment"), (False, "rejected")])
async def test_review_decided_by_customer_service(
    approve: bool, final: str, api: httpx.AsyncClient, settings: Settings, temporal_client: Client
) -> None:
    body = _risky(settings)
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    held = await wait_for_status(api, order_id, {"on_hold"})
    assert held["shipments"] == [] and not active_reservations(settings.database_url, order_id)
    r = await api.post(
        f"/orders/{order_id}/review",
        json={"agent": "cs-clara", "approve": approve, "reason": "checked"},
    )
    assert r.status_code == 200, r.text
    order = await wait_for_status(api, order_id, {final})
    decided = next(e for e in order["events"] if e["type"] == "review_decided")
    assert decided["actor"] == "cs-clara" and decided["detail"]["approved"] is approve
    again = await api.post(
        f"/orders/{order_id}/review", json={"agent": "cs-clara", "approve": True}
    )
    assert again.status_code == 409
    await keep(
        temporal_client, f"order-{order_id}", "review_approved" if approve else "review_rejected"
    )
    if approve:
        assert sum(r.quantity for r in active_reservations(settings.database_url, order_id)) == 25
        assert (
            await api.post(f"/orders/{order_id}/cancel", json={"agent": "cs-clara"})
        ).status_code == 200


@pytest.fixture
async def quick_review_api(
    settings: Settings, temporal_client: Client, tmp_path: Path, worker: None
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a policy whose review times out after two seconds."""
    policy = policy_file(tmp_path, '[review]\ntimeout = "PT2S"\non_timeout = "reject"\n')
    app = create_app(settings.model_copy(update={"policy_file": policy}), temporal_client)
    async with client_for(app, settings) as client:
        yield client


async def test_review_nobody_decides_policy_does(
    quick_review_api: httpx.AsyncClient, settings: Settings
) -> None:
    body = _risky(settings)
    order_id = body["order_id"]
    assert (await quick_review_api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(quick_review_api, order_id, {"rejected"}, timeout=30)
    decided = next(e for e in order["events"] if e["type"] == "review_decided")
    assert decided["actor"] == "policy" and decided["detail"]["approved"] is False


async def test_risky_card_order_is_switched_to_prepayment(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 30}, price_cents=990)
    body = order_request(lines=[(sku, 25)])  # unusual quantity + new customer: 50
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, order_id, {"awaiting_payment"})
    assert order["payment_method"] == "prepayment"
    await wait_for_event(api, order_id, "payment_method_changed")
    await wait_for_subject(inbox, order_id, f"Ihre Bestellung {order_id}: Zahlung per Vorkasse")
    await wait_for_subject(inbox, order_id, "Bitte überweisen Sie")
    assert (
        await api.post(f"/orders/{order_id}/cancel", json={"agent": "cs-clara"})
    ).status_code == 200
