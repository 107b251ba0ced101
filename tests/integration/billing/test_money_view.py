"""The money of an order where people look for it: ``GET /orders/{id}`` lists the payment
ledger and the invoices, staff download an invoice's PDF, and the customer downloads it from the
self-service page with the order's signed token, which opens no other order's documents.

The order is placed and shipped over HTTP on the session's worker; the invoice is issued
directly with ``numbers.issue`` and its PDF attached, in a series of its own so the shared
database's real series stay untouched; documents the workflow may issue for the parcels are
listed too and left alone here. Every role may read
orders (``ORDER_READERS``), so there is no "shop key without the reader role" to refuse; what
is confined is a location key, which sees only orders routed to its location.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from activities.billing import numbers
from activities.billing.document import InvoiceDocument, InvoiceDraft, Issuer, Item, Party
from activities.billing.pdf import render
from core.db.schema import Invoice
from core.domain.events import step_key
from core.order_tokens import order_token
from core.rules.vat import rate_for
from core.settings import Settings
from tests.support.orders import order_request, post_event, wait_for_status
from tests.support.portal import portal_key


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return re.sub(r"[ \u00a0]+", " ", out)


async def shipped_and_captured(api: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    """Ship every parcel, then wait until the captures add up to the order's total."""
    order = await wait_for_status(api, order_id, {"in_fulfilment"})
    for sh in order["shipments"]:
        await post_event(api, sh["shipment_id"], "shipped")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        order = (await api.get(f"/orders/{order_id}")).json()
        captured = sum(
            p["amount_cents"]
            for p in order["payments"]
            if p["kind"] == "capture" and p["succeeded"]
        )
        if order["status"] in ("shipped", "completed") and captured == order["total_cents"]:
            return order
        await asyncio.sleep(0.2)
    raise AssertionError(f"{order_id} never captured its total: {order['payments']}")


def issue_documents(
    settings: Settings, order: dict[str, Any], issuer: Issuer
) -> tuple[Invoice, bytes, Invoice]:
    """An invoice over the whole order (goods and shipping) with its PDF attached, and a
    credit note correcting one line whose PDF is not rendered yet."""
    url, order_id, today = settings.database_url, order["order_id"], date.today()
    items = [
        Item(
            sku=ln["sku"],
            name=ln["name"],
            quantity=ln["quantity"],
            unit_gross_cents=ln["unit_price_cents"],
            vat_rate=rate_for(ln["vat_class"], settings.vat_rates),
        )
        for ln in order["lines"]
    ]
    shipping = order["total_cents"] - sum(i.unit_gross_cents * i.quantity for i in items)
    if shipping:
        rate = rate_for("standard", settings.vat_rates)
        items.append(
            Item(
                sku="VERSAND", name="Versand", quantity=1, unit_gross_cents=shipping, vat_rate=rate
            )
        )
    address = order["delivery_address"]
    buyer = Party(
        name=address["name"],
        street=address["street"],
        postcode=address["postcode"],
        city=address["city"],
    )
    run = uuid.uuid4().hex[:6].upper()
    draft = InvoiceDraft.from_items(
        order_id=order_id,
        items=items,
        buyer=buyer,
        issued_on=today,
        delivery_date=today,
        shipment_id=order["shipments"][0]["shipment_id"],
    )
    invoice = numbers.issue(
        url, step_key(order_id, "test_money_view_invoice"), f"TRE{run}-{today.year}", draft.row
    )
    pdf = render(InvoiceDocument.from_row(invoice), issuer)
    numbers.attach_pdf(url, invoice.number, pdf)
    note = InvoiceDraft.from_items(
        order_id=order_id,
        items=items[:1],
        buyer=buyer,
        issued_on=today,
        kind="credit_note",
        refers_to=invoice.number,
    )
    credit = numbers.issue(
        url, step_key(order_id, "test_money_view_credit_note"), f"TGS{run}-{today.year}", note.row
    )
    return invoice, pdf, credit


