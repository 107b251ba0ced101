"""An e-mail goes out once: even when the database restarts between sending it and recording
it (the send activity waits for the database instead of failing into a resend), when attempts
overlap (a retry starts while a timed-out attempt is still sending), and when a sender dies
after handing the message over (the resend is the same bytes)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.messaging.activities import EmailActivities
from activities.messaging.email import LEASE_WAIT_S
from core.db.engine import session_scope
from core.db.migrate import upgrade
from core.db.schema import OutboundEmail
from core.domain.events import EmailRequest
from core.settings import Settings
from devstack.demo_data import load_demo
from devstack.postgres import PostgresCluster, free_port, remove_cluster, start_cluster
from tests.support.smtp import Inbox


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, since it is restarted mid-test."""
    cluster = start_cluster()
    upgrade(cluster.url)
    load_demo(cluster.url)
    try:
        yield cluster
    finally:
        remove_cluster(cluster)


class RestartingInbox(Inbox):
    """Takes the message, then restarts PostgreSQL: the moment a crash-prone sender would
    lose track of having sent it."""

    def __init__(self, cluster: PostgresCluster) -> None:
        super().__init__()
        self.cluster = cluster
        self.restarted = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        answer = await super().handle_DATA(server, session, envelope)
        if not self.restarted.is_set():
            self.cluster.stop("fast")
            threading.Thread(target=self._start_later, daemon=True).start()
        return answer

    def _start_later(self) -> None:
        time.sleep(2)
        self.cluster.start()
        self.restarted.set()


async def test_mail_sent_once_when_the_database_restarts_right_after_sending(
    own_postgres: PostgresCluster,
) -> None:
    inbox = RestartingInbox(own_postgres)
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = Settings(
            database_url=own_postgres.url, smtp_port=port, public_base_url="http://oms.test"
        )
        order_id = f"MAIL-{uuid.uuid4().hex[:8]}"
        req = EmailRequest(
            key=f"{order_id}:cancelled",
            order_id=order_id,
            to="erika@example.org",
            template="order_cancelled",
            context={"order_id": order_id, "customer_name": "Erika", "reason": "out of stock"},
        )
        result = await ActivityEnvironment().run(EmailActivities(settings).send_email, req)
        assert result == "sent" and inbox.restarted.is_set()
        # a retry of the same step (as after a worker crash) finds it sent
        again = await ActivityEnvironment().run(EmailActivities(settings).send_email, req)
        assert again == "already-sent"
    finally:
        controller.stop()
    assert len(inbox.for_order(order_id)) == 1
    with session_scope(own_postgres.url) as s:
        row = s.get(OutboundEmail, req.key)
        assert row is not None and row.status == "sent" and row.sent_at is not None


# --- exactly once by design: rendered once, sent only under the outbox row's lease ---------


class SlowInbox(Inbox):
    """An SMTP server that keeps the raw bytes of everything it takes and holds its answer to
    the first ``slow`` messages for ``delay`` seconds (a slow relay, or a busy sender's view
    of one)."""

    def __init__(self, delay: float, slow: int = 1) -> None:
        super().__init__()
        self.delay, self.slow = delay, slow
        self.raw: list[bytes] = []
        self.took_one = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        answer = await super().handle_DATA(server, session, envelope)
        with self._lock:
            self.raw.append(envelope.original_content or envelope.content)
            n = len(self.raw)
        self.took_one.set()
        if n <= self.slow:
            await asyncio.sleep(self.delay)
        return answer


@contextmanager
def smtp_server(inbox: Inbox) -> Iterator[int]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _settings(database_url: str, port: int) -> Settings:
    return Settings(database_url=database_url, smtp_port=port, public_base_url="http://oms.test")


def _request() -> EmailRequest:
    order_id = f"ONCE-{uuid.uuid4().hex[:8]}"
    return EmailRequest(
        order_id=order_id,
        step="cancelled",
        to="erika@example.org",
        template="order_cancelled",
        context={"order_id": order_id, "customer_name": "Jürgen", "reason": "out of stock"},
    )


def _row(database_url: str, key: str) -> OutboundEmail:
    with session_scope(database_url) as s:
        row = s.get(OutboundEmail, key)
        assert row is not None
        return row


def _waited_or_refused(result: object) -> bool:
    """What an attempt that did not send may answer: it waited for the one that did, or it
    failed retryably without sending."""
    if isinstance(result, ApplicationError):
        return not result.non_retryable and "being sent by another attempt" in str(result)
    return result == "already-sent"


