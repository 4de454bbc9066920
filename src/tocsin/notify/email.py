"""Email over SMTP: implicit TLS (port 465), STARTTLS (required or opportunistic), AUTH, and a
multipart/alternative body of plain text then HTML (CSS inlined for mail clients).

Every mail of one alert group carries the same ``References`` root, so mail clients thread a
group's notifications together.
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

import aiosmtplib

from tocsin.notify.base import Integration, Notification, NotifyError
from tocsin.notify.retry_http import read_secret
from tocsin.notify.templates import render_email_html, render_part, render_string, template_data
from tocsin.notify.templates.data import group_id

DEFAULT_TIMEOUT = 30.0


def _tls_context(tls: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=tls.ca_file if tls is not None else None)
    if tls is None:
        return ctx
    if tls.ca:
        ctx.load_verify_locations(cadata=tls.ca)
    if tls.cert_file and tls.key_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class EmailIntegration(Integration):
    kind = "email"

    def __init__(
        self,
        receiver: str,
        index: int,
        cfg: Any,
        timeout: float = DEFAULT_TIMEOUT,
        implicit_tls: bool | None = None,
    ) -> None:
        super().__init__(receiver, index, cfg.send_resolved)
        self.cfg = cfg
        self.timeout = timeout
        host, _, port = str(cfg.smarthost).rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"receiver {receiver!r}: email smarthost {cfg.smarthost!r} must be host:port")
        self.host, self.port = host.strip("[]"), int(port)
        #: TLS from the first byte: by default only on port 465, as Alertmanager decides.
        self.implicit_tls = self.port == 465 if implicit_tls is None else implicit_tls

    def message(self, n: Notification) -> EmailMessage:
        c = self.cfg
        data = template_data(n)
        headers = {k: render_string(v, data, name=f"email header {k}") for k, v in c.headers.items()}
        msg = EmailMessage()
        msg["From"] = headers.pop("From", None) or render_string(c.from_ or "", data, name="email from")
        # A personal incident page goes to the user's own address (extra["to"]).
        msg["To"] = n.extra.get("to") or headers.pop("To", None) or render_string(c.to, data, name="email to")
        headers.pop("To", None)
        subject = headers.pop("Subject", None) or render_part("email", "subject", data)
        msg["Subject"] = " ".join(subject.split())
        msg["Date"] = formatdate(n.now, localtime=False)
        domain = msg["From"].addresses[0].domain if msg["From"].addresses else "tocsin"
        msg["Message-ID"] = make_msgid(domain=domain or "tocsin")
        root = f"<alert-{group_id(n.group_key)}@tocsin>"
        msg["In-Reply-To"] = root
        msg["References"] = root
        # RFC 3834: auto-responders must not answer; Exchange also honours the second header.
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        for name, value in headers.items():
            del msg[name]
            msg[name] = value
        text = render_part("email", "text", data, c.text)
        msg.set_content(text)
        msg.add_alternative(render_email_html(data, c.html), subtype="html")
        return msg

    def _password(self) -> str | None:
        c = self.cfg
        if c.auth_password or c.auth_password_file:
            return read_secret(c.auth_password, c.auth_password_file, "SMTP auth_password")
        if c.auth_secret or c.auth_secret_file:
            return read_secret(c.auth_secret, c.auth_secret_file, "SMTP auth_secret")
        return None

    async def notify(self, n: Notification) -> None:
        c = self.cfg
        msg = self.message(n)
        recipients = [addr for _, addr in getaddresses([str(msg["To"])]) if addr]
        if not recipients:
            raise NotifyError(f"email to {c.to!r} names no recipient address", retryable=False)
        sender = msg["From"].addresses[0].addr_spec if msg["From"].addresses else ""
        if not sender:
            raise NotifyError("email has no from address", retryable=False)
        implicit = self.implicit_tls
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "sender": sender,
            "recipients": recipients,
            "timeout": self.timeout,
            "local_hostname": c.hello or None,
            "use_tls": implicit,
            # require_tls (Alertmanager's default) refuses a server without STARTTLS; otherwise
            # STARTTLS is used when offered.
            "start_tls": None if implicit else (True if c.require_tls is not False else None),
            "tls_context": _tls_context(c.tls_config),
        }
        if c.auth_username:
            kwargs["username"] = c.auth_username
            kwargs["password"] = self._password() or ""
        try:
            refused, _ = await aiosmtplib.send(msg, **kwargs)
        except aiosmtplib.SMTPAuthenticationError as e:
            raise NotifyError(
                f"SMTP authentication failed for user {c.auth_username!r}: {e.code}", retryable=False
            ) from None
        except aiosmtplib.SMTPRecipientsRefused as e:
            codes = sorted({r.code for r in e.recipients})
            raise NotifyError(
                f"SMTP server refused every recipient (codes {codes})",
                retryable=all(400 <= x < 500 for x in codes),
            ) from None
        except aiosmtplib.SMTPResponseException as e:
            raise NotifyError(
                f"SMTP server answered {e.code}: {e.message[:200]}", retryable=400 <= e.code < 500
            ) from None
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPTimeoutError,
            aiosmtplib.SMTPServerDisconnected,
            OSError,
        ) as e:
            raise NotifyError(
                f"SMTP connection to {self.host}:{self.port} failed: {type(e).__name__}: {e}", retryable=True
            ) from None
        except aiosmtplib.SMTPException as e:
            # e.g. STARTTLS required but not offered: a configuration problem.
            raise NotifyError(f"SMTP error: {type(e).__name__}: {e}", retryable=False) from None
        if refused:
            # Some recipients got it; resending would duplicate it for them.
            bad = ", ".join(f"{addr} ({resp.code})" for addr, resp in refused.items())
            raise NotifyError(f"SMTP server refused some recipients: {bad}", retryable=False)


def build(receiver: str, index: int, cfg: Any) -> EmailIntegration:
    return EmailIntegration(receiver, index, cfg)
