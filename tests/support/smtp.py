"""A real SMTP server (aiosmtpd) whose received messages tests can read."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from devstack.postgres import free_port


class Inbox:
    """Everything the SMTP server received, parsed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        msg = email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default
        )
        with self._lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"

    def for_order(self, order_id: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["X-OMS-Order"] == order_id]


def start_smtp() -> tuple[Controller, Inbox, int]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox, port


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    return body.get_content() if body else ""


async def wait_for_subject(
    inbox: Inbox, order_id: str, starts_with: str, timeout: float = 20.0
) -> EmailMessage:
    """The order's first e-mail whose subject starts with ``starts_with``, once it arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in inbox.for_order(order_id):
            if str(msg["Subject"]).startswith(starts_with):
                return msg
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"no e-mail '{starts_with}...' for {order_id}: "
        f"{[str(m['Subject']) for m in inbox.for_order(order_id)]}"
    )
