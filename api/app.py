"""The FastAPI application: ``uvicorn --factory api.app:create_app``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from temporalio.client import Client

from api.http import errors, idempotency, metrics, unavailable
from api.http.limits import InputLimits
from api.http.request_context import bind_path_ids
from api.mcp import server as mcp_server
from api.pages.console import masterdata as console_masterdata
from api.pages.console import routes as console
from api.pages.dashboard import routes as dashboard
from api.pages.portal import returns as portal_returns
from api.pages.portal import routes as portal
from api.pages.self_service import routes as self_service
from api.routes import customer_service, inventory, ops, orders, returns, subscriptions, webhooks
from api.routes.audit import router as audit_router
from api.routes.carriers import router as carriers_router
from api.routes.catalogue import router as catalogue_router
from api.routes.invoices import router as invoices_router
from api.routes.locations import router as locations_router
from api.routes.masterdata_imports import router as masterdata_imports_router
from api.routes.stripe_webhooks import router as stripe_webhooks_router
from core.db.engine import get_engine
from core.logging_setup import configure_logging
from core.settings import Settings, get_settings
from workflows.connection import connect


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    """The app; pass a connected Temporal client to share one (tests), else it connects.
    Without settings it is the server process (uvicorn's factory): it configures logging."""
    cfg = settings or get_settings()
    if settings is None:
        configure_logging(cfg.log_format, cfg.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "temporal", None) is None:
            app.state.temporal = await connect(cfg)
        async with mcp_sessions.run():  # the MCP server's requests (api/mcp/), one per app
            yield

    app = FastAPI(
        title="OMS API",
        version="0.1.0",
        lifespan=lifespan,
        description="Order Management System: every order a durable Temporal workflow.",
        dependencies=[Depends(bind_path_ids)],
    )  # order id into the log context
    app.state.settings = cfg
    app.state.temporal = client
    app.add_middleware(  # a repeated request under the same key answered once (inside limits)
        idempotency.Idempotency,
        database_url=cfg.database_url,
        session_cookies=(console.AREA.session_cookie, portal.AREA.session_cookie),
        retention=timedelta(hours=cfg.idempotency_retention_h),
    )
    app.add_middleware(InputLimits, settings=cfg)  # body size, NUL in path/query
    app.include_router(orders.router)
    app.include_router(invoices_router)
    app.include_router(webhooks.router)
    app.include_router(stripe_webhooks_router)  # signed by Stripe, not by the OMS's scheme
    app.include_router(ops.router)
    app.include_router(inventory.router)
    app.include_router(customer_service.router)
    app.include_router(portal.router)
    app.include_router(returns.router)
    app.include_router(self_service.router)
    app.include_router(portal_returns.router)
    app.include_router(console.router)
    app.include_router(console_masterdata.router)
    app.include_router(dashboard.router)
    app.include_router(subscriptions.router)
    app.include_router(masterdata_imports_router)
    app.include_router(carriers_router)
    app.include_router(catalogue_router)
    app.include_router(locations_router)
    app.include_router(audit_router)
    mcp_sessions = mcp_server.mount(app, cfg)  # /mcp: tools for AI agents (streamable HTTP)
    app.mount("/portal/static", StaticFiles(directory=portal.STATIC_DIR), name="portal-static")
    metrics.install(app, cfg)  # GET /metrics, request log context, HTTP metrics
    unavailable.install(app)  # database or Temporal briefly away: 503 + Retry-After
    errors.install(app)  # a workflow said no: 409 with its reason
    idempotency.document(app)  # the Idempotency-Key header on state-changing operations

    @app.get(
        "/health",
        tags=["ops"],
        summary="Database and Temporal reachable",
        responses={503: {"description": "degraded: the body names what is not reachable"}},
    )
    async def health() -> JSONResponse:
        checks = {"database": "ok", "temporal": "ok"}
        try:
            await run_in_threadpool(_ping_db, cfg.database_url)
        except Exception as exc:  # noqa: BLE001  (health reports, never raises)
            checks["database"] = f"error: {exc.__class__.__name__}"
        checks["temporal"] = await _temporal_health(app.state.temporal)
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503
        )

    return app


async def _temporal_health(client: Client) -> str:
    """ "ok", or the error of a second try: one blip of a busy server is not "degraded"."""
    problem = ""
    for _ in range(2):
        try:
            await client.service_client.check_health(timeout=timedelta(seconds=5))
            return "ok"
        except Exception as exc:  # noqa: BLE001  (health reports, never raises)
            problem = f"error: {exc.__class__.__name__}"
            await asyncio.sleep(0.2)
    return problem


def _ping_db(url: str) -> None:
    with get_engine(url).connect() as conn:
        conn.execute(text("SELECT 1"))
