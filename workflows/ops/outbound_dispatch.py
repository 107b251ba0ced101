"""Posts due outbound deliveries (order events for webhook subscribers); started by a Temporal
schedule every few seconds, or directly. Short-lived on purpose: each run claims, posts and
ends, so its history stays small and retries wait in the database, not in timers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.messaging.activities import OutboundActivities
    from activities.messaging.outbound import DeliveryOutcome

MAX_ROUNDS = 20
"""Claim-and-post rounds per run; the next run carries on with whatever is still due."""


class DispatchParams(BaseModel):
    """One model rather than positional arguments, so fields can be added later."""

    batch: int = 50
    attempt_timeout_s: float = 10.0


class DispatchResult(BaseModel):
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    """attempts whose activity failed for good (database trouble); their lease runs out and a
    later run posts them"""


@workflow.defn
class OutboundDispatchWorkflow:
    @workflow.run
    async def run(self, params: DispatchParams | None = None) -> DispatchResult:
        params = params or DispatchParams()
        result = DispatchResult()
        db_retry = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=5)
        for _ in range(MAX_ROUNDS):
            claimed: list[int] = await workflow.execute_activity_method(
                OutboundActivities.claim_deliveries,
                params.batch,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=db_retry,
            )
            if not claimed:
                break
            outcomes: list[DeliveryOutcome | BaseException] = await asyncio.gather(
                *(
                    workflow.execute_activity_method(
                        OutboundActivities.deliver,
                        delivery_id,
                        start_to_close_timeout=timedelta(seconds=params.attempt_timeout_s + 20),
                        retry_policy=db_retry,
                    )
                    for delivery_id in claimed
                ),
                return_exceptions=True,
            )
            for outcome in outcomes:
                field = outcome.status if isinstance(outcome, DeliveryOutcome) else "errors"
                setattr(result, field, getattr(result, field) + 1)
        return result
