"""Inventory tests run on the session's PostgreSQL, with the demo stock's opening balances in
the ledger (as ``python -m devstack up`` writes them), so every level there is explained."""

from __future__ import annotations

import pytest

from activities.stock.ledger import open_balances


@pytest.fixture(scope="session")
def url(database_url: str) -> str:
    open_balances(database_url)
    return database_url
