"""Signed one-click links: valid, forged, expired, malformed, rotated secrets, and applied."""

from __future__ import annotations

import base64
import json

import pytest

from tocsin.incidents.config import load_incidents_text
from tocsin.incidents.lifecycle import TransitionError
from tocsin.incidents.links import LinkAction, LinkClaims, LinkError, make_token, verify_token
from tocsin.incidents.manager import IncidentManager
from tocsin.incidents.model import IncidentState
from tocsin.model import Alert

SECRET = b"0123456789abcdef-one"
OTHER = b"0123456789abcdef-two"
NOW = 1_780_000_000.0


def claims(exp: float = NOW + 600, action: LinkAction = LinkAction.ACK) -> LinkClaims:
    return LinkClaims("INC-7", action, "ana", exp)


def test_valid_token_round_trips() -> None:
    tok = make_token(SECRET, claims())
    got = verify_token([SECRET], tok, NOW)
    assert got == LinkClaims("INC-7", LinkAction.ACK, "ana", NOW + 600)
    assert "=" not in tok and "/" not in tok and "+" not in tok  # safe in a URL as-is


def test_forged_signature_is_refused() -> None:
    tok = make_token(SECRET, claims())
    with pytest.raises(LinkError) as e:
        verify_token([OTHER], tok, NOW)
    assert e.value.reason == "forged"


def test_tampered_claims_are_refused() -> None:
    payload, sig = make_token(SECRET, claims(action=LinkAction.ACK)).split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["a"] = "resolve"
    data["e"] = NOW + 10**6
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode() + "." + sig
    with pytest.raises(LinkError, match="signature is invalid"):
        verify_token([SECRET], forged, NOW)


def test_expired_token_is_refused() -> None:
    tok = make_token(SECRET, claims(exp=NOW + 60))
    assert verify_token([SECRET], tok, NOW + 59).incident_id == "INC-7"
    with pytest.raises(LinkError, match="expired") as e:
        verify_token([SECRET], tok, NOW + 60)
    assert e.value.reason == "expired"


@pytest.mark.parametrize("bad", ["", "abc", "abc.", ".abc", "a.b.c", "%%%.$$$", "é.é"])
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(LinkError):
        verify_token([SECRET], bad, NOW)


def test_rotated_secret_still_verifies_old_links() -> None:
    old = make_token(OTHER, claims())
    assert verify_token([SECRET, OTHER], old, NOW).user == "ana"


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        make_token(b"short", claims())


CONFIG = """
users:
  - {id: ana, email: ana@example.com}
  - {id: bob, email: bob@example.com}
escalation_policies:
  - name: main
    levels:
      - {targets: [{user: ana}], wait: 10m}
      - {targets: [{user: bob}], wait: 10m}
default_policy: main
links: {secrets: ["0123456789abcdef-one"], ttl: 30m}
"""


def test_link_in_notification_acknowledges_and_stops_escalation() -> None:
    m = IncidentManager(load_incidents_text(CONFIG))
    t0 = NOW
    acts = m.on_group_update(
        "g", [Alert(labels={"alertname": "A"}, starts_at=t0, ends_at=t0 + 999)], [], {}, t0
    )
    notify = next(a for a in acts if hasattr(a, "links"))
    token = notify.links["ack"]
    got, _ = m.handle_link(token, t0 + 120)
    assert (got.user, got.action) == ("ana", LinkAction.ACK)
    inc = m.get("INC-1")
    assert inc.state is IncidentState.ACKNOWLEDGED and inc.timeline[-1].text == "acknowledged by ana via link"
    assert m.run_until(t0 + 86400) == []
    # The resolve link works too; the same ack link again no longer changes anything harmful.
    m.handle_link(notify.links["resolve"], t0 + 200)
    assert inc.state is IncidentState.RESOLVED
    with pytest.raises(TransitionError):
        m.handle_link(token, t0 + 300)
    # After the 30 min TTL the link is refused.
    with pytest.raises(LinkError, match="expired"):
        m.handle_link(notify.links["resolve"], t0 + 1800)


def test_forged_link_changes_nothing() -> None:
    m = IncidentManager(load_incidents_text(CONFIG))
    m.on_group_update("g", [Alert(labels={"alertname": "A"}, starts_at=NOW, ends_at=NOW + 999)], [], {}, NOW)
    forged = make_token(OTHER, LinkClaims("INC-1", LinkAction.RESOLVE, "ana", NOW + 600))
    with pytest.raises(LinkError, match="signature"):
        m.handle_link(forged, NOW + 1)
    assert m.get("INC-1").state is IncidentState.TRIGGERED
