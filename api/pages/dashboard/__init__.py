"""The operations dashboard."""
