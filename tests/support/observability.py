"""Helpers for the observability tests: a real HTTP server for the API, Prometheus parsing,
and a worker of its own on its own task queue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from temporalio.client import Client

from core.settings import Settings
from devstack.postgres import free_port
from worker import build_worker


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real loopback port (uvicorn in this event loop); yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def own_worker(client: Client, settings: Settings, prefix: str) -> AsyncIterator[Settings]:
    """A worker on a fresh task queue; yields the settings naming that queue."""
    cfg = settings.model_copy(update={"task_queue": f"{prefix}-{uuid.uuid4().hex[:8]}"})
    with ThreadPoolExecutor(max_workers=cfg.worker_max_concurrent_activities) as executor:
        async with build_worker(client, cfg, executor):
            yield cfg


def samples(text: str) -> list[Sample]:
    """Every sample of a Prometheus text exposition."""
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def total(found: list[Sample], name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``; fails if none."""
    hits = [
        s.value
        for s in found
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert hits, f"no sample {name}{labels or ''}"
    return sum(hits)
