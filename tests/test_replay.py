"""Replays recorded order histories against today's workflow code.

A change that would break running orders (non-deterministic for their history) fails here.
Record new histories with ``OMS_RECORD_HISTORIES=1 pytest tests/test_replay.py`` after a
deliberate, versioned change, and keep the old files: running orders still have them.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.support.histories import HISTORIES, keep
from tests.support.orders import order_request, wait_for_status
from workflows.ops.outbound_dispatch import OutboundDispatchWorkflow
from workflows.order.workflow import OrderWorkflow
from workflows.returns.workflow import ReturnWorkflow


def _replayer() -> Replayer:
    return Replayer(
        workflows=[OrderWorkflow, ReturnWorkflow, OutboundDispatchWorkflow],
        data_converter=pydantic_data_converter,
    )


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def test_histories_are_kept() -> None:
    assert len(recorded()) >= 2, "recorded histories are missing from tests/histories"


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    await _replayer().replay_workflow(history)


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
    await _replayer().replay_workflow(await handle.fetch_history())
    await keep(temporal_client, handle.id, scenario)
