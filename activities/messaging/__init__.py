"""Messaging: e-mails to customers and signed webhooks to partners."""
