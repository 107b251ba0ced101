"""Master data: imports of catalogue, locations and stock; the demo as data."""
