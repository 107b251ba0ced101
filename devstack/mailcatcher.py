"""A local mail catcher: an SMTP server that keeps every message, and a web inbox to read them.

For the embedded stack only (production uses Mailpit or a real relay). Messages are stored as
.eml files so they survive restarts; the inbox lists them at http://host:8025/ and as JSON at
/api/messages.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import os
import time
from pathlib import Path

import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse


class StoreHandler:
    """aiosmtpd handler writing each message to ``<dir>/<timestamp>-<n>.eml``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._n = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        self._n += 1
        name = f"{time.time_ns()}-{self._n}.eml"
        (self.directory / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def _summary(path: Path) -> dict[str, str]:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain",))
    return {
        "id": path.stem,
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime)),
        "text": body.get_content() if body else "",
    }


def inbox_app(directory: Path) -> FastAPI:
    app = FastAPI(title="OMS mail catcher")

    def messages() -> list[dict[str, str]]:
        return [_summary(p) for p in sorted(directory.glob("*.eml"), reverse=True)]

    @app.get("/api/messages")
    def list_messages() -> list[dict[str, str]]:
        return messages()

    @app.get("/api/messages/{msg_id}", response_class=PlainTextResponse)
    def raw(msg_id: str) -> str:
        path = directory / f"{Path(msg_id).name}.eml"
        if not path.exists():
            raise HTTPException(404)
        return path.read_text(errors="replace")

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        rows = "".join(
            f"<tr><td>{html.escape(m['date'])}</td><td>{html.escape(m['to'])}</td>"
            f"<td><details><summary>{html.escape(m['subject'])}</summary>"
            f"<pre>{html.escape(m['text'])}</pre></details></td></tr>"
            for m in messages()
        )
        return (
            "<!doctype html><meta charset=utf-8><title>OMS mail</title>"
            "<h1>OMS mail catcher</h1><table border=1 cellpadding=4>"
            f"<tr><th>received</th><th>to</th><th>subject</th></tr>{rows}</table>"
        )

    return app


async def serve(smtp_host: str, smtp_port: int, http_port: int, directory: Path) -> None:
    controller = Controller(StoreHandler(directory), hostname=smtp_host, port=smtp_port)
    controller.start()
    try:
        config = uvicorn.Config(
            inbox_app(directory), host=smtp_host, port=http_port, log_level="warning"
        )
        await uvicorn.Server(config).serve()
    finally:
        controller.stop()


if __name__ == "__main__":
    asyncio.run(
        serve(
            os.environ.get("OMS_SMTP_HOST", "127.0.0.1"),
            int(os.environ.get("OMS_SMTP_PORT", "1025")),
            int(os.environ.get("OMS_MAIL_UI_PORT", "8025")),
            Path(os.environ.get("OMS_MAIL_DIR", ".oms/mail")),
        )
    )
