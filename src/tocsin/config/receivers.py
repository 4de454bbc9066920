"""``receivers:``: a name plus one list per integration kind, with Alertmanager's field names.

Message fields left unset (None) mean "the integration's default template"; the notify layer
owns those templates. Defaults that are not templates (send_resolved, max_alerts, parse_mode…)
are Alertmanager's. Cross-section rules (global fallbacks, required-after-fallback fields) are
applied by ``tocsin.config.semantics`` because they need the ``global`` section.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tocsin.config.extensions import AppriseConfig, TwilioConfig
from tocsin.config.http import HTTPClientConfig, TLSConfig
from tocsin.config.types import URL, Duration, HostPort, Secret, SecretURL, StrictModel, WebhookURL


def _at_most_one(model: StrictModel, a: str, b: str) -> None:
    if getattr(model, a) and getattr(model, b):
        raise ValueError(f"at most one of {a} & {b} must be configured")


def _exactly_one(model: StrictModel, a: str, b: str) -> None:
    _at_most_one(model, a, b)
    if not getattr(model, a) and not getattr(model, b):
        raise ValueError(f"one of {a} or {b} must be configured")


class NotifierConfig(StrictModel):
    """Fields every integration has. ``send_resolved`` defaults to true except where overridden."""

    send_resolved: bool = True


class HTTPNotifierConfig(NotifierConfig):
    http_config: HTTPClientConfig | None = None


class WebhookConfig(HTTPNotifierConfig):
    url: WebhookURL = None
    url_file: str | None = None
    max_alerts: int = Field(0, ge=0)
    timeout: Duration | None = None
    # tocsin extensions: Standard Webhooks signature, and a Jinja2/Go template for the body
    signing_secret: Secret = None
    signing_secret_file: str | None = None
    body_template: str | None = None

    @model_validator(mode="after")
    def _check(self) -> WebhookConfig:
        _exactly_one(self, "url", "url_file")
        return self


class LogConfig(NotifierConfig):
    """tocsin extension: write each notification to tocsin's own log (the built-in receiver)."""

    level: Literal["debug", "info", "warning", "error"] = "info"


class EmailConfig(NotifierConfig):
    send_resolved: bool = False
    to: str
    from_: str | None = Field(None, alias="from")
    hello: str | None = None
    smarthost: HostPort = ""
    auth_username: str | None = None
    auth_password: Secret = None
    auth_password_file: str | None = None
    auth_secret: Secret = None
    auth_secret_file: str | None = None
    auth_identity: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    html: str | None = None
    text: str | None = None
    require_tls: bool | None = None
    tls_config: TLSConfig | None = None

    @field_validator("to")
    @classmethod
    def _to_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("missing to address in email config")
        return v

    @field_validator("headers")
    @classmethod
    def _canonical_headers(cls, v: dict[str, str]) -> dict[str, str]:
        # Header names are case-insensitive; two spellings of one header would silently collide.
        out: dict[str, str] = {}
        for name, value in v.items():
            canon = "-".join(part.capitalize() for part in name.split("-"))
            if canon in out:
                raise ValueError(f"duplicate header {canon!r} in email config")
            out[canon] = value
        return out

    @model_validator(mode="after")
    def _check(self) -> EmailConfig:
        _at_most_one(self, "auth_password", "auth_password_file")
        _at_most_one(self, "auth_secret", "auth_secret_file")
        return self


class PagerdutyLink(StrictModel):
    href: str | None = None
    text: str | None = None


class PagerdutyImage(StrictModel):
    src: str | None = None
    alt: str | None = None
    href: str | None = None


class PagerdutyConfig(HTTPNotifierConfig):
    service_key: Secret = None
    service_key_file: str | None = None
    routing_key: Secret = None
    routing_key_file: str | None = None
    url: URL = None
    client: str | None = None
    client_url: str | None = None
    description: str | None = None
    details: dict[str, str] = Field(default_factory=dict)
    images: list[PagerdutyImage] = Field(default_factory=list)
    links: list[PagerdutyLink] = Field(default_factory=list)
    source: str | None = None
    severity: str | None = None
    class_: str | None = Field(None, alias="class")
    component: str | None = None
    group: str | None = None

    @model_validator(mode="after")
    def _check(self) -> PagerdutyConfig:
        if not (self.routing_key or self.service_key or self.routing_key_file or self.service_key_file):
            raise ValueError("missing service or routing key in PagerDuty config")
        _at_most_one(self, "routing_key", "routing_key_file")
        _at_most_one(self, "service_key", "service_key_file")
        return self


