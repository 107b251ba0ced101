"""The OMS worker metrics, exported with the Temporal SDK's own on one Prometheus endpoint.

The worker's Temporal ``Runtime`` serves ``/metrics`` (``worker_runtime``); activities record
the OMS metrics through the SDK meter (``activity.metric_meter()``), which adds
``namespace``, ``task_queue`` and ``activity_type`` labels. Each function records only when
called inside an activity, so the activities stay callable from plain code and tests.

Names (Prometheus conventions; the SDK's own metrics are ``temporal_*``):

- ``oms_release_latency_seconds`` histogram: order placed -> shipment released to its location
- ``oms_routing_solve_seconds`` histogram: one routing solve, labels ``strategy``, ``optimal``
- ``oms_late_shipments_total`` counter: promises missed (delay notice), label ``why``
- ``oms_orders_placed_total`` / ``oms_orders_finished_total{status}`` counters
"""

from __future__ import annotations

from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.domain.events import ProgressEvent
from core.domain.orders import TERMINAL_STATUSES

RELEASE_LATENCY = "oms_release_latency_seconds"
ROUTING_SOLVE = "oms_routing_solve_seconds"
LATE_SHIPMENTS = "oms_late_shipments_total"
ORDERS_PLACED = "oms_orders_placed_total"
ORDERS_FINISHED = "oms_orders_finished_total"

# seconds to days: card orders release within seconds, prepayment ones after days
RELEASE_BUCKETS = (
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    15,
    60,
    300,
    900,
    3600,
    4 * 3600,
    86400,
    3 * 86400,
    7 * 86400,
)
SOLVE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def worker_runtime(port: int, host: str = "0.0.0.0") -> Runtime:
    """A Temporal runtime serving the SDK's and the OMS worker metrics on
    ``http://<host>:<port>/metrics``. Clients (and so workers) must be created with it."""
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"{host}:{port}",
                durations_as_seconds=True,
                histogram_bucket_overrides={
                    RELEASE_LATENCY: RELEASE_BUCKETS,
                    ROUTING_SOLVE: SOLVE_BUCKETS,
                },
            )
        )
    )


def _meter() -> MetricMeter | None:
    if not activity.in_activity():
        return None
    try:
        return activity.metric_meter()
    except RuntimeError:  # a sync activity run outside a thread pool has no meter
        return None


def observe_release_latency(seconds: float) -> None:
    """A shipment reached its location ``seconds`` after the order was placed."""
    if (meter := _meter()) is not None:
        meter.create_histogram_float(
            RELEASE_LATENCY, "order placed to shipment released", "s"
        ).record(max(0.0, seconds))


def observe_routing_solve(seconds: float, strategy: str, optimal: bool) -> None:
    """One routing solve took ``seconds`` (the optimiser's time limit bounds it)."""
    if (meter := _meter()) is not None:
        meter.create_histogram_float(ROUTING_SOLVE, "routing solve time", "s").record(
            seconds, {"strategy": strategy, "optimal": str(optimal).lower()}
        )


def count_progress(ev: ProgressEvent) -> None:
    """Counts what a newly recorded order event means: placed, finished, a promise missed."""
    if (meter := _meter()) is None:
        return
    if ev.type == "placed":
        meter.create_counter(ORDERS_PLACED, "orders placed").add(1)
    if ev.status is not None and ev.status in TERMINAL_STATUSES:
        meter.create_counter(ORDERS_FINISHED, "orders that reached a final status").add(
            1, {"status": ev.status.value}
        )
    if ev.type.startswith("delay_"):
        meter.create_counter(LATE_SHIPMENTS, "shipments whose promise was missed").add(
            1, {"why": str(ev.detail.get("why") or "unknown")}
        )
