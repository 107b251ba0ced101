"""Everything with side effects: stock, payments, fulfilment systems, e-mail, the event log.

Each activity is idempotent, keyed by order id + step, so Temporal's retries never double a
reservation, a charge or an e-mail.
"""
