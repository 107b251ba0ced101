"""Search attributes can be registered on a fresh namespace of the real Temporal dev server,
once (the one-shot step of the production-like deployment; the deployment files themselves are
read in tests/unit/test_deployment.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client

from workflows.ops.setup import register_search_attributes
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


async def test_search_attributes_register_once_on_a_fresh_namespace(
    temporal_client: Client,
) -> None:
    namespace = f"oms-{uuid.uuid4().hex[:8]}"
    await temporal_client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=timedelta(days=1)
        )
    )
    assert await register_search_attributes(temporal_client, namespace) == sorted(
        key.name for key in SEARCH_ATTRIBUTES
    )
    assert await register_search_attributes(temporal_client, namespace) == []
