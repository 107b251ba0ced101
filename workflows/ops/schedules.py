"""What a worker sets up in Temporal when it starts, idempotently (safe from every worker at
once): the OMS's schedules, and the long-running outbound dispatcher."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from core.settings import Settings
from workflows.ops.hold_cleanup import HoldCleanupWorkflow
from workflows.ops.order_sweep import OrderSweepWorkflow, SweepParams
from workflows.ops.outbound_dispatch import DispatcherParams, OutboundDispatcherWorkflow


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
    """The schedule that started a short dispatch run every few seconds before the long-running
    dispatcher replaced it; only named now to be deleted."""
    return f"outbound-dispatch-{settings.task_queue}"


def outbound_dispatcher_id(settings: Settings) -> str:
    """The dispatcher's fixed workflow id: one per task queue, like the schedules."""
    return f"outbound-dispatcher-{settings.task_queue}"


def dispatcher_params(settings: Settings) -> DispatcherParams:
    return DispatcherParams(
        batch=settings.outbound_batch,
        attempt_timeout_s=settings.outbound_timeout_s,
        interval_s=settings.outbound_dispatch_interval_s,
        max_rounds=settings.outbound_dispatcher_max_rounds,
    )


async def ensure_outbound_dispatcher(client: Client, settings: Settings) -> str:
    """Start the task queue's one outbound dispatcher, or hand the running one this worker's
    settings: signal-with-start on the fixed id, so workers starting at the same moment start
    one between them. Removes the schedule of the old kind first, so an upgraded deployment
    does not run both. Returns the dispatcher's workflow id."""
    await _delete_schedule(client.get_schedule_handle(outbound_dispatch_schedule_id(settings)))
    params = dispatcher_params(settings)
    handle = await _start_dispatcher(client, settings, signal_args=[params])
    return handle.id


async def keep_outbound_dispatcher(client: Client, settings: Settings) -> str:
    """Start the dispatcher again if it is gone (terminated in the UI, failed); leaves a running
    one alone, with nothing written to its history. Workers call it every minute or so."""
    return (await _start_dispatcher(client, settings)).id


async def _start_dispatcher(
    client: Client, settings: Settings, signal_args: list[DispatcherParams] | None = None
) -> WorkflowHandle[OutboundDispatcherWorkflow, None]:
    return await client.start_workflow(
        OutboundDispatcherWorkflow.run,
        dispatcher_params(settings),
        id=outbound_dispatcher_id(settings),
        task_queue=settings.task_queue,
        # running: use it (never a second one); closed (terminated, failed): start a new one
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        start_signal="configure" if signal_args else None,
        start_signal_args=signal_args or [],
        static_summary="posts due outbound webhooks (order events to subscribers)",
    )


async def _delete_schedule(handle: ScheduleHandle) -> None:
    try:
        await handle.delete()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise


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
