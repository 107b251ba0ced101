"""Stock came in: wake the backorders. A stock feed or an adjustment that added stock signals
every order waiting for stock (status ``backordered``); each plans again itself, so a wake for
a SKU it does not need costs it one planning call and nothing else. A wake that does not reach
an order (the API stopped in between) is made good by the order's own periodic look
(``[fulfilment] backorder_recheck``)."""

from __future__ import annotations

import contextlib

from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from core.db.engine import session_scope
from core.db.schema import OrderRecord
from core.domain.orders import OrderStatus
from workflows.order.client import OrderClient, OrderRefused


def _waiting(url: str) -> list[str]:
    with session_scope(url) as s:
        return list(
            s.exec(
                select(OrderRecord.order_id).where(
                    col(OrderRecord.status) == OrderStatus.BACKORDERED.value
                )
            ).all()
        )


async def wake_backorders(url: str, client: Client) -> int:
    """Signal each backordered order; returns how many were told."""
    told = 0
    for order_id in await run_in_threadpool(_waiting, url):
        with contextlib.suppress(OrderRefused):  # it ended meanwhile
            await OrderClient(client, order_id).stock_changed()
            told += 1
    return told
