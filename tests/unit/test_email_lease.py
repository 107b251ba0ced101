"""The outbox row's lease on SQLite (no server): of any number of attempts one takes it; a
lease that ran out can be taken again; only its holder gives it back; a sent row is never
taken. (On PostgreSQL: tests/integration/test_email_once.py.)"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from activities.messaging.email import mark_sent, prepare, release_lease, take_lease
from activities.messaging.templates import RenderedEmail
from core.db.engine import session_scope
from core.db.migrate import upgrade
from core.db.schema import OutboundEmail
from core.domain.events import EmailRequest

REQ = EmailRequest(order_id="A-1", step="cancelled", to="k@example.org", template="t")
RENDERED = RenderedEmail(subject="s", text="t\n", html="<p>t</p>\n")
LEASE = timedelta(seconds=60)


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/oms.db"
    upgrade(url)
    return url


def test_rendered_once_and_the_stored_bytes_are_the_message(url: str) -> None:
    renders: list[int] = []

    def render() -> RenderedEmail:
        renders.append(1)
        return RENDERED

    first, claim = prepare(url, REQ, "OMS <o@oms.example>", render, LEASE)
    again, no_claim = prepare(url, REQ, "OMS <o@oms.example>", render, LEASE)
    assert renders == [1] and first.message and again.message == first.message
    assert not first.sent
    assert claim is not None and claim.attempt == 1  # the creator holds the lease
    assert no_claim is None and take_lease(url, REQ.key, LEASE).attempt is None


def test_a_row_recorded_before_messages_were_stored_gets_its_message_once(url: str) -> None:
    with session_scope(url) as s:
        s.add(
            OutboundEmail(
                key=REQ.key,
                order_id=REQ.order_id,
                recipient=REQ.to,
                template=REQ.template,
                subject="old",
                message_id="m",
            )
        )
    first, claim = prepare(url, REQ, "OMS <o@oms.example>", lambda: RENDERED, LEASE)
    assert first.message and claim is None
    again, _ = prepare(url, REQ, "x", lambda: RENDERED, LEASE)
    assert again.message == first.message
    assert take_lease(url, REQ.key, LEASE).attempt == 1


def test_one_attempt_holds_the_lease_until_it_runs_out_or_is_given_back(url: str) -> None:
    short = timedelta(seconds=0.3)
    _, first = prepare(url, REQ, "OMS <o@oms.example>", lambda: RENDERED, short)
    assert first is not None and first.attempt == 1
    held = take_lease(url, REQ.key, short)
    assert held.attempt is None and not held.sent and held.lease_until == first.lease_until
    time.sleep(0.4)
    second = take_lease(url, REQ.key, timedelta(seconds=60))
    assert second.attempt == 2  # the first sender's lease ran out
    release_lease(url, REQ.key, 1)  # not the holder any more: nothing happens
    assert take_lease(url, REQ.key, short).attempt is None
    release_lease(url, REQ.key, 2)
    third = take_lease(url, REQ.key, short)
    assert third.attempt == 3
    mark_sent(url, REQ.key)
    time.sleep(0.4)
    done = take_lease(url, REQ.key, short)
    assert done.attempt is None and done.sent
