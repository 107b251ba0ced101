"""The printable return label: a PDF (reportlab) with the return number as text and QR code,
the sender's and the destination's address and what is in the parcel.

Only reportlab (its own QR code module), so there is no extra dependency; the PDF is rendered
``invariant`` (no timestamps), so the same return always gives the same bytes.
"""

from __future__ import annotations

import io

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from core.domain.returns import REASON_LABELS, ReturnInput

RETURNS_DESK = "Retourenannahme"
"""Street line of a location's goods-in for returns (locations carry no street of their own)."""


def destination_lines(ret: ReturnInput) -> list[str]:
    d = ret.destination
    return [d.name, RETURNS_DESK, f"{d.postcode} {d.city}", "Deutschland"]


def sender_lines(ret: ReturnInput) -> list[str]:
    a = ret.sender
    return [a.name, a.street, f"{a.postcode} {a.city}"]


def render(ret: ReturnInput) -> bytes:
    """The label as PDF bytes (A6 portrait, the size of a parcel label)."""
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A6, invariant=1)
    c.setTitle(f"Retourenschein {ret.return_id}")
    c.setAuthor("OMS")
    width, height = A6
    margin = 7 * mm
    y = height - margin

    c.setFont("Helvetica-Bold", 14)
    c.drawString(margin, y - 10, "RETOURE / RETURN")
    y -= 22
    c.line(margin, y, width - margin, y)

    qr_size = 34 * mm
    _qr(c, ret.return_id, width - margin - qr_size, y - qr_size - 2, qr_size)
    c.setFont("Helvetica", 8)
    c.drawString(margin, y - 12, "Retourennummer / return number")
    c.setFont("Helvetica-Bold", 11)
    c.drawString(margin, y - 26, ret.return_id)
    c.setFont("Helvetica", 8)
    c.drawString(margin, y - 40, f"Bestellung / order: {ret.order_id}")
    c.drawString(margin, y - 52, f"Versand / carrier: {ret.destination.carrier or 'parcel'}")
    y -= qr_size + 8

    c.setFont("Helvetica", 8)
    c.drawString(margin, y, "Absender / from")
    c.setFont("Helvetica", 9)
    for i, line in enumerate(sender_lines(ret)):
        c.drawString(margin, y - 11 - 11 * i, line)
    y -= 52

    c.setLineWidth(1.5)
    box_h = 68
    c.rect(margin, y - box_h, width - 2 * margin, box_h)
    c.setFont("Helvetica", 8)
    c.drawString(margin + 5, y - 11, "Empfänger / to")
    c.setFont("Helvetica-Bold", 11)
    for i, line in enumerate(destination_lines(ret)):
        c.drawString(margin + 5, y - 25 - 12 * i, line)
    y -= box_h + 14

    c.setFont("Helvetica", 7)
    c.drawString(margin, y, "Inhalt / contents")
    for i, ln in enumerate(ret.lines[:6]):
        c.drawString(
            margin,
            y - 9 - 9 * i,
            f"{ln.quantity} x {ln.sku}  {ln.name[:38]}  "
            f"({REASON_LABELS.get(ln.reason, ln.reason)})",
        )
    if len(ret.lines) > 6:
        c.drawString(margin, y - 9 * 7, f"... and {len(ret.lines) - 6} more line(s)")
    c.setFont("Helvetica", 6)
    c.drawString(
        margin,
        margin - 2,
        "Bitte gut sichtbar auf das Paket kleben. / Stick it on the parcel where it can be seen.",
    )
    c.showPage()
    c.save()
    return buf.getvalue()


def _qr(c: Canvas, value: str, x: float, y: float, size: float) -> None:
    widget = QrCodeWidget(value, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, c, x, y)
