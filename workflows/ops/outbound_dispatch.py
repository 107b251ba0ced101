"""Posts due outbound deliveries (order events for webhook subscribers).

``OutboundDispatcherWorkflow`` does it: one long-running workflow per task queue (id
``outbound-dispatcher-<task queue>``), started by every worker when it starts (signal-with-start,
so workers starting together start one and an existing one takes their settings). It loops:
claim due deliveries, post them, claim again while there were any, else wait on a durable timer
(``OMS_OUTBOUND_DISPATCH_INTERVAL_S``) or until the ``wake`` signal. Before its history grows
large (``OMS_OUTBOUND_DISPATCHER_MAX_ROUNDS`` rounds, or when Temporal suggests it) it continues
as new, so the Temporal UI lists one execution every half hour or so instead of one every tick.
Retries wait in the database (``next_attempt_at``), never in timers.

``OutboundDispatchWorkflow`` is the short run that a Temporal schedule started every few seconds
before (one execution per tick): kept registered so runs started before an upgrade finish and
their histories replay, and for a one-off run by hand. Both post through :func:`post_due`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.messaging.activities import OutboundActivities
    from activities.messaging.outbound import DeliveryOutcome

MAX_ROUNDS = 20
"""Claim-and-post rounds per short run; the next run carries on with whatever is still due."""

HISTORY_LIMIT = 10_000
"""Events after which the dispatcher continues as new whatever its round count (busy rounds of
a full batch write some 150 events each)."""


class DispatchParams(BaseModel):
    """One model rather than positional arguments, so fields can be added later."""

    batch: int = 50
    attempt_timeout_s: float = 10.0


class DispatcherParams(DispatchParams):
    """The long-running dispatcher's settings; carried into each continued run."""

    interval_s: float = 5.0
    """how long it waits when nothing is due (a durable timer; the ``wake`` signal ends it)"""
    max_rounds: int = 360
    """claims per run before it continues as new (360 idle rounds of 5 s: half an hour)"""


class DispatchResult(BaseModel):
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    """attempts whose activity failed for good (database trouble); their lease runs out and a
    later round posts them"""


class DispatcherProgress(DispatchResult):
    """What the current run of the dispatcher has done (the ``progress`` query)."""

    rounds: int = 0
    claim_errors: int = 0
    """claims that failed for good (database down); the next round claims again"""


async def post_due(params: DispatchParams, result: DispatchResult) -> int:
    """One round: claim due deliveries and post them concurrently, counting the outcomes into
    ``result``. Returns how many were claimed."""
    db_retry = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=5)
    claimed: list[int] = await workflow.execute_activity_method(
        OutboundActivities.claim_deliveries,
        params.batch,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=db_retry,
    )
    if not claimed:
        return 0
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
    return len(claimed)


@workflow.defn
class OutboundDispatcherWorkflow:
    """The one long-running dispatcher of a task queue; see the module's description."""

    @workflow.init
    def __init__(self, params: DispatcherParams) -> None:
        self.params = params
        self.tally = DispatcherProgress()
        self.woken = False

    @workflow.run
    async def run(self, params: DispatcherParams) -> None:
        while True:
            if self._time_to_continue_as_new():
                workflow.continue_as_new(self.params)
            self.tally.rounds += 1
            try:
                claimed = await post_due(self.params, self.tally)
            except ActivityError as err:
                if isinstance(err.cause, CancelledError):
                    raise
                # the claim gave up (database away for a while); the next round claims again
                self.tally.claim_errors += 1
                claimed = 0
            if claimed:
                continue  # more may be due: a round takes one delivery per subscriber and order
            self.woken = False
            with contextlib.suppress(TimeoutError):  # the interval is up: claim again
                await workflow.wait_condition(
                    lambda: self.woken,
                    timeout=timedelta(seconds=self.params.interval_s),
                    timeout_summary="next dispatch round",
                )

    def _time_to_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            self.tally.rounds >= self.params.max_rounds
            or info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= HISTORY_LIMIT
        )

    @workflow.signal
    def wake(self) -> None:
        """Claim now instead of at the end of the wait (new or retried deliveries)."""
        self.woken = True

    @workflow.signal
    def configure(self, params: DispatcherParams) -> None:
        """A worker started with these settings; they apply from the next round on."""
        self.params = params
        self.woken = True

    @workflow.query
    def progress(self) -> DispatcherProgress:
        return self.tally


@workflow.defn
class OutboundDispatchWorkflow:
    """A short run: claim and post until nothing is due (at most ``MAX_ROUNDS`` rounds)."""

    @workflow.run
    async def run(self, params: DispatchParams | None = None) -> DispatchResult:
        params = params or DispatchParams()
        result = DispatchResult()
        for _ in range(MAX_ROUNDS):
            if not await post_due(params, result):
                break
        return result
