"""Shared core of the OMS: settings, domain models that cross the workflow boundary, DB schema."""
