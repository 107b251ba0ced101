"""An order's invoices and credit notes as staff (``GET /orders/...``) and the customer (the
self-service page) see them, and the stored PDF to download.

Both audiences read the same rows through here, so a listing never offers a document the
download would refuse: a document is downloadable once its PDF is stored
(``activities.billing.numbers.attach_pdf``), and only under its own order's id, so an id or a
token of another order cannot reach it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import Response
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from core.db.schema import Invoice


@dataclass(frozen=True)
class Listed:
    """One document of an order without its PDF bytes (a listing must not load megabytes)."""

    number: str
    kind: str
    shipment_id: str | None
    refers_to: str | None
    issued_on: date
    delivery_date: date | None
    total_gross_cents: int
    currency: str
    totals: list[dict[str, Any]]
    has_pdf: bool


def order_invoices(s: Session, order_id: str) -> list[Listed]:
    """The order's invoices and credit notes in the order they were issued."""
    rows = s.exec(
        select(Invoice, col(Invoice.pdf).is_not(None))
        .where(Invoice.order_id == order_id)
        .options(defer(Invoice.pdf))  # type: ignore[arg-type]  # (SQLModel types it as bytes)
        .order_by(col(Invoice.issued_on), col(Invoice.id))
    ).all()
    return [
        Listed(
            number=row.number,
            kind=row.kind,
            shipment_id=row.shipment_id,
            refers_to=row.refers_to,
            issued_on=row.issued_on,
            delivery_date=row.delivery_date,
            total_gross_cents=row.total_gross_cents,
            currency=row.currency,
            totals=list(row.totals),
            has_pdf=bool(has_pdf),
        )
        for row, has_pdf in rows
    ]


def invoice_path(order_id: str, number: str) -> str:
    """Where staff download a document (the self-service page has its own, token-signed)."""
    return f"/orders/{quote(order_id, safe='')}/invoices/{quote(number, safe='')}.pdf"


def stored_pdf(s: Session, order_id: str, number: str) -> tuple[Invoice | None, bytes | None]:
    """The document ``number`` if it belongs to ``order_id`` (None otherwise: another order's
    document is answered like an unknown one), and its PDF if stored yet."""
    row = s.exec(
        select(Invoice).where(Invoice.number == number, Invoice.order_id == order_id)
    ).first()
    return row, (row.pdf if row is not None else None)


def pdf_response(number: str, pdf: bytes) -> Response:
    """The PDF as a download named after its number; never cached (it is personal data)."""
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{number}.pdf"',
            "Cache-Control": "no-store",
        },
    )
