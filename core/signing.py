"""HMAC-SHA256 signatures of webhook bodies, ``sha256=<hex>``: outbound events are signed with
it, and inbound webhooks can be verified with the same two functions."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The signature header value of ``body`` (the raw bytes sent, not a re-serialisation)."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body``; constant-time, so it leaks nothing."""
    if not header:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (a forged header may have).
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().encode())
