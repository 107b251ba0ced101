"""Location availability: ops take a location offline (or back online)."""

from __future__ import annotations

UNSHIPPED = ["reserved", "released", "accepted"]
