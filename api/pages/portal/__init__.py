"""The store and vendor portal: pick, pack, ship, pickups, in-store returns."""
