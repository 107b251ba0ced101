"""Runs order scenarios on the real stack now and replays their histories against today's
workflow code; with ``OMS_RECORD_HISTORIES=1`` it keeps them in tests/histories/, which
tests/unit/test_replay.py replays."""

from __future__ import annotations

import httpx
import pytest
from temporalio.client import Client

from tests.support.histories import keep
from tests.support.orders import order_request, wait_for_status
from tests.unit.test_replay import replayer


async def _complete(api: httpx.AsyncClient, order_id: str) -> None:
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    for n, shipment in enumerate(order["shipments"]):
        await api.post(
            "/webhooks/shipments",
            json={
                "shipment_id": shipment["shipment_id"],
                "event": "shipped",
                "carrier": "DHL",
                "tracking_number": f"REPLAY{n}",
            },
        )
        await api.post(
            "/webhooks/shipments",
            json={"shipment_id": shipment["shipment_id"], "event": "delivered"},
        )
    await wait_for_status(api, order_id, {"completed"})


SCENARIOS = {
    "completed_two_lines": ({"lines": [("TS-0018", 1), ("SH-0007", 1)]}, _complete),
    "rejected_by_risk": (
        {
            "lines": [("FU-0004", 30)],
            "customer": {"id": "C-NEW-RISK", "email": "x@example.org", "name": "Max Muster"},
        },
        lambda api, oid: wait_for_status(api, oid, {"rejected"}),
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_fresh_history_replays(
    scenario: str, api: httpx.AsyncClient, temporal_client: Client
) -> None:
    """Runs a scenario now and replays it; with OMS_RECORD_HISTORIES=1 it keeps the history."""
    spec, finish = SCENARIOS[scenario]
    overrides = dict(spec)
    body = order_request(lines=overrides.pop("lines"), **overrides)
    assert (await api.post("/orders", json=body)).status_code == 202
    await finish(api, body["order_id"])
    handle = temporal_client.get_workflow_handle(f"order-{body['order_id']}")
    await handle.result()
    await replayer().replay_workflow(await handle.fetch_history())
    await keep(temporal_client, handle.id, scenario)
