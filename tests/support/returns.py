"""Helpers for the return tests: delivered orders, return requests, the return's progress."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlmodel import col, select

from core.db.engine import session_scope
from core.db.schema import Location, PaymentTransaction, StockMovement
from tests.support.orders import order_request, post_event, wait_for_status


def warehouse_in(url: str, city: str) -> str:
    """The demo network's warehouse in ``city`` (other tests add warehouses of their own)."""
    with session_scope(url) as s:
        loc = s.exec(
            select(Location).where(
                Location.kind == "warehouse",
                Location.city == city,
                col(Location.id).startswith("WH-"),
            )
        ).one()
        return loc.id


async def delivered_order(
    api: httpx.AsyncClient,
    lines: list[tuple[str, int]],
    delivered_at: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """An order placed, shipped and delivered through the API (``delivered_at``: when the
    carrier says it arrived)."""
    body = order_request(lines=lines, **overrides)
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    for sh in order["shipments"]:
        await post_event(api, sh["shipment_id"], "shipped")
        extra = {"at": delivered_at} if delivered_at else {}
        await post_event(api, sh["shipment_id"], "delivered", **extra)
    return await wait_for_status(api, body["order_id"], {"completed"})


async def request_return(
    api: httpx.AsyncClient, order_id: str, *lines: tuple[str, int, str]
) -> httpx.Response:
    return await api.post(
        f"/orders/{order_id}/returns",
        json={
            "agent": "cs-anna",
            "lines": [
                {"line_id": lid, "quantity": q, "reason": reason} for lid, q, reason in lines
            ],
        },
    )


async def return_event(api: httpx.AsyncClient, return_id: str, event: str, **body: Any) -> None:
    r = await api.post("/webhooks/returns", json={"return_id": return_id, "event": event, **body})
    assert r.status_code == 202, r.text


async def wait_return(
    api: httpx.AsyncClient, return_id: str, statuses: set[str], timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = await api.get(f"/returns/{return_id}")
        if r.status_code == 200:
            last = r.json()
            if last["status"] in statuses:
                return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"return {return_id} never reached {statuses}; last: {last.get('status')}")


async def receive_and_inspect(
    api: httpx.AsyncClient, ret: dict[str, Any], location_id: str, sellable: bool
) -> dict[str, Any]:
    """The parcel is scanned, arrives at ``location_id`` and is inspected; until closed."""
    rid = ret["return_id"]
    await wait_return(api, rid, {"label_issued"})
    await return_event(api, rid, "in_transit", carrier="parcel", tracking_number=f"RT{rid}")
    await wait_return(api, rid, {"in_transit"})
    await return_event(api, rid, "received", location_id=location_id)
    await wait_return(api, rid, {"received", "inspected", "refunded", "closed"})
    await return_event(
        api,
        rid,
        "inspected",
        lines=[{"line_id": ln["line_id"], "sellable": sellable} for ln in ret["lines"]],
    )
    return await wait_return(api, rid, {"closed"})


def refunds(url: str, order_id: str) -> list[PaymentTransaction]:
    with session_scope(url) as s:
        return list(
            s.exec(
                select(PaymentTransaction)
                .where(PaymentTransaction.order_id == order_id, PaymentTransaction.kind == "refund")
                .order_by(col(PaymentTransaction.created_at))
            ).all()
        )


def captures(url: str, order_id: str) -> list[PaymentTransaction]:
    with session_scope(url) as s:
        return list(
            s.exec(
                select(PaymentTransaction).where(
                    PaymentTransaction.order_id == order_id, PaymentTransaction.kind == "capture"
                )
            ).all()
        )


def movements(url: str, source: str) -> list[tuple[str, str, str, int]]:
    """(location, sku, kind, on-hand delta) of the ledger rows of ``source``."""
    with session_scope(url) as s:
        rows = s.exec(
            select(StockMovement)
            .where(StockMovement.source == source)
            .order_by(col(StockMovement.id))
        ).all()
        return [(m.location_id, m.sku, m.kind, m.on_hand_delta) for m in rows]
