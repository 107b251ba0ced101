"""A payment provider that fails half of its calls, before or after booking them: orders still
complete, with exactly one authorisation and exactly the captured amount."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import select
from temporalio.client import Client

from activities.payments.simulated import ProviderUnavailable, SimulatedProvider
from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import PaymentTransaction
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.orders import order_request, post_event, wait_for_status
from worker import build_worker


def test_a_retried_call_after_an_outage_books_once(database_url: str) -> None:
    provider = SimulatedProvider(database_url, failure_rate=0.5, rng=random.Random(3))
    key = f"OUT-{uuid.uuid4().hex[:8]}:authorise"
    lost_answers = 0
    for _attempt in range(40):
        try:
            tx = provider.authorise(key, key.split(":")[0], 4200, "card")
            break
        except ProviderUnavailable as exc:
            lost_answers += "booked" in str(exc)
    else:
        pytest.fail("forty outages in a row")
    with session_scope(database_url) as s:
        rows = s.exec(
            select(PaymentTransaction).where(PaymentTransaction.idempotency_key == key)
        ).all()
    assert len(rows) == 1 and rows[0].id == tx.id and tx.succeeded
    assert rows[0].amount_cents == 4200


@pytest.fixture(scope="module")
async def flaky_api(
    temporal_client: Client, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """A worker (own task queue) whose payment provider fails half of all calls."""
    flaky = settings.model_copy(
        update={"task_queue": f"flaky-{uuid.uuid4().hex[:8]}", "payment_sim_failure_rate": 0.5}
    )
    with ThreadPoolExecutor(max_workers=flaky.worker_max_concurrent_activities) as executor:
        async with (
            build_worker(temporal_client, flaky, executor),
            client_for(create_app(flaky, temporal_client), flaky) as client,
        ):
            yield client


async def test_orders_complete_with_exact_money_while_the_provider_fails_half_the_calls(
    flaky_api: httpx.AsyncClient, settings: Settings
) -> None:
    delivered = order_request(lines=[("TS-0000", 1), ("HO-0005", 2)])
    cancelled = order_request(lines=[("TS-0000", 1)])
    for body in (delivered, cancelled):
        assert (await flaky_api.post("/orders", json=body)).status_code == 202

    order = await wait_for_status(flaky_api, delivered["order_id"], {"in_fulfilment"}, 90)
    for shipment in order["shipments"]:
        await post_event(flaky_api, shipment["shipment_id"], "shipped")
        await post_event(flaky_api, shipment["shipment_id"], "delivered")
    order = await wait_for_status(flaky_api, delivered["order_id"], {"completed"}, 90)

    await wait_for_status(flaky_api, cancelled["order_id"], {"in_fulfilment"}, 90)
    r = await flaky_api.post(
        f"/orders/{cancelled['order_id']}/cancel",
        json={"agent": "cs-anna", "reason": "customer changed mind"},
    )
    assert r.status_code == 200, r.text
    other = await wait_for_status(flaky_api, cancelled["order_id"], {"cancelled"}, 90)

    with session_scope(settings.database_url) as s:

        def booked(order_id: str) -> dict[str, list[int]]:
            out: dict[str, list[int]] = {}
            for t in s.exec(
                select(PaymentTransaction).where(
                    PaymentTransaction.order_id == order_id,
                    PaymentTransaction.status == "succeeded",
                )
            ).all():
                out.setdefault(t.kind, []).append(t.amount_cents)
            return out

        done, gone = booked(delivered["order_id"]), booked(cancelled["order_id"])
    assert done["authorise"] == [order["total_cents"]]
    assert sum(done["capture"]) == order["total_cents"] and "void" not in done
    assert gone["authorise"] == [other["total_cents"]]
    assert sum(gone["void"]) == other["total_cents"] and "capture" not in gone
