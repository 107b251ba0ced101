"""The invoice and the credit note as a German PDF (reportlab), with what §14 (4) UStG requires:
the issuer's name, address and USt-IdNr. (or Steuernummer), the buyer's name and address, the
issue date, a unique number, the delivery date, quantity and kind of each item, the net amount
and the VAT per rate with the rate, and the total. A credit note is titled
"Gutschrift/Rechnungskorrektur" and names the invoice it corrects.

Amounts are formatted by babel (``119,00 €``) from the frozen amounts of the document
(``activities.billing.document``), never recomputed here. Fonts are embedded (Bitstream Vera,
shipped with reportlab: umlauts, ``€`` and ``§``), which the Factur-X PDF/A-3 needs, and the PDF
is rendered ``invariant`` (no timestamps), so the same document always gives the same bytes.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from babel.numbers import format_currency, format_decimal
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from activities.billing.document import InvoiceDocument, Issuer, Party

LOCALE = "de_DE"
FONT, FONT_BOLD = "OMS-Vera", "OMS-Vera-Bold"
TITLES = {"invoice": "Rechnung", "credit_note": "Gutschrift/Rechnungskorrektur"}


def euro(cents: int, currency: str = "EUR") -> str:
    """``11900`` -> ``119,00 €`` (German grouping and decimal comma, babel)."""
    return format_currency(Decimal(cents) / 100, currency, locale=LOCALE)


def percent(rate: Decimal) -> str:
    """``Decimal('19')`` -> ``19 %``, ``Decimal('5.5')`` -> ``5,5 %``."""
    return f"{format_decimal(rate, locale=LOCALE)} %"


def german_date(d: date) -> str:
    return d.strftime("%d.%m.%Y")


def title_of(doc: InvoiceDocument) -> str:
    return TITLES[doc.kind]


@cache
def _fonts() -> None:
    """Register the embedded TrueType fonts once per process."""
    folder = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(folder / "VeraBd.ttf")))


def render(doc: InvoiceDocument, issuer: Issuer) -> bytes:
    """The document as PDF bytes (A4, one or more pages; lines flow onto further pages)."""
    _fonts()
    buf = io.BytesIO()
    pdf = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=28 * mm,
        title=f"{title_of(doc)} {doc.number}",
        author=issuer.name,
        subject=f"{title_of(doc)} {doc.number} zur Bestellung {doc.order_id}",
        creator="OMS",
        lang="de-DE",
        invariant=1,
    )
    story = [
        Paragraph(
            escape(f"{issuer.name} · {issuer.street} · {issuer.postcode} {issuer.city}"),
            _style(7),
        ),
        Spacer(0, 2 * mm),
        _head(doc),
        Spacer(0, 10 * mm),
        Paragraph(escape(f"{title_of(doc)} {doc.number}"), _style(15, bold=True)),
    ]
    if doc.kind == "credit_note":
        story.append(
            Paragraph(
                escape(f"Korrektur zur Rechnung {doc.refers_to} (Bestellung {doc.order_id})"),
                _style(9),
            )
        )
    story += [Spacer(0, 6 * mm), _lines(doc), Spacer(0, 6 * mm), _totals(doc)]
    story.append(Spacer(0, 8 * mm))
    story.append(Paragraph(escape(_closing(doc)), _style(8)))

    def footer(canvas: Canvas, _doc: object) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        y = 18 * mm
        for line in _footer_lines(issuer):
            canvas.drawString(20 * mm, y, line)
            y -= 9
        canvas.drawRightString(A4[0] - 20 * mm, 18 * mm, f"Seite {canvas.getPageNumber()}")
        canvas.restoreState()

    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _style(size: float, bold: bool = False) -> ParagraphStyle:
    return ParagraphStyle(
        "s", fontName=FONT_BOLD if bold else FONT, fontSize=size, leading=size * 1.3
    )


def _address(p: Party) -> list[str]:
    lines = [p.name, p.street, f"{p.postcode} {p.city}".strip()]
    if p.country and p.country != "DE":
        lines.append(p.country)
    if p.vat_id:
        lines.append(f"USt-IdNr.: {p.vat_id}")
    return [ln for ln in lines if ln]


def _head(doc: InvoiceDocument) -> Table:
    """Buyer's address on the left, the document's facts on the right."""
    facts: list[tuple[str, str]] = [
        ("Rechnungsnummer" if doc.kind == "invoice" else "Nummer", doc.number),
        ("Rechnungsdatum" if doc.kind == "invoice" else "Datum", german_date(doc.issued_on)),
    ]
    if doc.delivery_date is not None:
        facts.append(("Liefer-/Leistungsdatum", german_date(doc.delivery_date)))
    facts.append(("Bestellnummer", doc.order_id))
    if doc.refers_to:
        facts.append(("Zur Rechnung", doc.refers_to))
    left = Paragraph("<br/>".join(escape(x) for x in _address(doc.buyer)), _style(10))
    right = Table(
        [[k, v] for k, v in facts],
        colWidths=[40 * mm, 38 * mm],
        style=TableStyle(
            [("FONT", (0, 0), (-1, -1), FONT, 9), ("ALIGN", (1, 0), (1, -1), "RIGHT")]
        ),
    )
    return Table(
        [[left, right]], colWidths=[92 * mm, 78 * mm], style=[("VALIGN", (0, 0), (-1, -1), "TOP")]
    )


def _lines(doc: InvoiceDocument) -> Table:
    header: list[object] = ["Pos.", "Artikel", "Menge", "Einzelpreis", "USt.", "Rabatt", "Betrag"]
    rows: list[list[object]] = [header]
    for i, ln in enumerate(doc.lines, start=1):
        rows.append(
            [
                str(i),
                Paragraph(escape(f"{ln.name} ({ln.sku})"), _style(8)),
                str(ln.quantity),
                euro(ln.unit_gross_cents, doc.currency),
                percent(ln.vat_rate),
                euro(-ln.discount_cents, doc.currency) if ln.discount_cents else "",
                euro(ln.gross_cents, doc.currency),
            ]
        )
    widths = [10 * mm, 62 * mm, 13 * mm, 24 * mm, 14 * mm, 22 * mm, 25 * mm]
    return Table(
        rows,
        colWidths=widths,
        repeatRows=1,
        style=TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8),
                ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        ),
    )


def _totals(doc: InvoiceDocument) -> Table:
    """Net and VAT per rate, then the totals: the §14 UStG breakdown."""
    cur = doc.currency
    rows: list[list[str]] = []
    for t in doc.totals:
        rows.append([f"Nettobetrag {percent(t.vat_rate)}", euro(t.net_cents, cur)])
        rows.append([f"Umsatzsteuer {percent(t.vat_rate)}", euro(t.vat_cents, cur)])
    rows.append(["Summe netto", euro(doc.total_net_cents, cur)])
    rows.append(["Summe Umsatzsteuer", euro(doc.total_vat_cents, cur)])
    label = "Gesamtbetrag" if doc.kind == "invoice" else "Gutschriftsbetrag"
    rows.append([label, euro(doc.total_gross_cents, cur)])
    return Table(
        rows,
        colWidths=[50 * mm, 30 * mm],
        hAlign="RIGHT",
        style=TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 9),
                ("FONT", (0, -1), (-1, -1), FONT_BOLD, 10),
                ("LINEABOVE", (0, -3), (-1, -3), 0.5, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ]
        ),
    )


def _closing(doc: InvoiceDocument) -> str:
    if doc.kind == "credit_note":
        return (
            f"Diese Rechnungskorrektur mindert die Rechnung {doc.refers_to} um den oben "
            "genannten Betrag; er wird Ihnen erstattet."
        )
    return "Alle Preise enthalten die gesetzliche Umsatzsteuer. Vielen Dank für Ihren Einkauf."


def _footer_lines(issuer: Issuer) -> list[str]:
    tax = f"USt-IdNr.: {issuer.vat_id}"
    if issuer.tax_number:
        tax += f" · Steuernummer: {issuer.tax_number}"
    bank = " · ".join(
        x
        for x in (issuer.iban and f"IBAN: {issuer.iban}", issuer.bic and f"BIC: {issuer.bic}")
        if x
    )
    lines = [f"{issuer.name} · {issuer.street} · {issuer.postcode} {issuer.city}", tax]
    if bank or issuer.email:
        lines.append(" · ".join(x for x in (bank, issuer.email) if x))
    return lines