class SlackConfirmationField(StrictModel):
    text: str
    title: str | None = None
    ok_text: str | None = None
    dismiss_text: str | None = None


class SlackAction(StrictModel):
    type: str
    text: str
    url: str | None = None
    style: str | None = None
    name: str | None = None
    value: str | None = None
    confirm: SlackConfirmationField | None = None

    @model_validator(mode="after")
    def _check(self) -> SlackAction:
        if not self.url and not self.name:
            raise ValueError("missing name or url in Slack action configuration")
        return self


class SlackField(StrictModel):
    title: str
    value: str
    short: bool | None = None


class SlackConfig(HTTPNotifierConfig):
    send_resolved: bool = False
    api_url: SecretURL = None
    api_url_file: str | None = None
    app_token: Secret = None
    app_token_file: str | None = None
    app_url: URL = None
    channel: str | None = None
    username: str | None = None
    color: str | None = None
    title: str | None = None
    title_link: str | None = None
    pretext: str | None = None
    text: str | None = None
    fields: list[SlackField] = Field(default_factory=list)
    short_fields: bool = False
    footer: str | None = None
    fallback: str | None = None
    callback_id: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None
    image_url: str | None = None
    thumb_url: str | None = None
    link_names: bool = False
    mrkdwn_in: list[str] = Field(default_factory=list)
    actions: list[SlackAction] = Field(default_factory=list)
    interactive: bool = False  # tocsin extension: Acknowledge / Resolve / Silence 1h buttons

    @model_validator(mode="after")
    def _check(self) -> SlackConfig:
        _at_most_one(self, "api_url", "api_url_file")
        _at_most_one(self, "app_token", "app_token_file")
        return self


class OpsGenieResponder(StrictModel):
    id: str | None = None
    name: str | None = None
    username: str | None = None
    type: str

    @model_validator(mode="after")
    def _check(self) -> OpsGenieResponder:
        if not (self.id or self.name or self.username):
            raise ValueError("opsgenie responder has to have at least one of id, username or name specified")
        if "{{" not in self.type:
            self.type = self.type.lower()
            if self.type not in ("team", "teams", "user", "escalation", "schedule"):
                kinds = "team, teams, user, escalation, schedule"
                raise ValueError(f"opsgenie responder type {self.type!r} is not one of {kinds}")
        return self


class OpsGenieConfig(HTTPNotifierConfig):
    api_key: Secret = None
    api_key_file: str | None = None
    api_url: URL = None
    message: str | None = None
    description: str | None = None
    source: str | None = None
    details: dict[str, str] = Field(default_factory=dict)
    entity: str | None = None
    responders: list[OpsGenieResponder] = Field(default_factory=list)
    actions: str | None = None
    tags: str | None = None
    note: str | None = None
    priority: str | None = None
    update_alerts: bool = False

    @model_validator(mode="after")
    def _check(self) -> OpsGenieConfig:
        _at_most_one(self, "api_key", "api_key_file")
        return self


class WechatConfig(HTTPNotifierConfig):
    send_resolved: bool = False
    api_secret: Secret = None
    corp_id: str | None = None
    message: str | None = None
    api_url: URL = None
    to_user: str | None = None
    to_party: str | None = None
    to_tag: str | None = None
    agent_id: str | None = None
    message_type: Literal["text", "markdown"] = "text"


class PushoverConfig(HTTPNotifierConfig):
    user_key: Secret = None
    user_key_file: str | None = None
    token: Secret = None
    token_file: str | None = None
    title: str | None = None
    message: str | None = None
    url: str | None = None
    url_title: str | None = None
    device: str | None = None
    sound: str | None = None
    priority: str | None = None
    retry: Duration = 60.0
    expire: Duration = 3600.0
    ttl: Duration | None = None
    html: bool = False
    monospace: bool = False

    @model_validator(mode="after")
    def _check(self) -> PushoverConfig:
        _exactly_one(self, "user_key", "user_key_file")
        _exactly_one(self, "token", "token_file")
        _at_most_one(self, "html", "monospace")
        return self


