"""The typed way in to the operations workflows the API starts."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from workflows.ops.location_outage import LocationOutageWorkflow, OutageResult


async def take_location_offline(
    client: Client, location_id: str, reason: str, task_queue: str
) -> OutageResult:
    """Flag the location offline and re-route its orders' unshipped shipments; answers once
    every affected order was told."""
    return await client.execute_workflow(
        LocationOutageWorkflow.run,
        args=[location_id, reason],
        id=f"location-offline-{location_id}-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
    )
