"""API and portal keys (stored hashed) and the signed tokens that carry a login.

A key is shown once when issued; the database keeps only its SHA-256, so a leaked table opens
nothing. A login is a token signed with HMAC-SHA256 under ``OMS_SESSION_SECRET``: any API
process with the same secret accepts it, none keeps session state. The token names the key,
which is looked up on every request, so revoking a key ends its logins at once.

Issue or revoke keys from the command line::

    python -m api.http.auth_keys issue --location ST-BERLIN --label "Filiale Berlin, Kasse 1"
    python -m api.http.auth_keys issue --role agent --label "Telefonbot"
    python -m api.http.auth_keys revoke 7
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from core.db.schema import ApiKey, Location, key_hash

LOCATION = "location"
"""Role of a store's or vendor's portal key; ``location_id`` says which location."""
AGENT = "agent"
"""Role of an AI agent's key (the MCP server, ``api/mcp/``); its label names it in every order's
event log as ``agent:<label>``."""
AGENT_LABEL_MAX = 58
"""``agent:`` and the label fit the 64 characters an order's actor may have."""


def new_key() -> str:
    return f"oms_{secrets.token_urlsafe(24)}"


def issue_key(
    s: Session, role: str, location_id: str | None = None, label: str = "", key: str | None = None
) -> tuple[ApiKey, str]:
    """A new key (or the given one) stored hashed; returns the row and the key in clear."""
    if role == LOCATION and (location_id is None or s.get(Location, location_id) is None):
        raise ValueError(f"a location key needs a known location, not {location_id!r}")
    if AGENT in {r.strip() for r in role.split(",")} and not 0 < len(label) <= AGENT_LABEL_MAX:
        raise ValueError(
            f"an agent key needs a label of 1 to {AGENT_LABEL_MAX} characters: it names the "
            "agent in every order's event log"
        )
    clear = key or new_key()
    row = ApiKey(key_hash=key_hash(clear), role=role, location_id=location_id, label=label)
    s.add(row)
    s.flush()
    return row, clear


def verify_key(s: Session, key: str) -> ApiKey | None:
    """The active key row for ``key``, or None (unknown or revoked)."""
    row = s.exec(select(ApiKey).where(ApiKey.key_hash == key_hash(key.strip()))).first()
    return row if row is not None and row.revoked_at is None else None


def active_key(s: Session, key_id: int) -> ApiKey | None:
    row = s.get(ApiKey, key_id)
    return row if row is not None and row.revoked_at is None else None


def revoke_key(s: Session, key_id: int) -> bool:
    row = active_key(s, key_id)
    if row is None:
        return False
    row.revoked_at = datetime.now(UTC)
    s.add(row)
    return True


# ---- signed tokens -------------------------------------------------------------------------


class Signer:
    """Signs small JSON payloads; ``purpose`` keeps a token of one kind from passing as
    another (a flash message is no session)."""

    def __init__(self, secret: str, purpose: str) -> None:
        self._key = hashlib.sha256(f"{purpose}\0{secret}".encode()).digest()

    def mac(self, data: str) -> str:
        digest = hmac.new(self._key, data.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, payload: dict[str, Any]) -> str:
        body = base64.urlsafe_b64encode(
            json.dumps({**payload, "iat": int(time.time())}, separators=(",", ":")).encode()
        )
        data = body.rstrip(b"=").decode()
        return f"{data}.{self.mac(data)}"

    def unsign(self, token: str | None, max_age_s: int) -> dict[str, Any] | None:
        """The payload if the signature holds and it is younger than ``max_age_s``."""
        if not token or token.count(".") != 1:
            return None
        data, mac = token.split(".")
        if not hmac.compare_digest(mac.encode(), self.mac(data).encode()):  # bytes: any text
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        except ValueError:
            return None
        if not isinstance(payload, dict) or time.time() - payload.get("iat", 0) > max_age_s:
            return None
        return payload


def _main() -> None:
    from core.db.engine import session_scope
    from core.settings import get_settings

    parser = argparse.ArgumentParser(
        prog="python -m api.http.auth_keys",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue", help="issue a key and print it (shown only this once)")
    issue.add_argument("--role", default=LOCATION)
    issue.add_argument("--location", default=None, help="location id (role location)")
    issue.add_argument("--label", default="")
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", type=int)
    args = parser.parse_args()
    with session_scope(get_settings().database_url) as s:
        if args.command == "issue":
            try:
                row, clear = issue_key(s, args.role, args.location, args.label)
            except ValueError as exc:
                raise SystemExit(str(exc)) from exc
            print(f"key {row.id} ({row.role} {row.location_id or ''}): {clear}")
        elif not revoke_key(s, args.key_id):
            raise SystemExit(f"no active key {args.key_id}")


if __name__ == "__main__":
    _main()
