"""The shop's money, over HTTP, to the cent: a sale price on one line and a 10 % coupon, two
parcels, a line partly cancelled before it shipped, one unit returned. What was captured,
voided and refunded, the invoices and the credit note all add up; VAT per rate is right."""

from __future__ import annotations

import uuid
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
from sqlmodel import select

from core.db.engine import session_scope
from core.db.schema import Invoice, PaymentTransaction, Sku, Stock
from core.rules.vat import round_half_up
from core.settings import Settings
from tests.support.catalogue import warehouses
from tests.support.orders import order_request, post_event, wait_for_event, wait_for_status
from tests.support.returns import receive_and_inspect, request_return

AGENT = {"agent": "cs-test", "reason": "customer asked"}


def _sku(url: str, location_id: str, price_cents: int, vat_class: str) -> str:
    sku = f"SM-{uuid.uuid4().hex[:8]}"
    with session_scope(url) as s:
        s.add(Sku(sku=sku, name=f"Artikel {sku}", price_cents=price_cents, weight_kg=1.0,
                  vat_class=vat_class))  # fmt: skip
        s.flush()
        s.add(Stock(location_id=location_id, sku=sku, on_hand=10))
    return sku


def _money(url: str, order_id: str) -> dict[str, int]:
    with session_scope(url) as s:
        rows = s.exec(
            select(PaymentTransaction).where(
                PaymentTransaction.order_id == order_id, PaymentTransaction.status == "succeeded"
            )
        ).all()
    out: dict[str, int] = {}
    for t in rows:
        out[t.kind] = out.get(t.kind, 0) + t.amount_cents
    return out


def _documents(url: str, order_id: str) -> list[Invoice]:
    with session_scope(url) as s:
        return list(s.exec(select(Invoice).where(Invoice.order_id == order_id)).all())


def _vat_ok(doc: Invoice) -> None:
    """Net + VAT = gross per rate, and VAT is each line's share rounded half up."""
    for total in doc.totals:
        rate = Decimal(str(total["vat_rate"]))
        lines = [ln for ln in doc.lines if Decimal(str(ln["vat_rate"])) == rate]
        expected_vat = sum(
            round_half_up(Fraction(ln["gross_cents"]) * Fraction(rate) / (100 + Fraction(rate)))
            for ln in lines
        )
        assert total["vat_cents"] == expected_vat, (doc.number, total)
        assert total["net_cents"] + total["vat_cents"] == total["gross_cents"]
        assert total["gross_cents"] == sum(ln["gross_cents"] for ln in lines)


async def test_coupon_sale_price_two_parcels_partial_cancel_and_a_return(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    north, south = warehouses(url)[:2]
    shirt = _sku(url, north, 1999, "standard")  # list 19.99, the shop sells it at 17.99
    book = _sku(url, south, 5000, "reduced")  # 50.00 at 7 %
    coupon = (3 * 1799 + 5000) // 10  # 10 % of the goods, as the shop computed it: 10.39
    body = order_request(lines=[(shirt, 3), (book, 1)])
    body["lines"][0]["unit_price_cents"] = 1799
    body["discounts"] = [{"code": "WINTER10", "amount_cents": coupon}]
    oid = body["order_id"]
    r = await api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    order = await wait_for_status(api, oid, {"in_fulfilment"})

    # the coupon is spread over the lines to the cent; the shirts' 48.58 split 16.19 + 16.19
    # + 16.20, so every unit has a price a cancel or a return can give back exactly
    lines = {(ln["sku"], ln["unit_price_cents"]): ln for ln in order["lines"]}
    assert {k: ln["quantity"] for k, ln in lines.items()} == {
        (shirt, 1619): 2,
        (shirt, 1620): 1,
        (book, 4500): 1,
    }
    shipping = order["total_cents"] - (3 * 1799 + 5000 - coupon)
    assert shipping == 495  # the policy's standard fee: the shop sent none
    assert {s["location_id"] for s in order["shipments"]} == {north, south}

    # one of the 16.19 shirts is cancelled before its parcel ships
    cheap = lines[(shirt, 1619)]["line_id"]
    r = await api.post(
        f"/orders/{oid}/cancel-lines",
        json={**AGENT, "lines": [{"line_id": cheap, "quantity": 1}]},
    )
    assert r.status_code == 200, r.text
    order = (await api.get(f"/orders/{oid}")).json()
    for sh in order["shipments"]:
        if sh["status"] == "released":
            await post_event(api, sh["shipment_id"], "shipped")
            await wait_for_event(api, oid, f"shipped_{sh['shipment_id']}")
    for sh in order["shipments"]:
        if sh["status"] == "released":
            await post_event(api, sh["shipment_id"], "delivered")
    order = await wait_for_status(api, oid, {"completed"})
    paid = 1619 + 1620 + 4500 + shipping

    # one 16.20 shirt comes back
    dear = lines[(shirt, 1620)]["line_id"]
    r = await request_return(api, oid, (dear, 1, "wrong_size"))
    assert r.status_code == 201, r.text
    [ret] = r.json()["returns"]
    done = await receive_and_inspect(api, ret, north, sellable=True)
    refunded = done["refunded_cents"]
    assert refunded >= 1620

    money = _money(url, oid)
    assert money["authorise"] == 2 * 1619 + 1620 + 4500 + shipping
    assert money["capture"] == paid
    assert money["void"] == 1619  # the cancelled unit, exactly what it cost
    assert money["refund"] == refunded

    docs = _documents(url, oid)
    invoices = sorted((d for d in docs if d.kind == "invoice"), key=lambda d: d.number)
    (note,) = [d for d in docs if d.kind == "credit_note"]
    assert sum(i.total_gross_cents for i in invoices) == money["capture"]
    assert note.total_gross_cents == money["refund"]
    assert note.refers_to in {i.number for i in invoices}
    numbers = [int(i.number.rsplit("-", 1)[1]) for i in invoices]
    assert numbers[1] == numbers[0] + 1  # shipped one after the other: consecutive
    for doc in [*invoices, note]:
        _vat_ok(doc)
    # after the cancel the book (45.00) is the larger share of the goods, so the shipping fee
    # is taxed at its 7 %: 45.00 + 4.95 = 49.95 gross, VAT 2.94 + 0.32 per line
    rates: dict[Decimal, dict[str, int]] = {}
    for t in (t for i in invoices for t in i.totals):  # both invoices, summed per rate
        acc = rates.setdefault(Decimal(str(t["vat_rate"])), dict.fromkeys(t, 0))
        for k in ("net_cents", "vat_cents", "gross_cents"):
            acc[k] += t[k]
    assert rates[Decimal(7)]["gross_cents"] == 4500 + shipping
    assert (rates[Decimal(7)]["net_cents"], rates[Decimal(7)]["vat_cents"]) == (4669, 326)
    assert rates[Decimal(19)]["gross_cents"] == 1619 + 1620
    view: dict[str, Any] = (await api.get(f"/orders/{oid}")).json()
    assert {i["number"] for i in view["invoices"]} == {d.number for d in docs}
    # the order's own VAT view: what it stands at after the cancel (the return is a credit)
    vat = {Decimal(v["vat_rate"]): v for v in view["vat"]}
    assert sum(v["gross_cents"] for v in view["vat"]) == view["total_cents"] == paid
    assert (vat[Decimal(7)]["net_cents"], vat[Decimal(7)]["vat_cents"]) == (4669, 326)
    assert all(v["net_cents"] + v["vat_cents"] == v["gross_cents"] for v in view["vat"])
