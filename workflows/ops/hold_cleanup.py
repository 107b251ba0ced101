"""Ends expired holds, batch by batch; started by a Temporal schedule every few minutes.

Expired holds already stop counting the moment they expire (availability reads their expiry,
and any write to a stock row ends them first); this frees the ``held`` counter of rows nobody
touched and writes their ledger movements.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.stock.activities import HoldActivities
    from activities.stock.holds import ExpiredHolds

BATCH = 500
"""Stock rows per activity call; the workflow loops while a batch comes back full."""


@workflow.defn
class HoldCleanupWorkflow:
    @workflow.run
    async def run(self) -> ExpiredHolds:
        total = ExpiredHolds()
        while True:
            done: ExpiredHolds = await workflow.execute_activity_method(
                HoldActivities.expire_holds,
                BATCH,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            )
            total.holds += done.holds
            total.units += done.units
            total.rows += done.rows
            if done.rows < BATCH:
                return total
