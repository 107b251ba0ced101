"""Each parcel shipped to the customer gets its invoice, issued by the order workflow: one per
parcel, for exactly what that parcel's capture took (goods, and the shipping fee with the
first), VAT per the catalogue class each line was sold with, the PDF stored with it."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import httpx
from facturx import get_xml_from_pdf
from sqlmodel import select
from temporalio.client import Client

from activities.billing.facturx import check
from api.app import create_app
from core.db.engine import session_scope
from core.db.schema import Invoice, PaymentTransaction, Sku, Stock
from core.settings import Settings
from tests.support.auth import client_for
from tests.support.catalogue import warehouses
from tests.support.orders import order_request, post_event, wait_for_event, wait_for_status
from tests.support.policies import policy_file
from tests.support.returns import (
    delivered_order,
    receive_and_inspect,
    request_return,
    warehouse_in,
)
from tests.support.smtp import Inbox, text_of


def _shipping_mails(inbox: Inbox, order_id: str) -> list[EmailMessage]:
    return [m for m in inbox.for_order(order_id) if "unterwegs" in str(m["Subject"])]


def _sku(url: str, location_id: str, price_cents: int, vat_class: str) -> str:
    """A SKU stocked at one location only, so two of them make two parcels."""
    sku = f"INV-{uuid.uuid4().hex[:8]}"
    with session_scope(url) as s:
        s.add(Sku(sku=sku, name=f"Rechnungsartikel {sku}", price_cents=price_cents,
                  weight_kg=1.0, vat_class=vat_class))  # fmt: skip
        s.flush()
        s.add(Stock(location_id=location_id, sku=sku, on_hand=5))
    return sku


async def test_each_shipped_parcel_gets_its_invoice(
    api: httpx.AsyncClient, settings: Settings, inbox: Inbox
) -> None:
    url = settings.database_url
    first, second = warehouses(url)[:2]
    shirt = _sku(url, first, 11900, "standard")  # 119,00 EUR = 100,00 net + 19,00 VAT
    book = _sku(url, second, 1070, "reduced")  # 10,70 EUR = 10,00 net + 0,70 VAT
    body = order_request(lines=[(shirt, 1), (book, 1)])
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    parcels = {s["location_id"]: s["shipment_id"] for s in order["shipments"]}
    assert set(parcels) == {first, second}, order["shipments"]

    for sid in (parcels[first], parcels[second]):
        await post_event(api, sid, "shipped")
        await wait_for_event(api, order_id, f"shipped_{sid}")
    with session_scope(url) as s:
        invoices = {
            i.shipment_id: i
            for i in s.exec(select(Invoice).where(Invoice.order_id == order_id)).all()
        }
        captures = {
            t.idempotency_key.rsplit(":", 1)[1]: t.amount_cents  # <order>:capture:<shipment>
            for t in s.exec(
                select(PaymentTransaction).where(
                    PaymentTransaction.order_id == order_id,
                    PaymentTransaction.kind == "capture",
                    PaymentTransaction.status == "succeeded",
                )
            ).all()
        }
    assert set(invoices) == set(parcels.values())
    assert {sid: i.total_gross_cents for sid, i in invoices.items()} == captures
    assert sum(captures.values()) == order["total_cents"]  # goods + shipping, to the cent

    shirt_invoice, book_invoice = invoices[parcels[first]], invoices[parcels[second]]
    assert shirt_invoice.number != book_invoice.number
    assert shirt_invoice.number.startswith("RE-") and shirt_invoice.kind == "invoice"
    rates = {Decimal(str(t["vat_rate"])): t for t in shirt_invoice.totals}
    shipping = order["total_cents"] - 11900 - 1070
    assert shipping > 0  # the policy charges a fee: the first parcel carries it
    standard = rates[Decimal(19)]
    assert standard["gross_cents"] == 11900 + shipping  # the fee came with the first parcel
    assert standard["net_cents"] + standard["vat_cents"] == standard["gross_cents"]
    (reduced,) = book_invoice.totals
    assert (Decimal(str(reduced["vat_rate"])), reduced["net_cents"], reduced["vat_cents"]) == (
        Decimal(7),
        1000,
        70,
    )
    assert shirt_invoice.buyer["name"] == "Erika Mustermann"
    assert shirt_invoice.pdf is not None
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=shirt_invoice.pdf, capture_output=True, check=True
    ).stdout.decode()
    assert shirt_invoice.number in text and "DE123456788" in text

    # each shipping e-mail carries its parcel's invoice, byte for byte as stored
    deadline = time.monotonic() + 20
    while len(mails := _shipping_mails(inbox, order_id)) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    attached = {
        part.get_filename(): part.get_content() for m in mails for part in m.iter_attachments()
    }
    assert attached == {f"{i.number}.pdf": i.pdf for i in invoices.values()}
    assert all("im Anhang" in text_of(m) for m in mails)


async def test_a_refunded_return_is_reversed_on_a_credit_note(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    dortmund = warehouse_in(url, "Dortmund")
    book = _sku(url, dortmund, 1070, "reduced")
    order = await delivered_order(api, [(book, 2)])
    oid = order["order_id"]
    r = await request_return(api, oid, ("L1", 1, "wrong_size"))
    assert r.status_code == 201, r.text
    [ret] = r.json()["returns"]
    done = await receive_and_inspect(api, ret, dortmund, sellable=True)
    with session_scope(url) as s:
        docs = s.exec(select(Invoice).where(Invoice.order_id == oid)).all()
    (invoice,) = [d for d in docs if d.kind == "invoice"]
    (note,) = [d for d in docs if d.kind == "credit_note"]
    assert note.number.startswith("GS-") and note.refers_to == invoice.number
    assert note.total_gross_cents == done["refunded_cents"]  # the refund, to the cent
    goods = [ln for ln in note.lines if ln["sku"] == book]
    assert [(ln["quantity"], ln["gross_cents"], ln["vat_cents"]) for ln in goods] == [(1, 1070, 70)]
    assert note.pdf is not None
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=note.pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "Gutschrift" in text and invoice.number in text


async def test_a_business_customer_gets_a_factur_x_e_invoice(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    shirt = _sku(url, warehouses(url)[0], 11900, "standard")
    body = order_request(lines=[(shirt, 2)])
    body["customer"]["vat_id"] = "DE 811 000 004"
    order_id = body["order_id"]
    r = await api.post("/orders", json=body)
    assert r.status_code == 202, r.text
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    (parcel,) = order["shipments"]
    await post_event(api, parcel["shipment_id"], "shipped")
    await wait_for_event(api, order_id, f"shipped_{parcel['shipment_id']}")
    with session_scope(url) as s:
        invoice = s.exec(select(Invoice).where(Invoice.order_id == order_id)).one()
    assert invoice.buyer["vat_id"] == "DE811000004" and invoice.pdf is not None
    name, xml = get_xml_from_pdf(invoice.pdf, check_xsd=False)
    assert name == "factur-x.xml"
    check(xml)  # EN 16931 schema and the rules an XSD cannot see
    assert b"DE811000004" in xml and invoice.number.encode() in xml


async def test_a_bad_vat_id_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    body = order_request()
    body["customer"]["vat_id"] = "DE123456789"  # wrong check digit
    r = await api.post("/orders", json=body)
    assert r.status_code == 422, r.text
    assert any(e["loc"][-2:] == ["customer", "vat_id"] for e in r.json()["detail"]), r.text


async def test_a_parcel_returned_undelivered_gets_a_credit_note(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    url = settings.database_url
    book = _sku(url, warehouses(url)[0], 1070, "reduced")
    body = order_request(lines=[(book, 3)])
    order_id = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    (parcel,) = order["shipments"]
    sid = parcel["shipment_id"]
    await post_event(api, sid, "shipped")
    await post_event(api, sid, "exception", exception="returned_to_sender")
    await wait_for_event(api, order_id, f"returned_{sid}")
    with session_scope(url) as s:
        docs = {d.kind: d for d in s.exec(select(Invoice).where(Invoice.order_id == order_id))}
        refunds = s.exec(
            select(PaymentTransaction).where(
                PaymentTransaction.order_id == order_id, PaymentTransaction.kind == "refund"
            )
        ).all()
    note, invoice = docs["credit_note"], docs["invoice"]
    assert note.refers_to == invoice.number and note.shipment_id == sid
    assert note.total_gross_cents == 3 * 1070 == sum(r.amount_cents for r in refunds)
    ((total),) = note.totals
    assert (total["net_cents"], total["vat_cents"]) == (3000, 210)  # per line: 3 x 10,70


async def test_one_invoice_per_order_by_policy(
    settings: Settings, temporal_client: Client, worker: None, tmp_path: Path
) -> None:
    policy = policy_file(tmp_path, '[billing]\ninvoice_per = "order"\n')
    own = settings.model_copy(update={"policy_file": policy})
    url = own.database_url
    first, second = warehouses(url)[:2]
    shirt, book = _sku(url, first, 11900, "standard"), _sku(url, second, 1070, "reduced")
    body = order_request(lines=[(shirt, 1), (book, 1)])
    order_id = body["order_id"]
    async with client_for(create_app(own, temporal_client), own) as api:
        assert (await api.post("/orders", json=body)).status_code == 202
        order = await wait_for_status(api, order_id, {"in_fulfilment"})
        (one, two) = [s["shipment_id"] for s in order["shipments"]]
        await post_event(api, one, "shipped")
        await wait_for_event(api, order_id, f"shipped_{one}")
        assert _invoices_of(url, order_id) == []  # not before the last parcel
        await post_event(api, two, "shipped")
        await wait_for_event(api, order_id, f"shipped_{two}")
    (invoice,) = _invoices_of(url, order_id)
    assert invoice.shipment_id is None and invoice.total_gross_cents == order["total_cents"]
    assert {Decimal(str(t["vat_rate"])) for t in invoice.totals} == {Decimal(19), Decimal(7)}


def _invoices_of(url: str, order_id: str) -> list[Invoice]:
    with session_scope(url) as s:
        return list(s.exec(select(Invoice).where(Invoice.order_id == order_id)).all())
