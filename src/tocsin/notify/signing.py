"""Signatures tocsin puts on outgoing webhooks, in the Standard Webhooks form, so receivers can
check that a request came from tocsin and was not altered or replayed.

``webhook-id`` is the same on every retry of a notification (receivers deduplicate on it),
``webhook-timestamp`` is the time of this attempt, and ``webhook-signature`` is
``v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from pathlib import Path


def load_secret(inline: str | None, path: str | None, owner: str) -> str | None:
    """A signing secret given inline or in a file, read when the configuration is built."""
    if inline:
        secret_bytes(str(inline))
        return str(inline)
    if not path:
        return None
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ValueError(f"{owner}: cannot read signing_secret_file {path}: {e.strerror}") from None
    secret_bytes(secret)
    return secret


def message_id(idempotency_key: str) -> str:
    """A header-safe id (ASCII, no '.') derived from the notification's idempotency key."""
    return "msg_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def secret_bytes(secret: str) -> bytes:
    """The HMAC key: ``whsec_<base64>`` secrets are decoded, others used as UTF-8 text."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except binascii.Error:
            raise ValueError("signing secret starts with whsec_ but the rest is not base64") from None
    return secret.encode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()).decode()


def signature_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


def verify(secret: str, headers: dict[str, str], body: bytes, now: float, tolerance: float = 300.0) -> bool:
    """A receiver's check (used by tests and by tocsin receiving its own webhooks)."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(h["webhook-timestamp"])
        msg_id = h["webhook-id"]
        given = h["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs(now - ts) > tolerance:
        return False
    expected = signature(secret, msg_id, ts, body)
    return any(hmac.compare_digest(expected, g) for g in given)