_VICTOROPS_RESERVED = (
    "routing_key",
    "message_type",
    "state_message",
    "entity_display_name",
    "monitoring_tool",
    "entity_id",
    "entity_state",
)


class VictorOpsConfig(HTTPNotifierConfig):
    api_key: Secret = None
    api_key_file: str | None = None
    api_url: URL = None
    routing_key: str
    message_type: str = "CRITICAL"
    state_message: str | None = None
    entity_display_name: str | None = None
    monitoring_tool: str | None = None
    custom_fields: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> VictorOpsConfig:
        if not self.routing_key:
            raise ValueError("missing routing_key in VictorOps config")
        _at_most_one(self, "api_key", "api_key_file")
        for name in _VICTOROPS_RESERVED:
            if name in self.custom_fields:
                raise ValueError(f"victorops custom field {name!r} conflicts with a fixed field")
        return self


class SigV4Config(StrictModel):
    region: str | None = None
    access_key: str | None = None
    secret_key: Secret = None
    profile: str | None = None
    role_arn: str | None = None

    @model_validator(mode="after")
    def _check(self) -> SigV4Config:
        if bool(self.access_key) != bool(self.secret_key):
            raise ValueError("must provide an AWS SigV4 access_key and secret_key together")
        return self


class SNSConfig(HTTPNotifierConfig):
    api_url: str | None = None
    sigv4: SigV4Config = Field(default_factory=SigV4Config)
    topic_arn: str | None = None
    phone_number: str | None = None
    target_arn: str | None = None
    subject: str | None = None
    message: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> SNSConfig:
        given = [n for n in ("target_arn", "topic_arn", "phone_number") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                "must provide exactly one of target_arn, topic_arn or phone_number for SNS config"
            )
        return self


class TelegramConfig(HTTPNotifierConfig):
    api_url: URL = None
    bot_token: Secret = None
    bot_token_file: str | None = None
    chat_id: int = 0
    message_thread_id: int = 0
    message: str | None = None
    disable_notifications: bool = False
    parse_mode: Literal["", "Markdown", "MarkdownV2", "HTML"] = "HTML"

    @model_validator(mode="after")
    def _check(self) -> TelegramConfig:
        _exactly_one(self, "bot_token", "bot_token_file")
        if self.chat_id == 0:
            raise ValueError("missing chat_id on telegram_config")
        return self


class WebexConfig(HTTPNotifierConfig):
    api_url: URL = None
    message: str | None = None
    room_id: str

    @model_validator(mode="after")
    def _check(self) -> WebexConfig:
        if not self.room_id:
            raise ValueError("missing room_id on webex_config")
        if self.http_config is None or self.http_config.authorization is None:
            raise ValueError("missing webex_configs.http_config.authorization")
        return self


class DiscordConfig(HTTPNotifierConfig):
    webhook_url: SecretURL = None
    webhook_url_file: str | None = None
    content: str | None = None
    title: str | None = None
    message: str | None = None
    username: str | None = None
    avatar_url: str | None = None

    @model_validator(mode="after")
    def _check(self) -> DiscordConfig:
        _exactly_one(self, "webhook_url", "webhook_url_file")
        return self


class MSTeamsConfig(HTTPNotifierConfig):
    webhook_url: SecretURL = None
    webhook_url_file: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _check(self) -> MSTeamsConfig:
        _exactly_one(self, "webhook_url", "webhook_url_file")
        return self


class MSTeamsV2Config(HTTPNotifierConfig):
    webhook_url: SecretURL = None
    webhook_url_file: str | None = None
    title: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _check(self) -> MSTeamsV2Config:
        _exactly_one(self, "webhook_url", "webhook_url_file")
        return self


