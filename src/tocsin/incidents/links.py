"""Signed, expiring one-click action links (acknowledge / resolve from an email, SMS or card).

A token is ``base64url(json claims) "." base64url(HMAC-SHA256(secret, claims))``. The claims name
the incident, the action, the user the link was sent to and the expiry. Verification checks the
MAC in constant time against every configured secret (so a secret can be rotated without
breaking links already sent) and refuses expired tokens.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass


class LinkAction(enum.StrEnum):
    ACK = "ack"
    RESOLVE = "resolve"


class LinkError(ValueError):
    """A token that must be refused; ``reason`` is ``malformed``, ``forged`` or ``expired``."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class LinkClaims:
    incident_id: str
    action: LinkAction
    user: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()


def make_token(secret: bytes, claims: LinkClaims) -> str:
    if len(secret) < 16:
        raise ValueError("link signing secret must be at least 16 bytes")
    body = json.dumps(
        {"i": claims.incident_id, "a": claims.action.value, "u": claims.user, "e": int(claims.expires_at)},
        separators=(",", ":"),
        sort_keys=True,
    )
    payload = _b64(body.encode("utf-8"))
    return f"{payload}.{_b64(_mac(secret, payload))}"


def verify_token(secrets: Sequence[bytes], token: str, now: float) -> LinkClaims:
    """The claims of a genuine, unexpired token; LinkError otherwise."""
    if not secrets:
        raise ValueError("no link signing secret configured")
    payload, dot, sig = token.partition(".")
    if not dot or not payload or not sig:
        raise LinkError("malformed", "malformed action link token")
    try:
        given = _unb64(sig)
        payload.encode("ascii")
    except (ValueError, UnicodeEncodeError):
        raise LinkError("malformed", "malformed action link token") from None
    if not any(hmac.compare_digest(_mac(s, payload), given) for s in secrets):
        raise LinkError("forged", "action link signature is invalid")
    try:
        data = json.loads(_unb64(payload))
        claims = LinkClaims(str(data["i"]), LinkAction(data["a"]), str(data["u"]), float(data["e"]))
    except (ValueError, KeyError, TypeError):
        raise LinkError("malformed", "malformed action link token") from None
    if now >= claims.expires_at:
        raise LinkError("expired", f"action link expired for incident {claims.incident_id}")
    return claims
