"""Payment tests: the providers against the session's PostgreSQL (their ledger) and Stripe's
API as localstripe emulates it, started once per session (the suite fails if it cannot)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.localstripe import LocalStripe, start_localstripe


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    with start_localstripe() as emulator:
        yield emulator
