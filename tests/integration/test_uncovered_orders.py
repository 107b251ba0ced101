"""An order the network's stock cannot cover, under a policy that refuses such orders: 409 at
once naming the line and what is available, nothing recorded, no workflow; a covered order and
a repeat of an accepted one still go through. Under the default policy it is accepted (and the
order fails later in routing, as before)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import OrderRecord
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.catalogue import make_sku, warehouses
from tests.support.orders import order_request, wait_for_status
from tests.support.policies import policy_file


@pytest.fixture
async def refusing_api(
    settings: Settings, temporal_client: Client, worker: None, tmp_path: Path
) -> httpx.AsyncClient:
    policy = policy_file(tmp_path, '[fulfilment]\nuncovered = "refuse"\n')
    own = settings.model_copy(update={"policy_file": policy})
    async with client_for(create_app(own, temporal_client), own) as api:
        yield api  # type: ignore[misc]


def _recorded(url: str, order_id: str) -> bool:
    with session_scope(url) as s:
        return s.get(OrderRecord, order_id) is not None


async def test_an_uncovered_order_is_refused_at_once(
    refusing_api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    sku = make_sku(url, {warehouses(url)[0]: 2})
    body = order_request(lines=[("TS-0000", 1), (sku, 3)])
    r = await refusing_api.post("/orders", json=body)
    assert r.status_code == 409, r.text
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "lines", 1, "quantity"] and problem["available"] == 2
    assert problem["type"] == "uncovered" and sku in problem["msg"]
    assert not _recorded(url, body["order_id"])

    covered = order_request(lines=[(sku, 2)])
    r = await refusing_api.post("/orders", json=covered)
    assert r.status_code == 202, r.text
    await wait_for_status(refusing_api, covered["order_id"], {"in_fulfilment"})
    # the shop retries the accepted order: its own reservation is no shortfall
    again = await refusing_api.post("/orders", json=covered)
    assert again.status_code == 202, again.text


async def test_by_default_an_uncovered_order_is_accepted_and_fails_later(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    sku = make_sku(url, {warehouses(url)[0]: 1})
    body = order_request(lines=[(sku, 2)])
    assert (await api.post("/orders", json=body)).status_code == 202
    failed = await wait_for_status(api, body["order_id"], {"failed", "cancelled", "in_fulfilment"})
    assert failed["status"] == "failed", failed["status"]
