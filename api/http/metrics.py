"""``GET /metrics`` of the API (Prometheus text format, no API key: keep it internal).

Besides the HTTP metrics (``api.http.request_context``) it exports the OMS state, read from the
database at scrape time by a custom collector: counts are always exact and the same from every
API replica, without any process having to keep them. Time series that need the moment of an
event (release latency, routing solve time) come from the worker's endpoint (``core.metrics``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, case, func
from sqlmodel import Session, col, select

from api.http.request_context import HttpMetrics, RequestContext
from core.db.engine import get_engine
from core.db.schema import OrderRecord, OutboundDelivery, ShipmentRecord
from core.domain.orders import OrderStatus
from core.domain.shipments import AT_LOCATION, ON_THE_WAY
from core.settings import Settings

log = logging.getLogger("oms.metrics")


class OmsStateCollector(Collector):
    """Orders by status, shipments by status, late shipments, outbound deliveries waiting:
    a few grouped counts over indexed columns per scrape."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("oms_database_up", "1 if the OMS database answered the scrape")
        try:
            families = self._read(datetime.now(UTC))
        except Exception as exc:  # noqa: BLE001  (a scrape reports the outage, never fails)
            log.warning("metrics: database not readable: %s", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self, now: datetime) -> list[Metric]:
        with Session(get_engine(self.database_url, readonly=True)) as s:
            orders = dict(
                s.exec(select(OrderRecord.status, func.count()).group_by(OrderRecord.status)).all()
            )
            shipments = dict(
                s.exec(
                    select(ShipmentRecord.status, func.count()).group_by(ShipmentRecord.status)
                ).all()
            )
            late_ship, late_deliver = s.exec(
                select(
                    func.coalesce(
                        func.sum(
                            case(
                                (
                                    and_(
                                        col(ShipmentRecord.ship_by) < now,
                                        col(ShipmentRecord.status).in_(sorted(AT_LOCATION)),
                                    ),
                                    1,
                                ),
                                else_=0,
                            )
                        ),
                        0,
                    ),
                    func.coalesce(
                        func.sum(
                            case(
                                (
                                    and_(
                                        col(ShipmentRecord.deliver_by) < now,
                                        col(ShipmentRecord.status).in_(sorted(ON_THE_WAY)),
                                    ),
                                    1,
                                ),
                                else_=0,
                            )
                        ),
                        0,
                    ),
                )
            ).one()
            outbound = dict(
                s.exec(
                    select(OutboundDelivery.status, func.count()).group_by(OutboundDelivery.status)
                ).all()
            )
        by_status = GaugeMetricFamily(
            "oms_orders", "orders by current status (read model)", labels=["status"]
        )
        for status in sorted({*(st.value for st in OrderStatus), *orders}):
            by_status.add_metric([status], int(orders.get(status, 0)))
        ship = GaugeMetricFamily("oms_shipments", "shipments by status", labels=["status"])
        for status, n in sorted(shipments.items()):
            ship.add_metric([status], int(n))
        late = GaugeMetricFamily(
            "oms_shipments_late",
            "shipments past their promise: not shipped by ship_by "
            "(promise=ship) or on the way past deliver_by (promise=deliver)",
            labels=["promise"],
        )
        late.add_metric(["ship"], int(late_ship))
        late.add_metric(["deliver"], int(late_deliver))
        out = GaugeMetricFamily(
            "oms_outbound_deliveries", "outbound webhook deliveries by status", labels=["status"]
        )
        for status, n in sorted(outbound.items()):
            out.add_metric([status], int(n))
        return [by_status, ship, late, out]


def install(app: FastAPI, settings: Settings) -> CollectorRegistry:
    """Adds the request-context middleware and ``GET /metrics`` (one registry per app)."""
    registry = CollectorRegistry()
    for collector in (ProcessCollector, PlatformCollector, GCCollector):
        collector(registry=registry)
    registry.register(OmsStateCollector(settings.database_url))
    app.add_middleware(RequestContext, http=HttpMetrics(registry))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return registry
