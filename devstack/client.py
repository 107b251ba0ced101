"""An httpx auth for talking to the OMS API as a trusted client: it sends the API key and
signs webhook bodies the way payment providers, carriers and warehouse systems must.

Used by the tests, the benchmarks and ``python -m devstack webhook`` on the embedded stack.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from core.settings import Settings
from core.signing import sign

WEBHOOK_SOURCE = {
    "/webhooks/shipments": "carrier",
    "/webhooks/payments": "payment",
    "/webhooks/returns": "warehouse",
}


class OmsAuth(httpx.Auth):
    """Adds ``X-API-Key`` (unless the request has one) and ``X-OMS-Signature`` on webhooks.
    Only webhook bodies are read to sign them; other uploads (stock feeds) still stream."""

    def __init__(self, api_key: str, settings: Settings) -> None:
        self.api_key = api_key
        self.settings = settings

    def _prepare(self, request: httpx.Request) -> str | None:
        if self.api_key and "x-api-key" not in request.headers:
            request.headers["X-API-Key"] = self.api_key
        source = WEBHOOK_SOURCE.get(request.url.path)
        return None if "x-oms-signature" in request.headers else source

    def _sign(self, request: httpx.Request, source: str) -> None:
        request.headers["X-OMS-Signature"] = sign(
            self.settings.webhook_secret(source), request.content
        )

    def sync_auth_flow(
        self,
        request: httpx.Request,
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if (source := self._prepare(request)) is not None:
            request.read()
            self._sign(request, source)
        yield request

    async def async_auth_flow(
        self,
        request: httpx.Request,
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if (source := self._prepare(request)) is not None:
            await request.aread()
            self._sign(request, source)
        yield request
