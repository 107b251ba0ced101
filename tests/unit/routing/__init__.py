"""Tests of the routing package (pure: no Temporal, no database)."""
