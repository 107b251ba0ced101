"""Stock: reservations, availability, holds, ledger, feeds, adjustments, replenishment,
promises, locations."""