async def test_attempts_at_the_same_time_deliver_one_message(database_url: str) -> None:
    """Two attempts start together (a retry racing the first on another worker) and a third
    starts while the first is inside DATA: one message; nobody else sends."""
    inbox = SlowInbox(delay=LEASE_WAIT_S + 1)
    with smtp_server(inbox) as port:
        email = EmailActivities(_settings(database_url, port))
        req = _request()
        together = [
            asyncio.create_task(ActivityEnvironment().run(email.send_email, req)) for _ in range(2)
        ]
        assert await asyncio.to_thread(inbox.took_one.wait, 10)
        during = asyncio.create_task(ActivityEnvironment().run(email.send_email, req))
        results = await asyncio.gather(*together, during, return_exceptions=True)
        assert sorted(map(str, results)).count("sent") == 1, results
        assert all(_waited_or_refused(r) for r in results if r != "sent"), results
        assert await ActivityEnvironment().run(email.send_email, req) == "already-sent"
    assert len(inbox.raw) == 1 and len(inbox.for_order(req.order_id)) == 1
    row = _row(database_url, req.key)
    assert row.status == "sent" and row.attempts == 1 and row.message == inbox.raw[0]


@workflow.defn(sandboxed=False)
class SendWithShortTimeout:
    """Sends one e-mail with a start-to-close timeout shorter than the SMTP server's answer:
    the first attempt is timed out by the server while the worker is still sending it."""

    @workflow.run
    async def run(self, req: EmailRequest) -> str:
        return await workflow.execute_activity_method(
            EmailActivities.send_email,
            req,
            start_to_close_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=2)
            ),
        )


async def test_an_attempt_past_its_timeout_still_sending_keeps_the_retry_from_sending(
    database_url: str, temporal_client: Client
) -> None:
    """On real Temporal: attempt 1 outlives its start-to-close timeout inside DATA (the
    worker does not stop it), the retry starts meanwhile, finds the lease held and waits;
    once attempt 1 recorded "sent", the retry answers "already-sent". One message."""
    inbox = SlowInbox(delay=4.0)
    queue = f"email-once-{uuid.uuid4().hex[:8]}"
    with smtp_server(inbox) as port:
        email = EmailActivities(_settings(database_url, port))
        req = _request()
        async with Worker(
            temporal_client,
            task_queue=queue,
            workflows=[SendWithShortTimeout],
            activities=[email.send_email],
        ):
            handle = await temporal_client.start_workflow(
                SendWithShortTimeout.run, req, id=f"email-once-{req.key}", task_queue=queue
            )
            result = await handle.result()
            attempts = [
                e.activity_task_started_event_attributes.attempt
                async for e in handle.fetch_history_events()
                if e.HasField("activity_task_started_event_attributes")
            ]
        await asyncio.sleep(0.5)  # anything a stray attempt sent would have arrived
    assert attempts and attempts[-1] >= 2, attempts  # the first attempt timed out
    assert result == "already-sent"  # the attempt that counted did not send
    assert len(inbox.raw) == 1 and len(inbox.for_order(req.order_id)) == 1
    row = _row(database_url, req.key)
    assert row.status == "sent" and row.attempts == 1


class DiesAfterHandingOver(EmailActivities):
    """A worker that dies right after the SMTP server accepted the message, before it records
    that: its attempt never reaches "mark sent"."""

    async def _mark_sent_persistently(self, key: str) -> None:
        raise RuntimeError("worker died")


@pytest.mark.parametrize("crash", ["after-accepted", "cancelled-mid-answer"])
async def test_a_resend_after_a_lost_sender_is_byte_identical(
    database_url: str, crash: str
) -> None:
    """The sender dies between the server taking the message and recording it; its lease
    runs out (2 s here) and the next attempt sends again: the same bytes, as stored."""
    lease_s = 2.0
    inbox = SlowInbox(delay=3.0, slow=1 if crash == "cancelled-mid-answer" else 0)
    with smtp_server(inbox) as port:
        settings = _settings(database_url, port)
        req = _request()
        if crash == "after-accepted":
            with pytest.raises(RuntimeError, match="worker died"):
                await ActivityEnvironment().run(
                    DiesAfterHandingOver(settings, lease_s=lease_s).send_email, req
                )
        else:  # the worker is stopped while the server has the message but not yet answered
            env = ActivityEnvironment()
            first = asyncio.create_task(
                env.run(EmailActivities(settings, lease_s=lease_s).send_email, req)
            )
            assert await asyncio.to_thread(inbox.took_one.wait, 10)
            env.cancel()
            with pytest.raises(BaseException):  # noqa: B017, PT011 - cancelled, however spelled
                await first
        lost = _row(database_url, req.key)
        assert lost.status == "pending"
        again = await ActivityEnvironment().run(
            EmailActivities(settings, lease_s=lease_s).send_email, req
        )
        assert again == "sent"
        assert (
            await ActivityEnvironment().run(EmailActivities(settings).send_email, req)
            == "already-sent"
        )
    assert len(inbox.raw) == 2
    assert inbox.raw[0] == inbox.raw[1]  # a redelivery, not a second message
    assert lost.attempts == 1 and lost.lease_until is not None  # the lost one held the lease
    row = _row(database_url, req.key)
    assert row.status == "sent" and row.attempts == 2 and row.message == inbox.raw[0]
