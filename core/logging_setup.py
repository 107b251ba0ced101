"""One log format for every OMS process (worker, API, dev stack), including third-party logs.

stdlib logging is routed through structlog's ``ProcessorFormatter``, so temporalio, uvicorn
and SQLAlchemy lines come out exactly like our own: ``json`` (one object per line, for log
collectors) or ``console`` (readable). ``order_id`` and ``workflow_id`` travel in
``structlog.contextvars`` (bound per activity by the worker's interceptor and per request by
the API's middleware) and are lifted from the ``temporal_workflow`` / ``temporal_activity``
extras the SDK puts on ``workflow.logger`` / ``activity.logger`` lines, so an order can be
followed through the logs of every process by one field.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import IO, Any, Literal

import structlog
from structlog.typing import Processor
from temporalio import activity, workflow

ORDER_WORKFLOW_PREFIX = "order-"  # see core.domain.orders.workflow_id_for
_TEMPORAL_EXTRAS = ("temporal_workflow", "temporal_activity")
_LIFTED = {
    "workflow_id": "workflow_id",
    "workflow_type": "workflow_type",
    "run_id": "run_id",
    "workflow_run_id": "run_id",
    "activity_type": "activity",
    "attempt": "attempt",
}


def order_id_from_workflow_id(workflow_id: str | None) -> str | None:
    """The order id of an order workflow (``order-<order id>``); None for other workflows."""
    if workflow_id and workflow_id.startswith(ORDER_WORKFLOW_PREFIX):
        return workflow_id[len(ORDER_WORKFLOW_PREFIX) :] or None
    return None


def lift_temporal_fields(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Turn the SDK's ``temporal_workflow`` / ``temporal_activity`` extra dicts (workflow and
    activity loggers) into top-level fields, adding ``order_id`` for order workflows."""
    record = event_dict.get("_record")
    for key in _TEMPORAL_EXTRAS:
        details = event_dict.pop(key, None) or getattr(record, key, None)
        if isinstance(details, Mapping):
            for src, dst in _LIFTED.items():
                if src in details:
                    event_dict.setdefault(dst, details[src])
    if "order_id" not in event_dict:
        order_id = order_id_from_workflow_id(event_dict.get("workflow_id"))
        if order_id is not None:
            event_dict["order_id"] = order_id
    return event_dict


def shared_processors() -> list[Processor]:
    """What every line goes through, ours and third-party ones alike."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),  # stdlib ``extra=`` fields become fields
        lift_temporal_fields,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
    ]


# Tracebacks without the frames' local variables: those would put customers' data and secrets
# into the logs, and rendering them cost several per cent of the worker's CPU under load (every
# retried activity logs one).
_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


def build_handler(
    fmt: Literal["console", "json"], stream: IO[str] | None = None
) -> logging.Handler:
    """A stdlib handler rendering every record in the OMS format."""
    out = stream or sys.stderr
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        final: list[Processor] = [_TRACEBACKS, renderer]
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(getattr(out, "isatty", None) and out.isatty()),
            exception_formatter=structlog.dev.plain_traceback,
        )
        final = [renderer]
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors(),
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    return handler


def configure_logging(
    fmt: Literal["console", "json"] = "console", level: str = "INFO", stream: IO[str] | None = None
) -> logging.Handler:
    """Process-wide set-up (call once at start): replaces the root handlers with the OMS one
    and points structlog at stdlib logging. Returns the handler (tests remove it again)."""
    structlog.configure(
        processors=[*shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = build_handler(fmt, stream)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn installs its own handlers; ours render its lines (the API logs access itself)
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # the details are fields now; no need to repeat them inside the message text
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    return handler
