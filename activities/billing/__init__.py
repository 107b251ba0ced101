"""Billing: VAT-correct invoices and credit notes with gap-free numbers, as PDF and as
ZUGFeRD/Factur-X e-invoice (see docs/billing.md)."""
