"""Outbound webhook signatures (core.signing): what the subscribers of
tests/integration/test_outbound_events.py verify."""

from __future__ import annotations

from core.signing import sign, verify


def test_sign_and_verify() -> None:
    body = b'{"id":1}'
    header = sign("s3cret-s3cret-s3cret", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify("s3cret-s3cret-s3cret", body, header)
    assert not verify("s3cret-s3cret-s3cret", body + b" ", header)
    assert not verify("another-secret-value", body, header)
    assert not verify("s3cret-s3cret-s3cret", body, None)
