"""The return workflow: one per return."""
