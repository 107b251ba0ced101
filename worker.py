"""The OMS worker: runs order workflows and their activities for one task queue.

Stateless: run as many as you like against the same Temporal server and database. Stops
gracefully on SIGTERM/SIGINT (finishes running activity attempts, then exits).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from activities.billing.activities import BillingActivities
from activities.fulfilment.activities import (
    CompensationActivities,
    FulfilmentActivities,
    OpsCaseActivities,
)
from activities.messaging.activities import EmailActivities, OutboundActivities
from activities.orders.activities import (
    OrderLogActivities,
    OrderSweepActivities,
    PlanningActivities,
    PricingActivities,
    RiskActivities,
)
from activities.payments.activities import PaymentActivities
from activities.returns.activities import ReturnActivities
from activities.stock.activities import HoldActivities, LocationActivities, StockActivities
from core.log_context import ActivityLogContext
from core.logging_setup import configure_logging
from core.metrics import worker_runtime
from core.settings import Settings, get_settings
from workflows.connection import connect
from workflows.ops.hold_cleanup import HoldCleanupWorkflow
from workflows.ops.location_outage import LocationOutageWorkflow
from workflows.ops.order_sweep import OrderSweepWorkflow
from workflows.ops.outbound_dispatch import OutboundDispatcherWorkflow, OutboundDispatchWorkflow
from workflows.ops.schedules import (
    ensure_hold_cleanup_schedule,
    ensure_order_sweep_schedule,
    ensure_outbound_dispatcher,
    keep_outbound_dispatcher,
)
from workflows.order.workflow import OrderWorkflow
from workflows.returns.workflow import ReturnWorkflow

WORKFLOWS = [
    OrderWorkflow,
    LocationOutageWorkflow,
    HoldCleanupWorkflow,
    ReturnWorkflow,
    OutboundDispatcherWorkflow,
    OutboundDispatchWorkflow,  # the short runs of the old schedule: in flight at an upgrade
    OrderSweepWorkflow,
]

DISPATCHER_CHECK_S = 60.0
"""How often a worker makes sure the outbound dispatcher runs (it starts it if it is gone)."""


def activities_for(settings: Settings) -> list[Callable[..., Any]]:
    """Every activity the OMS registers, bound to its configuration."""
    risk = RiskActivities(settings)
    planning = PlanningActivities(settings)
    stock = StockActivities(settings)
    payments = PaymentActivities(settings)
    fulfilment = FulfilmentActivities(settings)
    log = OrderLogActivities(settings)
    email = EmailActivities(settings)
    locations = LocationActivities(settings)
    returns = ReturnActivities(settings)
    outbound = OutboundActivities(settings)
    return [
        risk.assess_risk,
        planning.plan_route,
        stock.reserve_stock,
        stock.release_stock,
        payments.authorise_payment,
        payments.capture_payment,
        payments.void_payment,
        payments.refund_payment,
        payments.record_incoming_payment,
        PricingActivities(settings).reprice_modification,
        fulfilment.release_shipment,
        fulfilment.record_shipment_event,
        fulfilment.withdraw_shipment,
        fulfilment.resize_shipment,
        fulfilment.restock,
        CompensationActivities(settings).issue_voucher,
        BillingActivities(settings).issue_parcel_invoice,
        BillingActivities(settings).issue_order_invoice,
        BillingActivities(settings).issue_return_credit_notes,
        BillingActivities(settings).issue_parcel_credit_note,
        BillingActivities(settings).issue_shipping_credit_note,
        OpsCaseActivities(settings).open_parcel_case,
        log.register_order,
        log.record_progress,
        OrderSweepActivities(settings).find_unstarted_orders,
        email.send_email,
        locations.set_location_online,
        HoldActivities(settings).expire_holds,
        returns.record_return,
        returns.issue_label,
        returns.book_stock,
        returns.refund_parent,
        outbound.claim_deliveries,
        outbound.deliver,
    ]


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    """The worker; its metrics go wherever the client's runtime sends them (``main``)."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(settings),
        activity_executor=executor,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=10),
        interceptors=[ActivityLogContext()],
    )


async def main() -> None:
    # The workflow sandbox re-imports the workflow modules for every new workflow run: with
    # PYTHONDONTWRITEBYTECODE set (common in containers and CI) there is no cached bytecode and
    # each run compiles them again (about 6% of the worker's CPU under load). Allow the cache.
    sys.dont_write_bytecode = False
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    if settings.worker_metrics_port:
        # before any client exists: the client's runtime serves the SDK and OMS metrics
        Runtime.set_default(worker_runtime(settings.worker_metrics_port))
    client = await connect(settings)
    await ensure_hold_cleanup_schedule(client, settings)
    await ensure_outbound_dispatcher(client, settings)
    await ensure_order_sweep_schedule(client, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=settings.worker_max_concurrent_activities) as executor:
        worker = build_worker(client, settings, executor)
        async with worker:
            keeper = asyncio.create_task(_keep_dispatcher(client, settings))
            logging.getLogger("oms.worker").info(
                "worker polling task queue %s on %s",
                settings.task_queue,
                settings.temporal_address,
                extra={"metrics_port": settings.worker_metrics_port},
            )
            await stop.wait()
            keeper.cancel()
    logging.getLogger("oms.worker").info("worker stopped")


async def _keep_dispatcher(client: Client, settings: Settings) -> None:
    """A long-running workflow, unlike a schedule, does not come back by itself once ended
    (terminated in the UI, say): every worker checks now and then and starts it again."""
    log = logging.getLogger("oms.worker")
    while True:
        await asyncio.sleep(DISPATCHER_CHECK_S)
        try:
            await keep_outbound_dispatcher(client, settings)
        except Exception:  # noqa: BLE001 - Temporal away for a moment: the next check retries
            log.warning("could not check the outbound dispatcher", exc_info=True)


if __name__ == "__main__":
    asyncio.run(main())
