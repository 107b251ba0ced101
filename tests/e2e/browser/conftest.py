"""Fixtures for browser tests: the real API served over HTTP by uvicorn, and headless Chromium
(Debian's package) driven by Playwright. A missing browser fails the tests; it never skips."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, async_playwright

from api.app import create_app
from core.settings import Settings
from devstack.postgres import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def server(settings: Settings, api: httpx.AsyncClient) -> AsyncIterator[str]:
    """The API app (its own Temporal client, the session's task queue and database) served by
    uvicorn on a free port in a thread; ``api`` brings the session's worker along."""
    port = free_port()
    cfg = settings.model_copy(update={"api_port": port, "public_base_url": ""})
    srv = uvicorn.Server(
        uvicorn.Config(
            create_app(cfg), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=srv.run, name="uvicorn-portal", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        await asyncio.to_thread(thread.join, 30)


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
