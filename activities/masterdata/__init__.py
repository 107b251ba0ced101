"""The retailer's own world: catalogue, locations with their calendars, carriers and tariffs.

Loaded by import (CSV or JSON lines, through the API or ``python -m activities.masterdata``),
read by routing, promises and monitoring; every change is written to the audit log. The demo
network is one such load (``demo/``)."""
