"""Email against a real SMTP server (aiosmtpd) started by the test: STARTTLS, implicit TLS,
AUTH success and failure, multipart text + HTML, headers, and error classification."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tocsin.config import load_config_text
from tocsin.notify.base import NotifyError
from tocsin.notify.email import EmailIntegration
from tocsin.notify.templates import sample_notification

PASSWORD = "s3cret-smtp-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    reply: str = "250 Message accepted for delivery"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reply.startswith("250"):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return self.reply


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"alerts" and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_ctx, ca_file


@dataclass
class Server:
    inbox: Inbox
    port: int


def _start(**kwargs: Any) -> tuple[Controller, Server]:
    inbox = Inbox()
    port = _free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    ctl.start()
    return ctl, Server(inbox, port)


@pytest.fixture
def starttls_server(certs: tuple[ssl.SSLContext, Path]) -> Iterator[Server]:
    ctl, srv = _start(tls_context=certs[0], require_starttls=True, authenticator=_authenticator)
    yield srv
    ctl.stop()


@pytest.fixture
def implicit_server(certs: tuple[ssl.SSLContext, Path]) -> Iterator[Server]:
    ctl, srv = _start(ssl_context=certs[0], authenticator=_authenticator, auth_require_tls=False)
    yield srv
    ctl.stop()


@pytest.fixture
def plain_server() -> Iterator[Server]:
    ctl, srv = _start()
    yield srv
    ctl.stop()


def _email(port: int, ca_file: Path | None, extra: str = "", **kwargs: Any) -> EmailIntegration:
    tls = f"\n    tls_config:\n      ca_file: {ca_file}" if ca_file else ""
    cfg = (
        load_config_text(f"""
route: {{receiver: r}}
receivers:
- name: r
  email_configs:
  - to: 'Ops <ops@example.com>, oncall@example.com'
    from: tocsin@example.com
    smarthost: 127.0.0.1:{port}
    hello: tocsin.test
    headers:
      X-Team: '{{{{ .CommonLabels.service }}}}'{tls}{extra}
""")
        .receivers[0]
        .email_configs[0]
    )
    return EmailIntegration("r", 0, cfg, timeout=10, **kwargs)


AUTH = f"\n    auth_username: alerts\n    auth_password: {PASSWORD}"


def _parse(raw: bytes) -> email.message.EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


async def test_starttls_with_auth_sends_multipart(
    starttls_server: Server, certs: tuple[ssl.SSLContext, Path]
) -> None:
    await _email(starttls_server.port, certs[1], AUTH).notify(sample_notification())
    [(mail_from, rcpts, raw)] = starttls_server.inbox.messages
    assert mail_from == "tocsin@example.com"
    assert rcpts == ["ops@example.com", "oncall@example.com"]
    msg = _parse(raw)
    assert msg["Subject"] == "[FIRING:2] HighLatency (api critical)"
    assert msg["From"] == "tocsin@example.com"
    assert msg["To"] == "Ops <ops@example.com>, oncall@example.com"
    assert msg["X-Team"] == "api"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg["References"] == msg["In-Reply-To"] and msg["References"].startswith("<alert-")
    assert msg["Date"]
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    text, html = parts[0].get_content(), parts[1].get_content()
    assert "FIRING: p99 latency above 2s on api-1:9100" in text
    assert "<style" not in html  # CSS inlined for mail clients
    assert 'style="' in html and "<table" in html
    assert "p99 latency above 2s on api-2:9100" in html


async def test_implicit_tls(implicit_server: Server, certs: tuple[ssl.SSLContext, Path]) -> None:
    await _email(implicit_server.port, certs[1], AUTH, implicit_tls=True).notify(sample_notification())
    assert len(implicit_server.inbox.messages) == 1


async def test_auth_failure_is_permanent_and_hides_password(
    starttls_server: Server, certs: tuple[ssl.SSLContext, Path]
) -> None:
    bad = "\n    auth_username: alerts\n    auth_password: wrong-password"
    with pytest.raises(NotifyError) as e:
        await _email(starttls_server.port, certs[1], bad).notify(sample_notification())
    assert not e.value.retryable
    assert "authentication failed" in str(e.value)
    assert "wrong-password" not in str(e.value)
    assert starttls_server.inbox.messages == []


async def test_untrusted_certificate_fails(starttls_server: Server) -> None:
    with pytest.raises(NotifyError) as e:
        await _email(starttls_server.port, None, AUTH).notify(sample_notification())
    assert "certificate" in str(e.value).lower() or "SSL" in str(e.value)
    assert starttls_server.inbox.messages == []


async def test_require_tls_refuses_server_without_starttls(plain_server: Server) -> None:
    with pytest.raises(NotifyError) as e:
        await _email(plain_server.port, None).notify(sample_notification())
    assert not e.value.retryable
    assert "STARTTLS" in str(e.value)
    assert plain_server.inbox.messages == []


async def test_plain_delivery_when_tls_not_required(plain_server: Server) -> None:
    await _email(plain_server.port, None, "\n    require_tls: false").notify(sample_notification())
    assert len(plain_server.inbox.messages) == 1


@pytest.mark.parametrize(("reply", "retryable"), [("451 Try again later", True), ("554 Rejected", False)])
async def test_smtp_replies_are_classified(plain_server: Server, reply: str, retryable: bool) -> None:
    plain_server.inbox.reply = reply
    with pytest.raises(NotifyError) as e:
        await _email(plain_server.port, None, "\n    require_tls: false").notify(sample_notification())
    assert e.value.retryable is retryable
    assert reply.split()[0] in str(e.value)


async def test_connection_refused_is_retryable() -> None:
    with pytest.raises(NotifyError) as e:
        await _email(_free_port(), None).notify(sample_notification())
    assert e.value.retryable


async def test_html_override_in_markdown(plain_server: Server) -> None:
    extra = (
        "\n    require_tls: false\n    html: '# {{ .CommonLabels.alertname }}\n\n*{{ len .Alerts }} alerts*'"
    )
    await _email(plain_server.port, None, extra).notify(sample_notification())
    html = list(_parse(plain_server.inbox.messages[0][2]).iter_parts())[1].get_content()
    assert "<h1>HighLatency</h1>" in html and "<em>2 alerts</em>" in html


def test_bad_smarthost_is_a_clear_error() -> None:
    cfg = (
        load_config_text("""
route: {receiver: r}
receivers:
- name: r
  email_configs:
  - {to: a@example.com, from: b@example.com, smarthost: 'mail.example.com:25'}
""")
        .receivers[0]
        .email_configs[0]
    )
    cfg.smarthost = "mail.example.com"
    with pytest.raises(ValueError, match="must be host:port"):
        EmailIntegration("r", 0, cfg)
