"""Shipment monitoring on the time-skipping server: promises missed and kept, locations that
do not accept, late and lost parcels, pickup windows that expire."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from activities.messaging.templates import local_date
from core.db.engine import session_scope
from core.db.schema import Invoice, Location, Stock, Voucher
from core.domain.commands import PickupConfirmation
from core.domain.orders import OrderStatus
from core.policy import OrderPolicy
from core.settings import Settings
from tests.support.catalogue import active_reservations, make_sku, stock_of, warehouses
from tests.support.histories import keep
from tests.support.money import amounts
from tests.support.skipping import eventually, send, start, until
from tests.support.smtp import Inbox, wait_for_subject
from workflows.order.workflow import OrderWorkflow

Skipping = tuple[WorkflowEnvironment, Settings]
POLICY = OrderPolicy()


def _released(state) -> bool:  # type: ignore[no-untyped-def]
    return state.status == OrderStatus.IN_FULFILMENT


async def test_missed_express_ship_by_tells_customer_and_refunds_the_fee(
    skipping: Skipping, inbox: Inbox
) -> None:
    env, settings = skipping
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 3}, price_cents=3000)
    handle, order = await start(env, settings, [(sku, 1)], shipping_speed="express")
    state = await until(handle, _released)
    [shipment] = state.shipments
    await send(handle, shipment.shipment_id, "accepted")
    assert shipment.ship_by is not None
    await env.sleep(shipment.ship_by - (await env.get_current_time()) + timedelta(minutes=5))

    mail = await wait_for_subject(
        inbox, order.order_id, f"Ihre Bestellung {order.order_id} verspätet sich"
    )
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Expressgebühr von 5,00 €" in body and "neue voraussichtliche Lieferung" in body
    fee_back = POLICY.shipping_fee_cents["express"] - POLICY.shipping_fee_cents["standard"]
    await eventually(lambda: amounts(settings.database_url, order.order_id).get("void") == fee_back)

    await send(handle, shipment.shipment_id, "shipped", "delivered")
    assert (await handle.result()).status == OrderStatus.COMPLETED
    money = amounts(settings.database_url, order.order_id)
    assert money["authorise"] == 3000 + 995
    assert money["capture"] == 3000 + 995 - fee_back
    assert money["capture"] + money["void"] == money["authorise"]
    await keep(env.client, handle.id, "express_late_fee_refunded")


async def test_location_not_accepting_in_time_is_rerouted_and_order_completes(
    skipping: Skipping,
) -> None:
    env, settings = skipping
    wh = warehouses(settings.database_url)
    sku = make_sku(settings.database_url, {wh[0]: 2, wh[1]: 2}, price_cents=1500)
    handle, order = await start(env, settings, [(sku, 2)])
    state = await until(handle, _released)
    [first] = state.shipments
    await env.sleep(POLICY.fulfilment.accept_within + timedelta(minutes=1))
    state = await until(handle, lambda s: s.shipment_status.get(first.shipment_id) == "rerouted")
    [moved] = [s for s in state.shipments if s.shipment_id != first.shipment_id]
    assert moved.location_id != first.location_id
    assert stock_of(settings.database_url, first.location_id, sku) == (2, 0)
    await send(handle, moved.shipment_id, "accepted", "shipped", "delivered")
    assert (await handle.result()).status == OrderStatus.COMPLETED


async def test_late_delivery_gets_a_notice_and_a_voucher(skipping: Skipping, inbox: Inbox) -> None:
    env, settings = skipping
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 2})
    handle, order = await start(env, settings, [(sku, 1)])
    state = await until(handle, _released)
    [shipment] = state.shipments
    await send(handle, shipment.shipment_id, "accepted", "shipped", "in_transit")
    assert shipment.deliver_by is not None
    await env.sleep(shipment.deliver_by - (await env.get_current_time()) + timedelta(hours=2))
    mail = await wait_for_subject(
        inbox, order.order_id, f"Ihre Bestellung {order.order_id} verspätet sich"
    )
    body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    with session_scope(settings.database_url) as s:
        voucher = s.exec(select(Voucher).where(Voucher.order_id == order.order_id)).one()
    assert voucher.value_cents == POLICY.fulfilment.voucher_cents
    assert voucher.code in body
    await send(handle, shipment.shipment_id, "delivered")
    assert (await handle.result()).status == OrderStatus.COMPLETED
    delays = [m for m in inbox.for_order(order.order_id) if "verspätet" in str(m["Subject"])]
    assert len(delays) == 1  # delivered late too, but told and compensated once


async def test_express_delivered_late_refunds_the_fee_against_the_capture(
    skipping: Skipping, inbox: Inbox
) -> None:
    env, settings = skipping
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 2}, price_cents=4000)
    handle, order = await start(env, settings, [(sku, 1)], shipping_speed="express")
    state = await until(handle, _released)
    [shipment] = state.shipments
    await send(handle, shipment.shipment_id, "accepted", "shipped")  # on time: captured
    assert shipment.deliver_by is not None
    await env.sleep(shipment.deliver_by - (await env.get_current_time()) + timedelta(hours=1))
    await wait_for_subject(
        inbox, order.order_id, f"Ihre Bestellung {order.order_id} verspätet sich"
    )
    await send(handle, shipment.shipment_id, "delivered")
    assert (await handle.result()).status == OrderStatus.COMPLETED
    money = amounts(settings.database_url, order.order_id)
    fee_back = POLICY.shipping_fee_cents["express"] - POLICY.shipping_fee_cents["standard"]
    assert money["capture"] == 4000 + 995 and money["refund"] == fee_back
    assert "void" not in money
    with session_scope(settings.database_url) as s:
        docs = {
            d.kind: d for d in s.exec(select(Invoice).where(Invoice.order_id == order.order_id))
        }
    # the fee given back is corrected on a credit note against the invoice that charged it
    assert docs["credit_note"].refers_to == docs["invoice"].number
    assert docs["credit_note"].total_gross_cents == fee_back
    assert docs["invoice"].total_gross_cents == money["capture"]


async def test_lost_parcel_is_replaced_free_of_charge(skipping: Skipping, inbox: Inbox) -> None:
    env, settings = skipping
    wh = warehouses(settings.database_url)
    sku = make_sku(settings.database_url, {wh[0]: 1, wh[1]: 1}, price_cents=2200)
    handle, order = await start(env, settings, [(sku, 1)])
    state = await until(handle, _released)
    [lost] = state.shipments
    await send(handle, lost.shipment_id, "accepted", "shipped")
    await send(handle, lost.shipment_id, "exception", exception="lost")
    state = await until(handle, lambda s: len(s.shipments) == 2)
    [replacement] = [s for s in state.shipments if s.shipment_id != lost.shipment_id]
    assert state.shipment_status[lost.shipment_id] == "lost"
    assert replacement.goods_cents == 0 and replacement.location_id != lost.location_id
    await wait_for_subject(inbox, order.order_id, f"Ihre Bestellung {order.order_id} verspätet")
    await send(handle, replacement.shipment_id, "accepted", "shipped", "delivered")
    assert (await handle.result()).status == OrderStatus.COMPLETED
    money = amounts(settings.database_url, order.order_id)
    assert money["capture"] == 2200 + 495 and money.get("void", 0) == 0
    assert stock_of(settings.database_url, replacement.location_id, sku) == (0, 0)
    await keep(env.client, handle.id, "lost_parcel_replaced")


async def test_pickup_window_expiry_cancels_restocks_and_voids(
    skipping: Skipping, inbox: Inbox
) -> None:
    """Goods transferred into the pickup store that nobody collects become store stock."""
    env, settings = skipping
    with session_scope(settings.database_url) as s:
        store = s.exec(
            select(Location)
            .where(Location.kind == "store", Location.pickup_point == True)  # noqa: E712
            .order_by(Location.id)
        ).first()
        assert store is not None
        store_id = store.id
    wh = warehouses(settings.database_url)[0]
    sku = make_sku(settings.database_url, {wh: 3}, price_cents=1800)
    handle, order = await start(env, settings, [(sku, 2)], pickup_store_id=store_id)
    state = await until(handle, _released)
    [transfer] = state.shipments
    assert transfer.transfer_to == store_id and transfer.location_id == wh
    await send(handle, transfer.shipment_id, "accepted", "shipped", "delivered")
    state = await until(handle, lambda s: s.status == OrderStatus.READY_FOR_PICKUP)
    ready = await wait_for_subject(
        inbox, order.order_id, f"Ihre Bestellung {order.order_id} liegt zur Abholung bereit"
    )
    assert (
        "Ihr Abholcode:"
        in ready.get_body(  # type: ignore[union-attr]
            preferencelist=("plain",)
        ).get_content()
    )

    result = await handle.result()  # nobody comes: the window runs out
    assert result.status == OrderStatus.CANCELLED
    subjects = [str(m["Subject"]) for m in inbox.for_order(order.order_id)]
    assert f"Erinnerung: Ihre Bestellung {order.order_id} wartet auf Sie" in subjects
    assert f"Ihre Bestellung {order.order_id} wurde storniert" in subjects
    assert stock_of(settings.database_url, store_id, sku) == (2, 0)  # restocked in the store
    assert stock_of(settings.database_url, wh, sku) == (1, 0)  # left the warehouse
    money = amounts(settings.database_url, order.order_id)
    assert money["authorise"] == 3600 and money["void"] == 3600 and "capture" not in money
    assert not active_reservations(settings.database_url, order.order_id)
    await keep(env.client, handle.id, "pickup_expired_restocked")


async def test_reserve_and_collect_is_paid_in_store_with_the_right_code(
    skipping: Skipping, inbox: Inbox
) -> None:
    env, settings = skipping
    with session_scope(settings.database_url) as s:
        store_id = s.exec(
            select(Location.id)
            .where(Location.kind == "store", Location.pickup_point == True)  # noqa: E712
            .order_by(Location.id.desc())
        ).first()  # type: ignore[union-attr]
    assert store_id is not None
    sku = make_sku(settings.database_url, {store_id: 2}, price_cents=2500)
    handle, order = await start(
        env, settings, [(sku, 1)], pickup_store_id=store_id, payment_method="cash_on_pickup"
    )
    state = await until(handle, _released)
    [shelf] = state.shipments
    assert shelf.from_shelf and shelf.location_id == store_id
    await send(handle, shelf.shipment_id, "accepted", "picked", "packed")
    await until(handle, lambda s: s.status == OrderStatus.READY_FOR_PICKUP)
    mail = await wait_for_subject(
        inbox, order.order_id, f"Ihre Bestellung {order.order_id} liegt zur Abholung bereit"
    )
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    code = text.split("Ihr Abholcode: ")[1][:6]
    assert "Zu zahlen bei Abholung: 25,00 €" in text

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for bad in (
        PickupConfirmation(location_id=store_id, code=wrong, staff="kasse-1"),
        PickupConfirmation(location_id="WH-HAMBURG", code=code, staff="kasse-1"),
    ):
        try:
            await handle.execute_update(OrderWorkflow.confirm_pickup, bad)
        except Exception as exc:  # noqa: BLE001 - the update is refused
            assert "code" in str(exc.__cause__) or "store" in str(exc.__cause__)
        else:
            raise AssertionError("a wrong code or store was accepted")
    await handle.execute_update(
        OrderWorkflow.confirm_pickup,
        PickupConfirmation(location_id=store_id, code=code, staff="kasse-1"),
    )
    assert (await handle.result()).status == OrderStatus.COMPLETED
    assert stock_of(settings.database_url, store_id, sku) == (1, 0)
    assert amounts(settings.database_url, order.order_id) == {"incoming": 2500}
    with session_scope(settings.database_url) as s:
        (invoice,) = s.exec(select(Invoice).where(Invoice.order_id == order.order_id)).all()
    assert (invoice.shipment_id, invoice.total_gross_cents) == (None, 2500)  # handed over: one
    await keep(env.client, handle.id, "reserve_and_collect_paid_in_store")


async def test_store_delay_notice_names_the_store_and_a_reroute_keeps_its_date_honest(
    skipping: Skipping, inbox: Inbox
) -> None:
    """A store's parcel that did not leave: the notice says the store (not "our warehouse");
    the re-route that follows tells the customer its date whenever it differs from the date
    the notice gave (the customer holds that one), and says nothing when it is the same."""
    env, settings = skipping
    url = settings.database_url
    with session_scope(url) as s:
        store = s.get(Location, "ST-DRESDEN")  # a demo store that ships to customers
    assert store is not None and store.kind == "store"
    sku = make_sku(url, {store.id: 10})  # a store keeps a few units for walk-in customers
    handle, order = await start(env, settings, [(sku, 1)])
    state = await until(handle, _released)
    [shipment] = state.shipments
    assert shipment.location_id == store.id and shipment.ship_by is not None
    await send(handle, shipment.shipment_id, "accepted")
    await env.sleep(shipment.ship_by - (await env.get_current_time()) + timedelta(minutes=5))
    notice = await wait_for_subject(
        inbox, order.order_id, f"Ihre Bestellung {order.order_id} verspätet sich"
    )
    text = notice.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert f"hat unsere Filiale ({store.name}) nicht wie versprochen verlassen" in text
    assert "Lager" not in text
    estimate = (shipment.promised_delivery + timedelta(days=2)).isoformat()
    assert local_date(estimate) in text

    with session_scope(url) as s:  # stock elsewhere, so the re-route finds a way
        s.add(Stock(location_id=warehouses(url)[0], sku=sku, on_hand=2))
    await env.sleep(POLICY.fulfilment.reroute_unshipped_after + timedelta(minutes=5))
    state = await until(handle, lambda s: s.shipment_status.get(shipment.shipment_id) == "rerouted")
    [moved] = [p for p in state.shipments if p.shipment_id != shipment.shipment_id]
    new = moved.promised_delivery.isoformat()
    if new == estimate:  # what the customer was told still holds: no news
        await asyncio.sleep(2)  # real time: the e-mail activity would have run by now
        news = [m for m in inbox.for_order(order.order_id) if "Neuer Liefertermin" in m["Subject"]]
        assert not news
    else:
        update = await wait_for_subject(
            inbox, order.order_id, f"Neuer Liefertermin für Ihre Bestellung {order.order_id}"
        )
        body = update.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert f"bisher {local_date(estimate)}" in body and local_date(new) in body
