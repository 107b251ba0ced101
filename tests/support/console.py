"""Helpers for the console and dashboard tests: staff keys, orders placed with a key, waiting on
the read model, and the dashboard's numbers recomputed straight from the database."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import Session, col, func, select

from api.http.auth_keys import issue_key
from api.pages.dashboard.data import MONEY_IN, NOT_GOING_AHEAD, day_start
from core.db.engine import get_engine, session_scope
from core.db.schema import OrderRecord, PaymentTransaction
from tests.support.orders import order_request

ALL_ROLES = "shop,customer_service,operations"


def staff_key(url: str, role: str, label: str = "") -> str:
    with session_scope(url) as s:
        return issue_key(s, role, None, label or f"test {role}")[1]


def unique_email() -> str:
    return f"kunde-{uuid.uuid4().hex[:10]}@example.org"


async def place(api: httpx.AsyncClient, key: str, **overrides: Any) -> str:
    """An order placed through the JSON API with ``key``; returns its id."""
    body = order_request(**overrides)
    r = await api.post("/orders", json=body, headers={"X-API-Key": key})
    assert r.status_code == 202, r.text
    return body["order_id"]


def db_status(url: str, order_id: str) -> str:
    with Session(get_engine(url, readonly=True)) as s:
        rec = s.get(OrderRecord, order_id)
        return rec.status if rec else ""


async def wait_status(url: str, order_id: str, statuses: set[str], timeout: float = 30.0) -> str:
    """Poll the read model until the order has one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while (status := db_status(url, order_id)) not in statuses:
        assert time.monotonic() < deadline, f"{order_id} never reached {statuses}: {status}"
        await asyncio.sleep(0.2)
    return status


def expected_numbers(url: str) -> dict[str, Any]:
    """The dashboard's headline numbers, counted here independently of ``dashboard_data``."""
    since = day_start(datetime.now(UTC))
    with Session(get_engine(url, readonly=True)) as s:
        orders = s.exec(select(OrderRecord).where(OrderRecord.created_at >= since)).all()
        pays = s.exec(
            select(func.coalesce(func.sum(PaymentTransaction.amount_cents), 0)).where(
                PaymentTransaction.created_at >= since,
                PaymentTransaction.status == "succeeded",
                col(PaymentTransaction.kind).in_(MONEY_IN),
            )
        ).one()
    by_channel: dict[str, int] = {}
    for o in orders:
        by_channel[o.channel] = by_channel.get(o.channel, 0) + 1
    return {
        "orders_today": len(orders),
        "by_channel": by_channel,
        "revenue_cents": sum(o.total_cents for o in orders if o.status not in NOT_GOING_AHEAD),
        "payments_cents": int(pays),
    }
