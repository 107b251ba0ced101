"""Returns: opening them, routing them, their labels, refunds and stock bookings."""
