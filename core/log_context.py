"""The worker's log context: every line written while an activity runs names its order.

A Temporal worker interceptor binds ``workflow_id``, ``order_id`` and ``activity`` into
``structlog.contextvars`` around each activity execution; the SDK copies the context into the
thread of a sync activity, so library logs (httpx, SQLAlchemy...) carry them too. Workflow
code is not touched: its ``workflow.logger`` lines get the same fields from the SDK's extras
(``core.logging_setup.lift_temporal_fields``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from core.logging_setup import order_id_from_workflow_id

log = logging.getLogger("oms.activity")


def order_id_of(workflow_id: str | None, args: Any) -> str | None:
    """The order an activity works for: from an order workflow's id, else (returns, ...) the
    first argument that is a model with an ``order_id``."""
    found = order_id_from_workflow_id(workflow_id)
    if found is not None:
        return found
    for arg in args:
        value = getattr(arg, "order_id", None)
        if isinstance(value, str) and value:
            return value
    return None


class ActivityLogContext(Interceptor):
    """Worker interceptor: binds the log context of each activity execution."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindContext(next)


class _BindContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        fields: dict[str, Any] = {"activity": info.activity_type}
        if info.workflow_id:
            fields["workflow_id"] = info.workflow_id
        order_id = order_id_of(info.workflow_id, input.args)
        if order_id is not None:
            fields["order_id"] = order_id
        # an order's steps are its audit trail at INFO; housekeeping (schedules) at DEBUG
        level = logging.INFO if order_id is not None else logging.DEBUG
        started = time.monotonic()
        with structlog.contextvars.bound_contextvars(**fields):
            result = await super().execute_activity(input)
            log.log(
                level,
                "activity completed",
                extra={
                    "attempt": info.attempt,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return result
