"""Back-pressure: while the workers are behind, new orders are answered 503 + Retry-After
instead of being taken on.

Under overload a worker that takes on more than it can finish makes every order late, and its
timed-out attempts are retried, which adds work: throughput falls instead of levelling off.
The signal is Temporal's own: how long the oldest workflow or activity task of the OMS's task
queue has waited for a worker (``DescribeTaskQueue`` with stats). Past the setting
``admission_max_backlog_s`` the API sheds new orders — the shop retries later, placing is
idempotent — and keeps taking everything about orders it already has (events, payments,
changes), so work already done is never thrown away. The reading is cached for
``admission_check_interval_s``, so the check costs the server one call a second per API
process, not one per order.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Annotated

from fastapi import Depends, HTTPException
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from api import deps
from core.settings import Settings

KINDS = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)


class Backlog:
    """The task queue's backlog age, read at most once per interval (one per API process)."""

    def __init__(self) -> None:
        self._read_at = -math.inf
        self._age_s = 0.0
        self._lock = asyncio.Lock()

    async def age_s(self, client: Client, settings: Settings) -> float:
        async with self._lock:
            now = time.monotonic()
            if now - self._read_at >= settings.admission_check_interval_s:
                self._age_s = await _oldest_wait_s(client, settings)
                self._read_at = now
            return self._age_s


async def _oldest_wait_s(client: Client, settings: Settings) -> float:
    ages = []
    for kind in KINDS:
        resp = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=settings.task_queue),
                task_queue_type=kind,
                report_stats=True,
            )
        )
        ages.append(resp.stats.approximate_backlog_age.ToTimedelta().total_seconds())
    return max(ages)


BACKLOG = Backlog()


async def admit_new_order(
    settings: Annotated[Settings, Depends(deps.settings)],
    client: Annotated[Client, Depends(deps.temporal)],
) -> None:
    """Route dependency of order placement: 503 + Retry-After while the workers are behind."""
    limit = settings.admission_max_backlog_s
    if limit <= 0:
        return
    age = await BACKLOG.age_s(client, settings)
    if age > limit:
        retry = max(1, math.ceil(age))
        raise HTTPException(
            503,
            detail=f"busy: work waits {age:.1f} s for a worker; retry the same order later",
            headers={"Retry-After": str(retry)},
        )


ADMISSION = [Depends(admit_new_order)]
