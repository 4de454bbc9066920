"""AWS SNS ``Publish`` to a topic, a mobile endpoint or a phone number (SMS), signed with SigV4.

Credentials come from ``sigv4.access_key``/``secret_key``, else the standard environment
variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), else
botocore's credential chain (profiles, instance roles) when botocore is installed.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

from tocsin.notify.base import Notification, NotifyError
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, retry_after, scrub, truncate_bytes
from tocsin.notify.sigv4 import Credentials, sign
from tocsin.notify.sms_text import fit_sms
from tocsin.notify.templates import render_part, render_string, template_data

MAX_MESSAGE_BYTES = 256 * 1024
#: Error codes AWS uses for throttling: retryable even when sent with status 400.
THROTTLING = frozenset(
    {"Throttling", "ThrottlingException", "Throttled", "ThrottledException", "TooManyRequestsException",
     "RequestLimitExceeded", "KMSThrottling"}
)  # fmt: skip


def _region(cfg: Any) -> str:
    if cfg.sigv4.region:
        return str(cfg.sigv4.region)
    for arn in (cfg.topic_arn, cfg.target_arn):
        if arn and arn.startswith("arn:"):
            parts = arn.split(":")
            if len(parts) > 3 and parts[3]:
                return parts[3]
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise NotifyError("SNS needs a region: set sigv4.region or AWS_REGION", retryable=False)
    return region


def _credentials(cfg: Any) -> Credentials:
    s = cfg.sigv4
    if s.role_arn:
        raise NotifyError(
            "SNS sigv4.role_arn (assuming a role) is not supported; give keys or a profile", retryable=False
        )
    if s.access_key and s.secret_key:
        return Credentials(s.access_key, str(s.secret_key))
    if not s.profile and os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        return Credentials(
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ.get("AWS_SESSION_TOKEN"),
        )
    try:
        import botocore.session
    except ImportError:
        raise NotifyError(
            "no AWS credentials for SNS: set sigv4 keys or AWS_ACCESS_KEY_ID", retryable=False
        ) from None
    session = botocore.session.Session(profile=s.profile) if s.profile else botocore.session.Session()
    found = session.get_credentials()
    if found is None:
        raise NotifyError("no AWS credentials found for SNS", retryable=False)
    frozen = found.get_frozen_credentials()
    return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


def _error_code(text: str) -> tuple[str, str]:
    """(Code, Message) from an AWS query-protocol error document."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return "", ""
    code = next((e.text or "" for e in root.iter() if e.tag.endswith("Code")), "")
    msg = next((e.text or "" for e in root.iter() if e.tag.endswith("Message")), "")
    return code, msg


def _message_override(cfg: Any, data: dict[str, Any]) -> str:
    return render_string(cfg.message, data, name="sns message")


class SNSIntegration(HTTPIntegration):
    kind = "sns"
    provider = "AWS SNS"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg

    def form(self, n: Notification) -> dict[str, str]:
        c = self.cfg
        data = template_data(n)
        form = {"Action": "Publish", "Version": "2010-03-31"}
        attributes = {k: render_string(v, data, name=f"sns attribute {k}") for k, v in c.attributes.items()}
        if c.phone_number or n.extra.get("to"):
            # A personal incident page goes to the user's own phone (extra["to"]).
            form["PhoneNumber"] = n.extra.get("to") or render_string(
                c.phone_number or "", data, name="sns phone_number"
            )
            # A text message gets the concise SMS template and is cut to two segments.
            message = (
                render_part("twilio", "message", data) if c.message is None else _message_override(c, data)
            )
            fitted = fit_sms(message, 2)
            if fitted != " ".join(message.split()):
                attributes["truncated"] = "true"
            message = fitted
            attributes.setdefault("AWS.SNS.SMS.SMSType", "Transactional")
        else:
            message, cut = truncate_bytes(
                render_part("sns", "message", data, c.message), MAX_MESSAGE_BYTES - 1024
            )
            if cut:
                attributes["truncated"] = "true"
            if c.topic_arn:
                form["TopicArn"] = render_string(c.topic_arn, data, name="sns topic_arn")
            else:
                form["TargetArn"] = render_string(c.target_arn, data, name="sns target_arn")
            subject = render_part("sns", "subject", data, c.subject)
            # SNS refuses subjects with line breaks or of 100 characters and more.
            subject = " ".join(subject.split())[:99]
            if subject:
                form["Subject"] = subject
        form["Message"] = message
        for i, (name, value) in enumerate(sorted(attributes.items()), start=1):
            form[f"MessageAttributes.entry.{i}.Name"] = name
            form[f"MessageAttributes.entry.{i}.Value.DataType"] = "String"
            form[f"MessageAttributes.entry.{i}.Value.StringValue"] = value
        return form

    async def notify(self, n: Notification) -> None:
        c = self.cfg
        region = _region(c)
        url = c.api_url or f"https://sns.{region}.amazonaws.com/"
        creds = _credentials(c)
        self.secrets.add(creds.secret_key)
        body = urlencode(self.form(n)).encode()
        headers = sign(
            "POST",
            url,
            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            body,
            creds,
            region,
            "sns",
        )
        headers.pop("Host")  # httpx sends the same Host itself
        resp = await self.request("POST", url, content=body, headers=headers, ok=lambda r: True)
        if resp.status_code // 100 == 2:
            return
        code, message = _error_code(resp.text)
        retryable = resp.status_code >= 500 or resp.status_code == 429 or code in THROTTLING
        raise NotifyError(
            f"AWS SNS answered {resp.status_code} {code}: {scrub(message)[:200]}",
            retryable=retryable,
            retry_after=retry_after(resp.headers.get("Retry-After")) if retryable else None,
        )


def build(receiver: str, index: int, cfg: Any) -> SNSIntegration:
    return SNSIntegration(receiver, index, cfg, **http_kwargs(cfg))


__all__ = ["SNSIntegration", "build"]
