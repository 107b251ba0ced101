"""Batch re-routing when a location goes offline: durable, so no affected order is missed.

Flags the location offline, then signals every order with unshipped shipments there to
re-route them. Running it twice is harmless: orders ignore a location they already left.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stock.activities import LocationActivities
    from core.domain.orders import workflow_id_for
    from core.domain.shipments import RerouteRequest


class OutageResult(BaseModel):
    location_id: str
    orders_rerouted: list[str]
    orders_unreachable: list[str] = []


@workflow.defn
class LocationOutageWorkflow:
    @workflow.run
    async def run(self, location_id: str, reason: str) -> OutageResult:
        orders: list[str] = await workflow.execute_activity_method(
            LocationActivities.set_location_online,
            args=[location_id, False],
            start_to_close_timeout=timedelta(seconds=30),
        )
        request = RerouteRequest(location_id=location_id, reason=reason)
        results = await asyncio.gather(
            *(
                workflow.get_external_workflow_handle(workflow_id_for(order_id)).signal(
                    "reroute", request
                )
                for order_id in orders
            ),
            return_exceptions=True,
        )
        unreachable = [
            o for o, r in zip(orders, results, strict=True) if isinstance(r, BaseException)
        ]
        return OutageResult(
            location_id=location_id,
            orders_rerouted=[o for o in orders if o not in unreachable],
            orders_unreachable=unreachable,
        )
