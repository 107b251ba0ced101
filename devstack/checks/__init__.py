"""Checks that ``make lint`` runs over the source tree besides ruff, mypy and import-linter."""
