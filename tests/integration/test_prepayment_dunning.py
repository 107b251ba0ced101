"""Prepayment dunning on the time-skipping test server: reminders on the policy's days,
auto-cancel at the deadline, money just in time, money too late (refunded)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlmodel import col, select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.db.engine import session_scope
from core.db.schema import OrderEvent, PaymentTransaction
from core.domain.orders import OrderStatus
from core.domain.payments import PaymentNotice
from core.domain.shipments import ShipmentEvent
from core.policy import OrderPolicy
from core.settings import Settings
from tests.support.catalogue import active_reservations, make_sku, stock_of, warehouses
from tests.support.histories import keep
from tests.support.skipping import start
from tests.support.smtp import Inbox
from workflows.order.workflow import OrderWorkflow

POLICY = OrderPolicy()  # reminders after 3 and 6 days, auto-cancel after 10


async def _start(
    env: WorkflowEnvironment, settings: Settings, price_cents: int = 4000
) -> tuple[WorkflowHandle, str, str, int]:
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 5}, price_cents=price_cents)
    handle, order = await start(env, settings, [(sku, 2)], POLICY, payment_method="prepayment")
    return handle, order.order_id, sku, order.total_cents


def _events(url: str, order_id: str) -> dict[str, OrderEvent]:
    with session_scope(url) as s:
        return {
            e.type: e
            for e in s.exec(
                select(OrderEvent)
                .where(OrderEvent.order_id == order_id)
                .order_by(col(OrderEvent.at))
            ).all()
        }


def _subjects(inbox: Inbox, order_id: str) -> list[str]:
    return [str(m["Subject"]) for m in inbox.for_order(order_id)]


async def _eventually(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.2)


async def test_reminders_on_policy_days_then_auto_cancel_releases_stock(
    skipping: tuple[WorkflowEnvironment, Settings], inbox: Inbox
) -> None:
    env, settings = skipping
    handle, order_id, sku, total = await _start(env, settings)
    state = await handle.result()  # the server skips the days
    await keep(env.client, handle.id, "prepayment_auto_cancelled")
    assert state.status == OrderStatus.CANCELLED

    events = _events(settings.database_url, order_id)
    start = events["awaiting_payment"].at
    for name, offset in (
        ("payment_reminder_1", timedelta(days=3)),
        ("payment_reminder_2", timedelta(days=6)),
        ("cancelled", timedelta(days=10)),
    ):
        assert abs((events[name].at - start) - offset) < timedelta(minutes=1), name
    assert "payment not received" in events["cancelled"].detail["reason"]
    assert events["cancelled"].actor == "policy"
    assert not active_reservations(settings.database_url, order_id)
    assert stock_of(settings.database_url, warehouses(settings.database_url)[0], sku) == (5, 0)
    subjects = _subjects(inbox, order_id)
    assert subjects == [
        f"Bestellbestätigung {order_id}",
        f"Bitte überweisen Sie 84,95 € für Ihre Bestellung {order_id}",
        f"Erinnerung 1: Zahlung für Bestellung {order_id} offen",
        f"Erinnerung 2: Zahlung für Bestellung {order_id} offen",
        f"Ihre Bestellung {order_id} wurde storniert",
    ]
    assert total == 8495


async def test_money_one_minute_before_the_deadline_releases_the_order(
    skipping: tuple[WorkflowEnvironment, Settings], inbox: Inbox
) -> None:
    env, settings = skipping
    handle, order_id, _sku, total = await _start(env, settings)
    await env.sleep(POLICY.payment.prepayment_deadline - timedelta(minutes=1))
    await handle.signal(
        OrderWorkflow.payment_received,
        PaymentNotice(payment_id=f"B-{order_id}", amount_cents=total),
    )

    async def released() -> bool:
        return (await handle.query(OrderWorkflow.state)).status == OrderStatus.IN_FULFILMENT

    deadline = time.monotonic() + 30
    while not await released():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    state = await handle.query(OrderWorkflow.state)
    for shipment in state.shipments:
        for kind in ("shipped", "delivered"):
            await handle.signal(
                OrderWorkflow.shipment_event,
                ShipmentEvent(
                    shipment_id=shipment.shipment_id,
                    kind=kind,
                    carrier="DHL",
                    tracking_number="TS1",
                ),
            )
    assert (await handle.result()).status == OrderStatus.COMPLETED
    subjects = _subjects(inbox, order_id)
    assert sum("Erinnerung" in s for s in subjects) == 2
    assert not any("storniert" in s for s in subjects)
    events = _events(settings.database_url, order_id)
    assert "paid" in events and "cancelled" not in events


async def test_money_after_the_auto_cancel_is_refunded(
    skipping: tuple[WorkflowEnvironment, Settings], inbox: Inbox
) -> None:
    env, settings = skipping
    handle, order_id, _sku, total = await _start(env, settings)
    await env.sleep(POLICY.payment.prepayment_deadline + timedelta(hours=1))
    assert (await handle.query(OrderWorkflow.state)).status == OrderStatus.CANCELLED
    await handle.signal(
        OrderWorkflow.payment_received,
        PaymentNotice(payment_id=f"LATE-{order_id}", amount_cents=total),
    )

    def refunded() -> bool:
        with session_scope(settings.database_url) as s:
            return (
                s.exec(
                    select(PaymentTransaction).where(
                        PaymentTransaction.order_id == order_id,
                        PaymentTransaction.kind == "refund",
                        PaymentTransaction.status == "succeeded",
                    )
                ).first()
                is not None
            )

    await _eventually(refunded)
    with session_scope(settings.database_url) as s:
        txs = s.exec(
            select(PaymentTransaction).where(PaymentTransaction.order_id == order_id)
        ).all()
    assert sorted((t.kind, t.amount_cents) for t in txs) == [("incoming", total), ("refund", total)]
    await _eventually(lambda: any("Erstattung" in s for s in _subjects(inbox, order_id)))
