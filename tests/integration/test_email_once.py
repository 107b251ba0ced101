"""An e-mail goes out once even when the database restarts between sending it and recording
it: the send activity waits for the database instead of failing into a resend."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from temporalio.testing import ActivityEnvironment

from activities.messaging.activities import EmailActivities
from core import demo_network
from core.db.engine import session_scope
from core.db.migrate import upgrade
from core.db.schema import OutboundEmail
from core.domain.events import EmailRequest
from core.settings import Settings
from devstack.postgres import PostgresCluster, free_port, remove_cluster, start_cluster
from tests.support.smtp import Inbox


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, since it is restarted mid-test."""
    cluster = start_cluster()
    upgrade(cluster.url)
    demo_network.seed(cluster.url)
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
