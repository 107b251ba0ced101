"""The signed link that opens an order's self-service page without an account.

The token is an HMAC-SHA256 of the order id under ``OMS_SELF_SERVICE_SECRET``: it proves the
holder got the link from us (order confirmation or return e-mail) and opens that one order only.
Nothing is stored; any API replica with the same secret checks it. It does not expire (a
customer finds the e-mail weeks later to start a return); rotating the secret revokes all links.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from core.settings import Settings

TOKEN_CHARS = 32  # 192 bits of the MAC, url-safe


def order_token(secret: str, order_id: str) -> str:
    digest = hmac.new(secret.encode(), f"order\0{order_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:TOKEN_CHARS]


def token_valid(secret: str, order_id: str, token: str | None) -> bool:
    """True only for this order's own token (constant-time comparison)."""
    return bool(token) and hmac.compare_digest(  # as bytes: str must be ASCII, a token may not
        order_token(secret, order_id).encode(), (token or "").encode()
    )


def self_service_url(settings: Settings, order_id: str) -> str:
    """The link every customer e-mail gives to the order (context key ``self_service_url``)."""
    return (
        f"{settings.base_url}/my/orders/{order_id}"
        f"?t={order_token(settings.self_service_secret, order_id)}"
    )


def label_url(settings: Settings, order_id: str, return_id: str) -> str:
    return (
        f"{settings.base_url}/my/orders/{order_id}/returns/{return_id}/label.pdf"
        f"?t={order_token(settings.self_service_secret, order_id)}"
    )


def links(settings: Settings) -> Callable[[str, str], tuple[str, str]]:
    """(order id, return id) -> (label URL, page URL), for the return's e-mails."""
    return lambda order_id, return_id: (
        label_url(settings, order_id, return_id),
        self_service_url(settings, order_id),
    )
