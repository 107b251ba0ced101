"""Patch ids of the order workflow (``workflow.patched``): each marks a change to a path that
orders started before it still take, so their recorded histories replay unchanged."""

LOCAL_ACTIVITIES = "local-db-activities-v1"
"""Short database steps run as local activities (``OrderRun.db``)."""
OPS_VIEW = "ops-search-attributes-v1"
"""Search attributes payment, locations, total, risk, late; UI summaries of each step."""
MONITORING = "shipment-monitoring-v1"
"""Promises watched on timers; orders started before it wait for events only."""
HANDOVER_ENDS_WAIT = "pickup-handover-ends-wait-v1"
"""A pickup handover (an Update) ends the wait for shipment events at once."""
INVOICE_PER_PARCEL = "invoice-per-parcel-v1"
"""Each parcel shipped to the customer gets its invoice (activities/billing/activities.py)."""
PARCEL_CREDIT_NOTES = "parcel-credit-notes-v1"
"""Money given back for invoiced goods or fees gets a credit note against the invoice: a
parcel returned undelivered or lost without replacement, the express fee of a missed promise."""
DECLINE_WITHDRAWS = "decline-withdraws-shipments-v1"
"""A declined authorisation withdraws the order's reserved shipments (cancelled), as the saga
does, instead of only freeing their stock: the read model and the state query stop showing
them reserved."""
EVENT_TIME_CAPPED = "event-time-capped-v1"
"""A delivery reported with a time later than the workflow's clock counts as arriving now:
lateness is never decided on a date that has not happened."""
PICKUP_INVOICE = "pickup-invoice-v1"
"""A click & collect order handed over in the store gets one invoice for the whole order."""
RELEASE_HOLD = "release-hold-v1"
"""An order waits for the policy's release hold (time to change it) before it is released;
customer service may release it early. Orders started before it are released at once."""
BACKORDERS = "backorders-v1"
"""Under the policy ``uncovered = "backorder"`` an order the stock cannot cover waits for
stock instead of failing (workflows/order/backorder.py)."""
DELAY_TOLD = "delay-told-v1"
"""A re-route after a delay notice tells the customer the new date whenever it differs from
the notice's (not only when later than the first promise); the notice names the kind of
location the parcel did not leave (store, warehouse, partner)."""