class JiraConfig(HTTPNotifierConfig):
    api_url: URL = None
    project: str
    summary: str | None = None
    description: str | None = None
    labels: list[str] = Field(default_factory=list)
    priority: str | None = None
    issue_type: str
    reopen_transition: str | None = None
    resolve_transition: str | None = None
    wont_fix_resolution: str | None = None
    reopen_duration: Duration | None = None
    fields: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> JiraConfig:
        if not self.project:
            raise ValueError("missing project in jira_config")
        if not self.issue_type:
            raise ValueError("missing issue_type in jira_config")
        return self


class MattermostConfig(HTTPNotifierConfig):
    webhook_url: SecretURL = None
    webhook_url_file: str | None = None
    channel: str | None = None
    username: str | None = None
    text: str | None = None
    icon_url: str | None = None
    icon_emoji: str | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    props: dict[str, Any] = Field(default_factory=dict)
    priority: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> MattermostConfig:
        _at_most_one(self, "webhook_url", "webhook_url_file")
        return self


#: YAML key of each integration list → its config class, in the order receivers print them.
INTEGRATION_KINDS: dict[str, type[NotifierConfig]] = {
    "discord_configs": DiscordConfig,
    "email_configs": EmailConfig,
    "pagerduty_configs": PagerdutyConfig,
    "slack_configs": SlackConfig,
    "webhook_configs": WebhookConfig,
    "opsgenie_configs": OpsGenieConfig,
    "wechat_configs": WechatConfig,
    "pushover_configs": PushoverConfig,
    "victorops_configs": VictorOpsConfig,
    "sns_configs": SNSConfig,
    "telegram_configs": TelegramConfig,
    "webex_configs": WebexConfig,
    "msteams_configs": MSTeamsConfig,
    "msteamsv2_configs": MSTeamsV2Config,
    "jira_configs": JiraConfig,
    "mattermost_configs": MattermostConfig,
    "log_configs": LogConfig,
    # Extension models live in config.extensions, which cannot import this module's base class.
    "twilio_configs": TwilioConfig,  # type: ignore[dict-item]
    "apprise_configs": AppriseConfig,  # type: ignore[dict-item]
}

#: Keys that only tocsin understands; dropped when printing a config for Alertmanager's tools.
TOCSIN_EXTENSION_KEYS = frozenset({"log_configs", "fallback_receiver", "twilio_configs", "apprise_configs"})


class ReceiverConfig(StrictModel):
    name: str
    discord_configs: list[DiscordConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    pagerduty_configs: list[PagerdutyConfig] = Field(default_factory=list)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    opsgenie_configs: list[OpsGenieConfig] = Field(default_factory=list)
    wechat_configs: list[WechatConfig] = Field(default_factory=list)
    pushover_configs: list[PushoverConfig] = Field(default_factory=list)
    victorops_configs: list[VictorOpsConfig] = Field(default_factory=list)
    sns_configs: list[SNSConfig] = Field(default_factory=list)
    telegram_configs: list[TelegramConfig] = Field(default_factory=list)
    webex_configs: list[WebexConfig] = Field(default_factory=list)
    msteams_configs: list[MSTeamsConfig] = Field(default_factory=list)
    msteamsv2_configs: list[MSTeamsV2Config] = Field(default_factory=list)
    jira_configs: list[JiraConfig] = Field(default_factory=list)
    mattermost_configs: list[MattermostConfig] = Field(default_factory=list)
    # tocsin extensions
    log_configs: list[LogConfig] = Field(default_factory=list)
    #: receiver that gets a notification this receiver failed to deliver after all its retries
    fallback_receiver: str | None = None
    twilio_configs: list[TwilioConfig] = Field(default_factory=list)
    apprise_configs: list[AppriseConfig] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("missing name in receiver")
        return v

    def integrations(self) -> list[tuple[str, int, NotifierConfig]]:
        """Every integration as ``(kind, index, config)``, kind being e.g. ``"webhook"``; the
        (kind, index) pair is what the notification log keys deliveries on, as in Alertmanager."""
        out: list[tuple[str, int, NotifierConfig]] = []
        for key in INTEGRATION_KINDS:
            for i, cfg in enumerate(getattr(self, key)):
                out.append((key.removesuffix("_configs"), i, cfg))
        return out
