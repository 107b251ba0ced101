"""Who may call what: API keys with roles, signed webhooks.

Every JSON endpoint declares the roles it serves with ``dependencies=[Allow(...)]`` or, for
machine-to-machine webhooks, ``[Signed(...)]``. A request without a valid key gets 401, with a
key of another role 403, and in both cases the endpoint never runs, so nothing changes. Once
the caller is known, the guard checks a JSON body for what JSON does not allow (``NaN``,
``Infinity``, lone surrogates: 422 naming the field, see ``api.http.strict_json``). Keys
are stored hashed (``api_key``); a key may carry several roles (comma-separated). Store and
vendor staff use the portal's session; customers use their signed self-service link.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session

from api.http.auth_keys import verify_key
from api.http.strict_json import refuse_bad_json
from core.db.engine import get_engine
from core.signing import verify


class Role(StrEnum):
    SHOP = "shop"
    CUSTOMER_SERVICE = "customer_service"
    OPERATIONS = "operations"
    LOCATION = "location"  # staff of one store or vendor (the key names the location)
    AGENT = "agent"  # an AI agent (phone or chat bot): the MCP server only (api/mcp/), where it
    # acts for one verified customer at a time; every other endpoint answers its key 403


class Source(StrEnum):
    """Systems that call webhooks, each with its own signing secret."""

    PAYMENT = "payment"
    CARRIER = "carrier"
    WAREHOUSE = "warehouse"


@dataclass(frozen=True)
class Principal:
    key_id: int
    roles: frozenset[str]
    location_id: str | None
    label: str


def _lookup(url: str, key: str) -> Principal | None:
    with Session(get_engine(url, readonly=True)) as s:
        row = verify_key(s, key)
        if row is None or row.id is None:
            return None
        return Principal(
            key_id=row.id,
            roles=frozenset(r.strip() for r in row.role.split(",")),
            location_id=row.location_id,
            label=row.label,
        )


def _key_from(request: Request) -> str:
    key = request.headers.get("x-api-key", "")
    auth = request.headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:]
    return key.strip()


def principal_for_key(database_url: str, key: str) -> Principal | None:
    """The holder of ``key`` (None: unknown or revoked), e.g. for a process started with a key
    (the MCP server over stdio)."""
    return _lookup(database_url, key.strip()) if key.strip() else None


async def caller_of(request: Request) -> Principal | None:
    """The key's holder (``X-API-Key`` or ``Authorization: Bearer``), or None without a valid
    key. For endpoints outside FastAPI's dependencies (the MCP server's guard)."""
    key = _key_from(request)
    if not key:
        return None
    return await run_in_threadpool(_lookup, request.app.state.settings.database_url, key)


def actor_of(request: Request) -> str:
    """Who the audit log names for a change made with the caller's key."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        return "api"
    return f"key {principal.key_id}: {principal.label or ','.join(sorted(principal.roles))}"


class Allow:
    """Dependency: the caller's API key must carry one of ``roles``."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, request: Request) -> Principal:
        principal = await caller_of(request)
        if principal is None:
            raise HTTPException(
                401,
                detail="an API key is needed (header X-API-Key)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.roles & self.roles:
            raise HTTPException(
                403,
                detail="this key's role may not do this; allowed: " + ", ".join(sorted(self.roles)),
            )
        request.state.principal = principal
        await refuse_bad_json(request)  # the caller is known: now its body (422 naming the field)
        return principal


class Signed:
    """Dependency: the body must carry ``X-OMS-Signature: sha256=<HMAC>`` by one of
    ``sources``' secrets (payment provider, carrier, warehouse system)."""

    def __init__(self, *sources: Source) -> None:
        self.sources = frozenset(sources)

    async def __call__(self, request: Request) -> Source:
        header = request.headers.get("x-oms-signature", "")
        if not header:
            raise HTTPException(401, detail="missing X-OMS-Signature")
        body = await request.body()
        settings = request.app.state.settings
        for source in sorted(self.sources):
            if verify(settings.webhook_secret(source), body, header):
                await refuse_bad_json(request)  # signed over the raw bytes; now parse them
                return source
        raise HTTPException(403, detail="bad signature")


# Route dependencies by audience (``@router.post(path, dependencies=CUSTOMER_SERVICE)``).
SHOP = [Depends(Allow(Role.SHOP))]
CUSTOMER_SERVICE = [Depends(Allow(Role.CUSTOMER_SERVICE))]
OPERATIONS = [Depends(Allow(Role.OPERATIONS))]
SHOP_OR_CS = [Depends(Allow(Role.SHOP, Role.CUSTOMER_SERVICE))]
CS_OR_OPS = [Depends(Allow(Role.CUSTOMER_SERVICE, Role.OPERATIONS))]
OPS_OR_LOCATION = [Depends(Allow(Role.OPERATIONS, Role.LOCATION))]
CS_OR_LOCATION = [Depends(Allow(Role.CUSTOMER_SERVICE, Role.LOCATION))]
READERS = [Depends(Allow(Role.SHOP, Role.CUSTOMER_SERVICE, Role.OPERATIONS))]
STOCK_READERS = [Depends(Allow(Role.SHOP, Role.CUSTOMER_SERVICE, Role.OPERATIONS, Role.LOCATION))]
ORDER_READERS = [Depends(Allow(Role.SHOP, Role.CUSTOMER_SERVICE, Role.OPERATIONS, Role.LOCATION))]
"""Location keys among them see only orders routed to their location (``location_scope``)."""
CARRIER_OR_WAREHOUSE = [Depends(Signed(Source.CARRIER, Source.WAREHOUSE))]
PAYMENT_PROVIDER = [Depends(Signed(Source.PAYMENT))]
WAREHOUSE = [Depends(Signed(Source.WAREHOUSE))]


def location_scope(request: Request) -> str | None:
    """The one location a store's or vendor's key is confined to, or None for a key with a
    wider role (shop, customer service, operations), which sees every location.

    What a location key sees: the stock of its own location (asking for another is 403, the
    locations are no secret) and only the orders with a shipment routed to it, from there or
    transferred there for pickup; any other order answers 404 like an unknown one, so a key
    cannot even learn that an order number exists."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None or principal.roles - {Role.LOCATION}:
        return None
    if not principal.location_id:
        raise HTTPException(403, detail="this location key names no location")
    return principal.location_id


def own_location_only(request: Request, location_id: str | None) -> None:
    """A store's or vendor's key acts for its own location only (403 otherwise); keys with a
    wider role (customer service, operations) may act for any location."""
    scope = location_scope(request)
    if scope is not None and location_id != scope:
        raise HTTPException(403, detail="this key acts for its own location only")
