"""tocsin's receiver kinds that Alertmanager's format has no field for.

They sit beside Alertmanager's own ``*_configs`` in a receiver and are dropped when tocsin prints
a configuration for Alertmanager's tools (``TOCSIN_EXTENSION_KEYS``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from tocsin.config.http import HTTPClientConfig
from tocsin.config.types import URL, Secret, StrictModel


class TwilioConfig(StrictModel):
    """SMS through Twilio's Messages API."""

    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    api_url: URL = None  # default https://api.twilio.com
    account_sid: str
    auth_token: Secret = None
    auth_token_file: str | None = None
    from_: str | None = Field(None, alias="from")
    messaging_service_sid: str | None = None
    to: list[str]
    message: str | None = None
    #: Longest body in SMS segments (one segment: 160 GSM-7 or 70 UCS-2 characters).
    max_segments: int = Field(2, ge=1, le=10)
    status_callback: URL = None

    @field_validator("to", mode="before")
    @classmethod
    def _split_to(cls, v: object) -> object:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @model_validator(mode="after")
    def _check(self) -> TwilioConfig:
        if not self.account_sid.startswith("AC"):
            raise ValueError(f"twilio account_sid must start with 'AC', got {self.account_sid[:4]!r}…")
        if bool(self.auth_token) == bool(self.auth_token_file):
            raise ValueError("exactly one of auth_token or auth_token_file must be configured")
        if bool(self.from_) == bool(self.messaging_service_sid):
            raise ValueError("exactly one of from or messaging_service_sid must be configured")
        if not self.to:
            raise ValueError("missing to numbers in twilio config")
        for number in self.to:
            if not number.startswith("+") or not number[1:].isdigit():
                raise ValueError(f"twilio to number {number!r} is not in E.164 form (+15551234567)")
        return self


class AppriseConfig(StrictModel):
    """Any service Apprise knows, by its URL (``tgram://``, ``ntfys://``, ``mailtos://``...)."""

    send_resolved: bool = True
    urls: list[Secret]
    title: str | None = None
    body: str | None = None
    body_format: Literal["text", "markdown", "html"] = "markdown"

    @model_validator(mode="after")
    def _check(self) -> AppriseConfig:
        if not self.urls:
            raise ValueError("missing urls in apprise config")
        for u in self.urls:
            if not u or "://" not in u:
                raise ValueError("apprise url must look like scheme://..., e.g. tgram://token/chat")
        return self
