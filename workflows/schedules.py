"""The OMS's Temporal schedules, registered idempotently when a worker starts."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from core.settings import Settings
from workflows.hold_cleanup import HoldCleanupWorkflow


def hold_cleanup_schedule_id(settings: Settings) -> str:
    """One schedule per task queue, so separate deployments (and test runs) never share one."""
    return f"hold-cleanup-{settings.task_queue}"


def _hold_cleanup(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            HoldCleanupWorkflow.run, id=f"hold-cleanup-{settings.task_queue}",
            task_queue=settings.task_queue, execution_timeout=timedelta(minutes=30)),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(
            every=timedelta(seconds=settings.hold_cleanup_interval_s))]),
        policy=SchedulePolicy(catchup_window=timedelta(minutes=5)))


async def ensure_hold_cleanup_schedule(client: Client, settings: Settings) -> str:
    """Create the schedule, or bring an existing one to the current settings. Safe to run from
    every worker at once. Returns the schedule id."""
    schedule_id = hold_cleanup_schedule_id(settings)
    wanted = _hold_cleanup(settings)
    try:
        await client.create_schedule(schedule_id, wanted)
    except ScheduleAlreadyRunningError:
        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            wanted.state = current.description.schedule.state  # keep a pause by ops
            return ScheduleUpdate(schedule=wanted)

        await client.get_schedule_handle(schedule_id).update(update)
    return schedule_id
