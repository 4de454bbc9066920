"""The ``global:`` section: defaults that integrations fall back on (Alertmanager's GlobalConfig)."""

from __future__ import annotations

from pydantic import Field, model_validator

from tocsin.config.http import HTTPClientConfig, TLSConfig
from tocsin.config.types import URL, Duration, HostPort, Secret, SecretURL, StrictModel


class GlobalConfig(StrictModel):
    resolve_timeout: Duration = 300.0
    http_config: HTTPClientConfig = Field(default_factory=HTTPClientConfig)

    smtp_from: str | None = None
    smtp_hello: str = "localhost"
    smtp_smarthost: HostPort = ""
    smtp_auth_username: str | None = None
    smtp_auth_password: Secret = None
    smtp_auth_password_file: str | None = None
    smtp_auth_secret: Secret = None
    smtp_auth_secret_file: str | None = None
    smtp_auth_identity: str | None = None
    smtp_require_tls: bool = True
    smtp_tls_config: TLSConfig | None = None

    slack_api_url: SecretURL = None
    slack_api_url_file: str | None = None
    pagerduty_url: URL = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: URL = "https://api.opsgenie.com/"
    opsgenie_api_key: Secret = None
    opsgenie_api_key_file: str | None = None
    wechat_api_url: URL = "https://qyapi.weixin.qq.com/cgi-bin/"
    wechat_api_secret: Secret = None
    wechat_api_corp_id: str | None = None
    victorops_api_url: URL = "https://alert.victorops.com/integrations/generic/20131114/alert/"
    victorops_api_key: Secret = None
    victorops_api_key_file: str | None = None
    telegram_api_url: URL = "https://api.telegram.org"
    webex_api_url: URL = "https://webexapis.com/v1/messages"
    jira_api_url: URL = None
    mattermost_webhook_url: SecretURL = None
    mattermost_webhook_url_file: str | None = None
    rocketchat_api_url: URL = "https://open.rocket.chat/"
    rocketchat_token: Secret = None
    rocketchat_token_file: str | None = None
    rocketchat_token_id: Secret = None
    rocketchat_token_id_file: str | None = None

    @model_validator(mode="after")
    def _one_source_each(self) -> GlobalConfig:
        pairs = (
            ("slack_api_url", "slack_api_url_file"),
            ("opsgenie_api_key", "opsgenie_api_key_file"),
            ("victorops_api_key", "victorops_api_key_file"),
            ("smtp_auth_password", "smtp_auth_password_file"),
            ("smtp_auth_secret", "smtp_auth_secret_file"),
            ("mattermost_webhook_url", "mattermost_webhook_url_file"),
            ("rocketchat_token", "rocketchat_token_file"),
            ("rocketchat_token_id", "rocketchat_token_id_file"),
        )
        for inline, path in pairs:
            if getattr(self, inline) and getattr(self, path):
                raise ValueError(f"at most one of {inline} & {path} must be configured")
        return self
