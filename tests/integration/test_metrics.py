"""The metrics endpoints, scraped over real HTTP after a real order ran through them: the API's
``/metrics`` (HTTP metrics, OMS state read from PostgreSQL) and the worker's Prometheus
endpoint (Temporal SDK metrics and the OMS worker metrics, from the worker's runtime)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import func, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import OrderRecord, ShipmentRecord
from core.domain.orders import OrderStatus
from core.metrics import worker_runtime
from core.settings import Settings
from devstack.client import OmsAuth
from devstack.postgres import free_port
from tests.support.auth import ALL_ROLES_KEY, ensure_keys
from tests.support.observability import own_worker, samples, serve, total
from tests.support.orders import order_request, post_event, wait_for_status

pytestmark = pytest.mark.usefixtures("inbox")


@dataclass
class Observed:
    api: httpx.AsyncClient  # the API over real HTTP
    worker_metrics: str  # URL of the worker runtime's Prometheus endpoint
    settings: Settings
    order_id: str
    shipment_ids: list[str]


@pytest.fixture(scope="module")
async def observed(temporal_client: Client, settings: Settings) -> AsyncIterator[Observed]:
    """One order, shipped and delivered, run by a worker whose runtime serves Prometheus.
    (Delivered on time: carriers may not report the future any more, and the dev server's
    clock cannot be moved past a promise. Late deliveries are tested on the time-skipping
    server in tests/integration/test_fulfilment_monitoring.py; their counter is not read here.)"""
    port = free_port()
    client = await Client.connect(
        temporal_client.service_client.config.target_host,
        namespace=temporal_client.namespace,
        data_converter=pydantic_data_converter,
        runtime=worker_runtime(port, host="127.0.0.1"),
    )
    async with own_worker(client, settings, "metrics") as cfg:
        ensure_keys(cfg)
        async with (
            serve(create_app(cfg, client)) as base,
            httpx.AsyncClient(base_url=base, auth=OmsAuth(ALL_ROLES_KEY, cfg), timeout=10) as api,
        ):
            body = order_request(lines=[("TS-0000", 1)])
            order_id = body["order_id"]
            assert (await api.post("/orders", json=body)).status_code == 202
            order = await wait_for_status(api, order_id, {"in_fulfilment"})
            for shipment in order["shipments"]:
                await post_event(api, shipment["shipment_id"], "shipped")
                await post_event(api, shipment["shipment_id"], "delivered")
            await wait_for_status(api, order_id, {"completed"})
            await client.get_workflow_handle(f"order-{order_id}").result()
            yield Observed(
                api,
                f"http://127.0.0.1:{port}/metrics",
                cfg,
                order_id,
                [s["shipment_id"] for s in order["shipments"]],
            )


async def test_worker_endpoint_shows_sdk_and_oms_metrics(observed: Observed) -> None:
    r = await observed.api.get(observed.worker_metrics)
    assert r.status_code == 200
    found = samples(r.text)
    queue = {"task_queue": observed.settings.task_queue}

    released = total(found, "oms_release_latency_seconds_count", **queue)
    assert released >= len(observed.shipment_ids)
    assert total(found, "oms_release_latency_seconds_sum", **queue) > 0
    assert total(found, "oms_release_latency_seconds_bucket", le="+Inf", **queue) == released
    assert total(found, "oms_routing_solve_seconds_count", activity_type="plan_route", **queue) >= 1
    assert total(found, "oms_orders_placed_total", **queue) >= 1
    assert total(found, "oms_orders_finished_total", status="completed", **queue) >= 1

    # the Temporal SDK's own metrics come out of the same endpoint (exposed without the
    # ``_total`` suffix, e.g. ``temporal_workflow_completed``; the parser adds it to counters)
    assert "\ntemporal_workflow_completed{" in r.text
    assert (
        total(found, "temporal_workflow_completed_total", workflow_type="OrderWorkflow", **queue)
        >= 1
    )
    assert total(found, "temporal_activity_execution_latency_count", **queue) >= 1
    assert total(found, "temporal_request_total", operation="StartWorkflowExecution") >= 1


async def test_api_metrics_show_the_oms_state_from_the_database(observed: Observed) -> None:
    api, url = observed.api, observed.settings.database_url
    r = await api.get(f"/orders/{observed.order_id}", headers={"X-Request-ID": "req-metrics-1"})
    assert r.headers["x-request-id"] == "req-metrics-1"

    # a scrape needs no API key (Prometheus has none)
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        first = samples((await anonymous.get("/metrics")).text)
        assert total(first, "oms_database_up") == 1
        # orders by status equal the read model (retried while other orders move)
        for _ in range(10):
            before = _orders_by_status(url)
            scraped = samples((await anonymous.get("/metrics")).text)
            if _orders_by_status(url) == before:
                break
        for status in OrderStatus:
            assert total(scraped, "oms_orders", status=status.value) == before.get(
                status.value, 0
            ), status
        assert total(scraped, "oms_orders", status="completed") >= 1

        # a released shipment past its ship-by time is counted as late
        late_before = total(scraped, "oms_shipments_late", promise="ship")
        with _late_shipment(url):
            late = samples((await anonymous.get("/metrics")).text)
        assert total(late, "oms_shipments_late", promise="ship") == late_before + 1
        assert total(late, "oms_shipments", status="released") >= 1

    # HTTP metrics are labelled with the route template, never with raw ids
    assert (
        total(
            scraped,
            "oms_http_requests_total",
            method="GET",
            route="/orders/{order_id}",
            status="200",
        )
        >= 1
    )
    assert (
        total(scraped, "oms_http_requests_total", method="POST", route="/orders", status="202") >= 1
    )
    assert (
        total(
            scraped,
            "oms_http_request_duration_seconds_count",
            method="GET",
            route="/orders/{order_id}",
        )
        >= 1
    )
    assert not [s for s in scraped if observed.order_id in s.labels.get("route", "")]


def _orders_by_status(url: str) -> dict[str, int]:
    with session_scope(url) as s:
        return {
            status: int(n)
            for status, n in s.exec(
                select(OrderRecord.status, func.count()).group_by(OrderRecord.status)
            ).all()
        }


class _late_shipment:  # noqa: N801  (used as a context manager)
    """A released shipment of a made-up order whose ship-by time has passed, removed again."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.shipment_id = f"LATE-{uuid.uuid4().hex[:10]}-S1"

    def __enter__(self) -> None:
        with session_scope(self.url) as s:
            s.add(
                ShipmentRecord(
                    shipment_id=self.shipment_id,
                    order_id=self.shipment_id[:-3],
                    location_id="WH-NOWHERE",
                    status="released",
                    lines=[],
                    ship_by=datetime.now(UTC) - timedelta(days=1),
                    released_at=datetime.now(UTC) - timedelta(days=2),
                )
            )

    def __exit__(self, *_: object) -> None:
        with session_scope(self.url) as s:
            rec = s.get(ShipmentRecord, self.shipment_id)
            if rec is not None:
                s.delete(rec)
