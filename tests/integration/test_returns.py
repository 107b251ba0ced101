"""Returns on the real engine (Temporal dev server, PostgreSQL, SMTP, the HTTP API): routed by
the rule, restocked exactly where they arrive or written off, refunded to the cent, refused
with a reason when they cannot be accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import func, select
from temporalio.client import Client

from activities.stock import ledger
from core.db.engine import session_scope
from core.db.schema import ReturnRecord
from core.policy import ReturnPolicy
from core.settings import Settings
from tests.support.catalogue import make_sku, stock_of
from tests.support.histories import keep
from tests.support.orders import order_request, post_event, wait_for_status
from tests.support.returns import (
    captures,
    delivered_order,
    movements,
    receive_and_inspect,
    refunds,
    request_return,
    wait_return,
    warehouse_in,
)
from tests.support.smtp import Inbox, text_of, wait_for_subject

POLICY = ReturnPolicy()


async def test_mail_return_goes_where_the_item_is_needed_and_is_restocked_there(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    url = settings.database_url
    dortmund, hamburg, munich = (warehouse_in(url, c) for c in ("Dortmund", "Hamburg", "München"))
    # Dortmund is nearest to the customer in Köln and ships the order; Hamburg is nearly out
    # of the item (1 unit: 28 days of cover at the floor demand of 1 unit per 28 days), so
    # it needs the returned unit most. Munich has as little demand but plenty of stock.
    sku = make_sku(url, {dortmund: 30, hamburg: 1, munich: 30}, price_cents=2500)
    ledger.open_balances(url)  # the test's stock enters the ledger like any opening balance
    order = await delivered_order(api, [(sku, 1)])
    oid = order["order_id"]
    assert order["shipments"][0]["location_id"] == dortmund

    r = await request_return(api, oid, ("L1", 1, "wrong_size"))
    assert r.status_code == 201, r.text
    [ret] = r.json()["returns"]
    assert ret["destination"]["location_id"] == hamburg, ret["destination"]
    assert ret["destination"]["days_of_cover"] == 28.0
    assert ret["refund_cents"] == 2500 + 495  # the whole order comes back: shipping too

    mail = await wait_for_subject(inbox, oid, f"Ihre Retoure {ret['return_id']}")
    assert ret["label_url"] in text_of(mail) and "Lager Hamburg" in text_of(mail)

    done = await receive_and_inspect(api, ret, hamburg, sellable=True)
    assert done["refunded_cents"] == 2995 and done["arrived_at_location"] == hamburg
    assert stock_of(url, hamburg, sku) == (2, 0)  # restocked where it arrived
    arrived = text_of(
        await wait_for_subject(inbox, oid, f"Ihre Retoure {ret['return_id']} ist angekommen")
    )
    assert "angekommen: Lager Hamburg." in arrived and hamburg not in arrived  # name, not code
    assert stock_of(url, dortmund, sku) == (29, 0)
    assert movements(url, f"return:{ret['return_id']}") == [(hamburg, sku, "return", 1)]
    with session_scope(url) as s:
        assert ledger.explain(s, hamburg, sku).explained  # type: ignore[union-attr]
    [refund] = refunds(url, oid)
    [capture] = captures(url, oid)
    assert (refund.amount_cents, refund.parent_id) == (2995, capture.id)
    await wait_for_subject(inbox, oid, f"Erstattung zu Ihrer Retoure {ret['return_id']}")
    events = {e["type"] for e in (await api.get(f"/orders/{oid}")).json()["events"]}
    assert {
        "return_requested",
        "return_label_issued",
        "return_in_transit",
        "return_received",
        "return_inspected",
        "return_refunded",
        "return_closed",
    } <= events


async def test_defective_item_goes_to_the_returns_centre_and_is_written_off(
    api: httpx.AsyncClient, settings: Settings, temporal_client: Client, inbox: Inbox
) -> None:
    url = settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 5}, price_cents=4999)
    order = await delivered_order(api, [(sku, 2)])
    oid = order["order_id"]

    r = await request_return(api, oid, ("L1", 1, "defective"))
    assert r.status_code == 201, r.text
    [ret] = r.json()["returns"]
    centre = POLICY.returns_centre_id
    assert ret["destination"]["location_id"] == centre
    assert ret["refund_cents"] == 4999  # one of two units: no shipping share

    done = await receive_and_inspect(api, ret, centre, sellable=False)
    assert done["refunded_cents"] == 4999
    rid = ret["return_id"]
    assert movements(url, f"return:{rid}") == [
        (centre, sku, "return", 1),
        (centre, sku, "adjustment", -1),
    ]
    assert stock_of(url, centre, sku) == (0, 0)  # written off: nothing to sell or route
    with session_scope(url) as s:
        assert ledger.explain(s, centre, sku).explained  # type: ignore[union-attr]
    assert [t.amount_cents for t in refunds(url, oid)] == [4999]
    mails = [str(m["Subject"]) for m in inbox.for_order(oid) if rid in str(m["Subject"])]
    assert len(mails) == 3  # label, received, refunded: each once
    handle = temporal_client.get_workflow_handle(f"return-{rid}")
    await handle.result()
    await keep(temporal_client, handle.id, "return_defective_written_off")


async def test_refunds_are_exact_to_the_cent_and_shipping_comes_back_with_the_last_item(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    dortmund = warehouse_in(url, "Dortmund")
    shirt = make_sku(url, {dortmund: 10}, price_cents=1999)
    shoe = make_sku(url, {dortmund: 10}, price_cents=3333)
    order = await delivered_order(api, [(shirt, 2), (shoe, 1)])
    oid = order["order_id"]
    assert order["total_cents"] == 2 * 1999 + 3333 + 495

    r = await request_return(api, oid, ("L1", 1, "wrong_size"))
    [first] = r.json()["returns"]
    assert (first["goods_cents"], first["shipping_refund_cents"]) == (1999, 0)
    r = await request_return(api, oid, ("L1", 1, "changed_mind"), ("L2", 1, "wrong_size"))
    [second] = r.json()["returns"]
    assert (second["goods_cents"], second["shipping_refund_cents"]) == (1999 + 3333, 495)

    for ret in (first, second):
        await receive_and_inspect(api, ret, ret["destination"]["location_id"], sellable=True)
    paid = refunds(url, oid)
    assert [t.amount_cents for t in paid] == [1999, 5827]
    assert sum(t.amount_cents for t in paid) == sum(t.amount_cents for t in captures(url, oid))
    assert {t.idempotency_key for t in paid} == {
        f"{oid}:return:{first['return_id']}",
        f"{oid}:return:{second['return_id']}",
    }


async def test_returns_that_cannot_be_accepted_are_refused_with_a_reason(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    dortmund = warehouse_in(url, "Dortmund")
    sku = make_sku(url, {dortmund: 10}, price_cents=1500)
    past = (datetime.now(UTC) - POLICY.window - timedelta(days=2)).isoformat()
    late = await delivered_order(api, [(sku, 1)], delivered_at=past)
    fresh = await delivered_order(api, [(sku, 2)])

    def count(order_id: str) -> int:
        with session_scope(url) as s:
            return s.exec(
                select(func.count())
                .select_from(ReturnRecord)
                .where(ReturnRecord.order_id == order_id)
            ).one()

    r = await request_return(api, late["order_id"], ("L1", 1, "wrong_size"))
    assert r.status_code == 422
    [err] = r.json()["detail"]
    assert err["loc"] == ["body", "lines", 0, "line_id"] and "return window" in err["msg"]

    r = await request_return(api, fresh["order_id"], ("L1", 3, "wrong_size"))
    assert r.status_code == 422
    [err] = r.json()["detail"]
    assert err["loc"] == ["body", "lines", 0, "quantity"]
    assert "only 2 unit(s)" in err["msg"] and "delivered 2" in err["msg"]

    assert (
        await request_return(api, fresh["order_id"], ("L1", 2, "wrong_size"))
    ).status_code == 201
    r = await request_return(api, fresh["order_id"], ("L1", 1, "wrong_size"))
    assert r.status_code == 422 and "already returned 2" in r.json()["detail"][0]["msg"]
    r = await request_return(api, fresh["order_id"], ("L9", 1, "wrong_size"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "line_id"
    assert (count(late["order_id"]), count(fresh["order_id"])) == (0, 1)

    body = order_request(lines=[(sku, 1)])  # shipped, not delivered yet
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, body["order_id"], {"in_fulfilment"})
    await post_event(api, order["shipments"][0]["shipment_id"], "shipped")
    await wait_for_status(api, body["order_id"], {"shipped"})
    r = await request_return(api, body["order_id"], ("L1", 1, "wrong_size"))
    assert r.status_code == 422 and "not been delivered" in r.json()["detail"][0]["msg"]
    assert count(body["order_id"]) == 0
    assert (await request_return(api, "NO-SUCH-ORDER", ("L1", 1, "other"))).status_code == 404


async def test_return_webhook_names_bad_fields(api: httpx.AsyncClient, settings: Settings) -> None:
    url = settings.database_url
    sku = make_sku(url, {warehouse_in(url, "Dortmund"): 3})
    order = await delivered_order(api, [(sku, 1)])
    [ret] = (await request_return(api, order["order_id"], ("L1", 1, "other"))).json()["returns"]
    rid = ret["return_id"]
    r = await api.post("/webhooks/returns", json={"return_id": rid, "event": "received"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "location_id"]
    r = await api.post(
        "/webhooks/returns", json={"return_id": rid, "event": "received", "location_id": "NOWHERE"}
    )
    assert r.status_code == 422
    r = await api.post(
        "/webhooks/returns",
        json={
            "return_id": rid,
            "event": "inspected",
            "lines": [{"line_id": "L7", "sellable": True}],
        },
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "lines"]
    r = await api.post(
        "/webhooks/returns",
        json={"return_id": "R-NONE-1", "event": "received", "location_id": "RC-KASSEL"},
    )
    assert r.status_code == 404
    assert (await wait_return(api, rid, {"label_issued"}))["status"] == "label_issued"
