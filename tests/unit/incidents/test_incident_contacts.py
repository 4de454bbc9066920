"""Personal pages travel through the receiver named for their contact kind, addressed to the user."""

from __future__ import annotations

from tocsin.config import load_config_text
from tocsin.notify.base import Notification
from tocsin.notify.registry import build_integrations

CONFIG = """
route:
  receiver: mail
  group_by: [alertname]
  group_wait: 30s
  escalation_policy: p
receivers:
  - name: mail
    email_configs: [{to: team@example.com, from: tocsin@example.com, smarthost: "127.0.0.1:25"}]
  - name: sms
    twilio_configs: [{account_sid: AC123, auth_token: tok, from: "+15550000000", to: ["+15551111111"]}]
"""
INCIDENTS = """
users:
  - id: ana
    email: ana@example.com
    phone: "+33600000001"
    notification_rules: [{via: email, after: 0s}, {via: sms, after: 2m}]
escalation_policies:
  - name: p
    levels: [{targets: [{user: ana}], wait: 10m}]
contact_receivers: {email: mail, sms: sms}
"""


async def test_pages_go_through_contact_receivers_to_the_users_address(harness) -> None:
    h = harness(CONFIG, incidents_yaml=INCIDENTS)
    await h.post({"labels": {"alertname": "A", "severity": "critical"}, "endsAt": h.at(7200)})
    await h.advance(30)
    mail = [n for n in h.rec["mail"][0].sent if n.extra.get("to")]
    assert [n.extra["to"] for n in mail] == ["ana@example.com"]
    assert mail[0].extra["incident_id"].startswith("INC-") and mail[0].extra["user"] == "ana"
    await h.advance(120)
    assert [n.extra["to"] for n in h.rec["sms"][0].sent] == ["+33600000001"]


def _page(to: str) -> Notification:
    return Notification(
        receiver="mail",
        status="firing",
        alerts=[],
        group_key="{}:{}",
        group_labels={},
        common_labels={},
        common_annotations={"summary": "disk full"},
        external_url="http://t",
        now=0.0,
        extra={"to": to},
    )


def test_email_and_sms_channels_address_the_user() -> None:
    integrations = build_integrations(load_config_text(CONFIG))
    email = integrations["mail"][0]
    msg = email.message(_page("ana@example.com"))  # type: ignore[attr-defined]
    assert msg["To"] == "ana@example.com"
    plain = email.message(_page(""))  # type: ignore[attr-defined]
    assert plain["To"] == "team@example.com"


def test_incident_pages_carry_one_click_links_in_mail_and_sms() -> None:
    from tocsin.notify.templates import render_part
    from tocsin.notify.templates.data import template_data

    n = _page("ana@example.com")
    n.extra.update(
        {"ack_url": "http://t/api/tocsin/v1/links/A", "resolve_url": "http://t/api/tocsin/v1/links/R"}
    )
    data = template_data(n)
    text = render_part("email", "text", data)
    assert (
        "Acknowledge: http://t/api/tocsin/v1/links/A" in text
        and "Resolve: http://t/api/tocsin/v1/links/R" in text
    )
    assert "[Acknowledge](http://t/api/tocsin/v1/links/A)" in render_part("email", "html", data)
    assert "Ack: http://t/api/tocsin/v1/links/A" in render_part("twilio", "message", data)
    plain = template_data(_page(""))
    assert "Acknowledge" not in render_part("email", "text", plain)
