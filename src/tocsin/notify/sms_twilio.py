"""SMS through Twilio's Messages API (``twilio_configs``, a tocsin extension).

Twilio has no idempotency key, so a notification to several numbers remembers which numbers
already got it: a retry after a partial failure texts only the rest.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from tocsin.notify.base import Notification
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs
from tocsin.notify.sms_text import fit_sms
from tocsin.notify.templates import render_part, template_data

DEFAULT_API = "https://api.twilio.com"
MAX_TRACKED = 1000


class TwilioIntegration(HTTPIntegration):
    kind = "twilio"
    provider = "Twilio"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg
        #: idempotency key → numbers already texted for it
        self.delivered: OrderedDict[str, set[str]] = OrderedDict()

    def body_text(self, n: Notification) -> str:
        return fit_sms(
            render_part("twilio", "message", template_data(n), self.cfg.message), self.cfg.max_segments
        )

    async def notify(self, n: Notification) -> None:
        c = self.cfg
        token = self.secret(c.auth_token, c.auth_token_file, "Twilio auth_token")
        base = str(c.api_url or DEFAULT_API).rstrip("/")
        url = f"{base}/2010-04-01/Accounts/{c.account_sid}/Messages.json"
        text = self.body_text(n)
        done = self.delivered.setdefault(n.idempotency_key, set()) if n.idempotency_key else set()
        # A personal incident page goes to the user's own phone (extra["to"]).
        for number in [n.extra["to"]] if n.extra.get("to") else c.to:
            if number in done:
                continue
            form = {"To": number, "Body": text}
            if c.messaging_service_sid:
                form["MessagingServiceSid"] = c.messaging_service_sid
            else:
                form["From"] = c.from_
            if c.status_callback:
                form["StatusCallback"] = str(c.status_callback)
            await self.request("POST", url, data=form, auth=(c.account_sid, token))  # HTTP Basic
            done.add(number)
        self.delivered.pop(n.idempotency_key, None)
        while len(self.delivered) > MAX_TRACKED:
            self.delivered.popitem(last=False)


def build(receiver: str, index: int, cfg: Any) -> TwilioIntegration:
    return TwilioIntegration(receiver, index, cfg, **http_kwargs(cfg))
