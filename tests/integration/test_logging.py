"""Structured logs: with ``log_format=json`` every line is one JSON object, and the lines of an
order (its activities on the worker, its requests on the API, its workflow's logger) carry its
``order_id`` and ``workflow_id``."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import structlog
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from api.app import create_app
from core.logging_setup import configure_logging
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.log_workflow import LogLineWorkflow
from tests.support.observability import own_worker
from tests.support.orders import order_request, wait_for_status

pytestmark = pytest.mark.usefixtures("inbox")


@contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """The process configured as a JSON-logging OMS process, writing to a buffer; undone
    afterwards so other tests keep pytest's log capture."""
    root = logging.getLogger()
    saved = (
        root.handlers[:],
        root.level,
        workflow.logger.workflow_info_on_message,
        activity.logger.activity_info_on_message,
    )
    stream = io.StringIO()
    configure_logging("json", "INFO", stream)
    try:
        yield stream
    finally:
        root.handlers, level, on_wf, on_act = saved
        root.setLevel(level)
        workflow.logger.workflow_info_on_message = on_wf
        activity.logger.activity_info_on_message = on_act
        structlog.reset_defaults()


async def test_an_orders_log_lines_carry_its_order_and_workflow_id(
    temporal_client: Client, settings: Settings
) -> None:
    body = order_request()
    order_id = body["order_id"]
    workflow_id = f"order-{order_id}"
    other = f"LOG-{uuid.uuid4().hex[:8]}"
    with json_logs() as stream:
        async with (
            own_worker(temporal_client, settings, "logs") as cfg,
            client_for(create_app(cfg, temporal_client), cfg) as api,
        ):
            assert (await api.post("/orders", json=body)).status_code == 202
            await wait_for_status(api, order_id, {"in_fulfilment"})
            r = await api.get(f"/orders/{order_id}", headers={"X-Request-ID": "req-logs-1"})
            assert r.headers["x-request-id"] == "req-logs-1"
        # a real workflow.logger line, from a workflow of another order
        async with Worker(
            temporal_client, task_queue=f"logline-{other}", workflows=[LogLineWorkflow]
        ):
            await temporal_client.execute_workflow(
                LogLineWorkflow.run,
                "hello from a workflow",
                id=f"order-{other}",
                task_queue=f"logline-{other}",
            )
    lines: list[dict[str, Any]] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all({"event", "level", "timestamp", "logger"} <= line.keys() for line in lines)

    mine = [line for line in lines if line.get("order_id") == order_id]
    assert mine and all(line["workflow_id"] == workflow_id for line in mine)
    assert all(
        line.get("order_id") == order_id for line in lines if line.get("workflow_id") == workflow_id
    )
    activities = {line["activity"] for line in mine if "activity" in line}
    assert {"plan_route", "reserve_stock", "release_shipment", "record_progress"} <= activities
    assert all(line["duration_ms"] >= 0 for line in mine if line["event"] == "activity completed")

    [access] = [
        line
        for line in mine
        if line["logger"] == "oms.access" and line.get("request_id") == "req-logs-1"
    ]
    assert access["route"] == "/orders/{order_id}" and access["status"] == 200

    [said] = [line for line in lines if line["event"] == "hello from a workflow"]
    assert said["order_id"] == other and said["workflow_id"] == f"order-{other}"
    assert said["workflow_type"] == "LogLineWorkflow" and said["run_id"]
    assert "temporal_workflow" not in said
