"""Sends the OMS's e-mails exactly once per key, through any SMTP server."""

from __future__ import annotations

import hashlib

MARK_SENT_PATIENCE_S = 20.0  # within the activity's 30 s start-to-close timeout


def message_id_for(key: str) -> str:
    """A Message-ID derived from the key, so even a resend is recognisable as the same mail."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@oms>"
