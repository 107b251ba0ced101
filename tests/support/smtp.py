"""A real SMTP server (aiosmtpd) whose received messages tests can read."""

from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.postgres import free_port


class Inbox:
    """Everything the SMTP server received, parsed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
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
