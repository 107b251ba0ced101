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
from workflows.ops.hold_cleanup import HoldCleanupWorkflow
from workflows.ops.order_sweep import OrderSweepWorkflow, SweepParams
from workflows.ops.outbound_dispatch import DispatchParams, OutboundDispatchWorkflow


def hold_cleanup_schedule_id(settings: Settings) -> str:
    """One schedule per task queue, so separate deployments (and test runs) never share one."""
    return f"hold-cleanup-{settings.task_queue}"


def _hold_cleanup(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            HoldCleanupWorkflow.run,
            id=f"hold-cleanup-{settings.task_queue}",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.hold_cleanup_interval_s))
            ]
        ),
        policy=SchedulePolicy(catchup_window=timedelta(minutes=5)),
    )


async def ensure_hold_cleanup_schedule(client: Client, settings: Settings) -> str:
    """Create the schedule, or bring an existing one to the current settings. Safe to run from
    every worker at once. Returns the schedule id."""
    return await _ensure(client, hold_cleanup_schedule_id(settings), _hold_cleanup(settings))


def outbound_dispatch_schedule_id(settings: Settings) -> str:
    """One per task queue, like the hold cleanup."""
    return f"outbound-dispatch-{settings.task_queue}"


def _outbound_dispatch(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            OutboundDispatchWorkflow.run,
            arg=DispatchParams(
                batch=settings.outbound_batch, attempt_timeout_s=settings.outbound_timeout_s
            ),
            id=f"outbound-dispatch-{settings.task_queue}",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.outbound_dispatch_interval_s))
            ]
        ),
        # a missed tick needs no catching up: the next run posts everything that is due
        policy=SchedulePolicy(catchup_window=timedelta(minutes=1)),
    )


async def ensure_outbound_dispatch_schedule(client: Client, settings: Settings) -> str:
    """Create or update the schedule that posts outbound events; safe from every worker."""
    return await _ensure(
        client, outbound_dispatch_schedule_id(settings), _outbound_dispatch(settings)
    )


def order_sweep_schedule_id(settings: Settings) -> str:
    """One per task queue, like the hold cleanup."""
    return f"order-sweep-{settings.task_queue}"


def _order_sweep(settings: Settings) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            OrderSweepWorkflow.run,
            arg=SweepParams(grace_s=settings.order_sweep_grace_s),
            id=f"order-sweep-{settings.task_queue}",
            task_queue=settings.task_queue,
            execution_timeout=timedelta(minutes=30),
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.order_sweep_interval_s))
            ]
        ),
        # a missed tick needs no catching up: the next run finds every order still unstarted
        policy=SchedulePolicy(catchup_window=timedelta(minutes=1)),
    )


async def ensure_order_sweep_schedule(client: Client, settings: Settings) -> str:
    """Create or update the schedule that starts orders left without a workflow."""
    return await _ensure(client, order_sweep_schedule_id(settings), _order_sweep(settings))


async def _ensure(client: Client, schedule_id: str, wanted: Schedule) -> str:
    try:
        await client.create_schedule(schedule_id, wanted)
    except ScheduleAlreadyRunningError:

        def update(current: ScheduleUpdateInput) -> ScheduleUpdate:
            wanted.state = current.description.schedule.state  # keep a pause by ops
            return ScheduleUpdate(schedule=wanted)

        await client.get_schedule_handle(schedule_id).update(update)
    return schedule_id