async def test_order_view_lists_money_and_the_invoice_downloads_for_staff_and_customer(
    api: httpx.AsyncClient, settings: Settings, issuer: Issuer, tmp_path: Path
) -> None:
    body = order_request(lines=[("TS-0000", 2), ("HO-0005", 1)])
    oid = body["order_id"]
    assert (await api.post("/orders", json=body)).status_code == 202
    other = order_request()  # an order of someone else, just placed
    assert (await api.post("/orders", json=other)).status_code == 202
    order = await shipped_and_captured(api, oid)
    total = order["total_cents"]

    # payments: the authorisation and the captures, oldest first, adding up to the total
    payments = order["payments"]
    assert [p["created_at"] for p in payments] == sorted(p["created_at"] for p in payments)
    assert payments[0]["kind"] == "authorise" and payments[0]["succeeded"]
    assert payments[0]["amount_cents"] == total and payments[0]["step"].startswith(f"{oid}:")
    captures = [p for p in payments if p["kind"] == "capture" and p["succeeded"]]
    assert captures and sum(c["amount_cents"] for c in captures) == total
    assert {c["parent_id"] for c in captures} == {payments[0]["transaction_id"]}

    invoice, pdf, credit = await asyncio.to_thread(issue_documents, settings, order, issuer)
    view = (await api.get(f"/orders/{oid}")).json()
    mine = [i for i in view["invoices"] if i["number"] in (invoice.number, credit.number)]
    assert [i["number"] for i in mine] == [invoice.number, credit.number]  # in issue order
    inv, note = mine
    path = f"/orders/{oid}/invoices/{invoice.number}.pdf"
    assert inv["kind"] == "invoice" and inv["pdf_url"] == f"http://oms.test{path}"
    assert inv["total_gross_cents"] == total == sum(t["gross_cents"] for t in inv["totals"])
    assert inv["shipment_id"] == order["shipments"][0]["shipment_id"]
    assert inv["totals"] == invoice.totals  # per rate, as frozen at issue
    assert note["kind"] == "credit_note" and note["refers_to"] == invoice.number
    assert note["pdf_url"] is None  # not rendered yet: no link that would 404

    # staff: the stored bytes, as an attachment named after the number
    r = await api.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert r.content == pdf and f"Rechnung {invoice.number}" in pdf_text(r.content, tmp_path)
    for url, named in [
        (f"/orders/{oid}/invoices/RE-1999-000001.pdf", "RE-1999-000001"),  # unknown number
        (f"/orders/{oid}/invoices/{credit.number}.pdf", f"{credit.number} has no PDF yet"),
        (f"/orders/{other['order_id']}/invoices/{invoice.number}.pdf", invoice.number),
        (f"/orders/NO-SUCH-ORDER/invoices/{invoice.number}.pdf", "NO-SUCH-ORDER"),
    ]:
        r = await api.get(url)
        assert r.status_code == 404 and named in r.json()["detail"], (url, r.text)
    assert (await api.get(path, auth=None)).status_code == 401  # no key

    # a location key: its own order's invoice yes, another location's order is unknown to it
    shipped_from = order["shipments"][0]["location_id"]
    elsewhere = next(
        loc
        for loc in ("ST-LEIPZIG", "ST-DRESDEN", "WH-BERLIN")
        if loc not in {sh["location_id"] for sh in order["shipments"]}
    )
    own = {"X-API-Key": portal_key(settings.database_url, shipped_from, "money view")}
    foreign = {"X-API-Key": portal_key(settings.database_url, elsewhere, "money view")}
    r = await api.get(path, headers=own)
    assert r.status_code == 200 and r.content == pdf
    for url in (f"/orders/{oid}", path):
        r = await api.get(url, headers=foreign)
        assert r.status_code == 404 and oid in r.json()["detail"], (url, r.text)

    # the customer: the page lists the invoice (not the credit note without a PDF), the link
    # downloads the same bytes with the order's token, and no other token opens it
    token = order_token(settings.self_service_secret, oid)
    page = await api.get(f"/my/orders/{oid}", params={"t": token}, auth=None)
    link = f"/my/orders/{oid}/invoices/{invoice.number}.pdf?t={token}"
    assert page.status_code == 200 and f'data-invoice="{invoice.number}"' in page.text
    assert f'href="{link}"' in page.text and credit.number not in page.text
    r = await api.get(link, auth=None)
    assert r.status_code == 200 and r.content == pdf
    assert r.headers["content-disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    theirs = order_token(settings.self_service_secret, other["order_id"])
    for url, status in [
        (f"/my/orders/{oid}/invoices/{invoice.number}.pdf?t={theirs}", 403),
        (f"/my/orders/{oid}/invoices/{invoice.number}.pdf?t={token}x", 403),
        (f"/my/orders/{oid}/invoices/{invoice.number}.pdf", 403),
        (f"/my/orders/{other['order_id']}/invoices/{invoice.number}.pdf?t={theirs}", 404),
        (f"/my/orders/{oid}/invoices/{credit.number}.pdf?t={token}", 404),
        (f"/my/orders/{oid}/invoices/RE-1999-000001.pdf?t={token}", 404),
    ]:
        r = await api.get(url, auth=None)
        assert r.status_code == status and b"%PDF" not in r.content, (url, r.status_code)
