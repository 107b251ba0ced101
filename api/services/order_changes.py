"""Whether a running order still takes changes, in the order workflow's own words: for pages
that offer a change (the self-service page) and must say why they do not.

The workflow decides (its ``actions`` query answers, per action, the refusal its Update
validator would give, by ``core.rules.refusals``); this module only asks, with a short
timeout, so a slow or unreachable workflow never blocks the page. Its ``state`` query names
the end of the release hold (``hold_until``): until then the order waits before it goes to
the warehouse.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError, RPCStatusCode

from workflows.order.client import OrderClient

QUERY_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ChangeWindow:
    """``refusal``: "" the order takes a change now, else the workflow's reason why not, or
    None when the workflow could not be asked. ``until``: the release hold's end, while the
    order takes changes (None: no hold, or not known)."""

    refusal: str | None
    until: datetime | None = None

    @property
    def open(self) -> bool:
        return self.refusal == ""

    @property
    def unknown(self) -> bool:
        return self.refusal is None


async def change_window(
    client: Client, order_id: str, timeout_s: float = QUERY_TIMEOUT_S
) -> ChangeWindow:
    """Would the order take a modification (``ModifyRequest``) now, and until when?"""
    order = OrderClient(client, order_id)
    timeout = timedelta(seconds=timeout_s)
    try:
        state, actions = await asyncio.wait_for(
            asyncio.gather(order.state(timeout=timeout), order.actions(timeout=timeout)),
            timeout_s + 0.5,
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # its history is gone: long closed
            return ChangeWindow(f"order {order_id} is closed")
        return ChangeWindow(None)
    except (TimeoutError, WorkflowQueryFailedError, WorkflowQueryRejectedError):
        return ChangeWindow(None)
    refusal = actions.get("modify")
    if refusal is None:
        return ChangeWindow(None)
    return ChangeWindow(refusal, state.hold_until if refusal == "" else None)
