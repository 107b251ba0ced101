"""The invoice and credit-note PDFs carry the §14 UStG fields, amounts in German format
(activities/billing/pdf.py): rendered, then read back with pdftotext."""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal
from pathlib import Path

from activities.billing.document import InvoiceDocument, Issuer
from activities.billing.pdf import euro, percent, render


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return re.sub(r"[ \u00a0]+", " ", out)  # babel's no-break space, layout padding


def test_german_formats() -> None:
    assert euro(11900) == "119,00\u00a0€"
    assert euro(123456789) == "1.234.567,89\u00a0€"
    assert euro(-800) == "-8,00\u00a0€"
    assert percent(Decimal("5.5")) == "5,5 %" and percent(Decimal(19)) == "19 %"


def test_invoice_pdf_has_the_ustg_fields(
    invoice: InvoiceDocument, issuer: Issuer, tmp_path: Path
) -> None:
    pdf = render(invoice, issuer)
    assert pdf.startswith(b"%PDF") and render(invoice, issuer) == pdf  # deterministic
    text = text_of(pdf, tmp_path)
    for field in [
        "Rechnung RE-2026-000042",
        "Rhön Handel GmbH",
        "Kohlhäuser Str. 1",
        "36037 Fulda",
        "USt-IdNr.: DE123456789",
        "Steuernummer: 018/123/45678",
        "Kunde Beispiel GmbH",
        "80331 München",
        "USt-IdNr.: DE987654321",
        "Rechnungsdatum 08.12.2026",
        "Liefer-/Leistungsdatum 07.12.2026",
        "Bestellnummer DEMO-1",
        "Leinenhemd (RH-TEE-01)",
        "Kochbuch Rhön (RH-BOOK-02)",
    ]:
        assert field in text, field
    # 2 x 49,90 (19 %) and 3 x 24,90 (7 %), 10 € off 174,50 spread 5,72 / 4,28
    assert [ln.discount_cents for ln in invoice.lines] == [572, 428]
    assert "1 Leinenhemd (RH-TEE-01) 2 49,90 € 19 % -5,72 € 94,08 €" in text
    for amount in ["49,90 €", "24,90 €", "-5,72 €", "-4,28 €", "94,08 €", "70,42 €", "19 %", "7 %"]:
        assert amount in text, amount
    totals = {t.vat_rate: t for t in invoice.totals}
    assert (totals[19].net_cents, totals[19].vat_cents) == (7906, 1502)
    assert (totals[7].net_cents, totals[7].vat_cents) == (6581, 461)
    for line in [
        "Nettobetrag 19 % 79,06 €",
        "Umsatzsteuer 19 % 15,02 €",
        "Nettobetrag 7 % 65,81 €",
        "Umsatzsteuer 7 % 4,61 €",
        "Summe netto 144,87 €",
        "Summe Umsatzsteuer 19,63 €",
        "Gesamtbetrag 164,50 €",
    ]:
        assert line in text, line
    assert "Gutschrift" not in text


def test_credit_note_names_the_invoice_it_corrects(
    credit_note: InvoiceDocument, issuer: Issuer, tmp_path: Path
) -> None:
    text = text_of(render(credit_note, issuer), tmp_path)
    for field in [
        "Gutschrift/Rechnungskorrektur GS-2026-000007",
        "Korrektur zur Rechnung RE-2026-000042",
        "Zur Rechnung RE-2026-000042",
        "Datum 20.12.2026",
        "USt-IdNr.: DE123456789",
        "Nettobetrag 7 % 69,81 €",
        "Umsatzsteuer 7 % 4,89 €",
        "Gutschriftsbetrag 74,70 €",
    ]:
        assert field in text, field


def test_many_lines_flow_onto_more_pages(
    invoice: InvoiceDocument, issuer: Issuer, tmp_path: Path
) -> None:
    long = invoice.model_copy(update={"lines": invoice.lines * 60})
    text = text_of(render(long, issuer), tmp_path)
    assert "Seite 2" in text and "Gesamtbetrag" in text
