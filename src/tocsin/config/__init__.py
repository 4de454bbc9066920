"""tocsin's configuration: the full alertmanager.yml schema (plus tocsin extensions), its loader
with file:line errors, serialisation with masked secrets, and the check-config summary."""

from tocsin.config.defaults import DEFAULT_CONFIG_YAML, default_config
from tocsin.config.duration import format_duration, parse_duration
from tocsin.config.errors import ConfigError, ConfigIssue
from tocsin.config.global_config import GlobalConfig
from tocsin.config.http import Authorization, BasicAuth, HTTPClientConfig, OAuth2, TLSConfig
from tocsin.config.loader import load_config_dict, load_config_file, load_config_text
from tocsin.config.model import Config
from tocsin.config.receivers import (
    INTEGRATION_KINDS,
    DiscordConfig,
    EmailConfig,
    JiraConfig,
    LogConfig,
    MattermostConfig,
    MSTeamsConfig,
    MSTeamsV2Config,
    NotifierConfig,
    OpsGenieConfig,
    PagerdutyConfig,
    PushoverConfig,
    ReceiverConfig,
    SlackConfig,
    SNSConfig,
    TelegramConfig,
    VictorOpsConfig,
    WebexConfig,
    WebhookConfig,
    WechatConfig,
)
from tocsin.config.routes import GROUP_BY_ALL, InhibitRuleConfig, RouteConfig, sorted_matchers
from tocsin.config.summary import summarize
from tocsin.config.timeintervals import NamedTimeInterval, TimeIntervalSpec, TimeRangeSpec
from tocsin.config.types import SECRET_TOKEN

__all__ = [
    "DEFAULT_CONFIG_YAML",
    "GROUP_BY_ALL",
    "INTEGRATION_KINDS",
    "SECRET_TOKEN",
    "Authorization",
    "BasicAuth",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "DiscordConfig",
    "EmailConfig",
    "GlobalConfig",
    "HTTPClientConfig",
    "InhibitRuleConfig",
    "JiraConfig",
    "LogConfig",
    "MSTeamsConfig",
    "MSTeamsV2Config",
    "MattermostConfig",
    "NamedTimeInterval",
    "NotifierConfig",
    "OAuth2",
    "OpsGenieConfig",
    "PagerdutyConfig",
    "PushoverConfig",
    "ReceiverConfig",
    "RouteConfig",
    "SNSConfig",
    "SlackConfig",
    "TLSConfig",
    "TelegramConfig",
    "TimeIntervalSpec",
    "TimeRangeSpec",
    "VictorOpsConfig",
    "WebexConfig",
    "WebhookConfig",
    "WechatConfig",
    "default_config",
    "format_duration",
    "load_config_dict",
    "load_config_file",
    "load_config_text",
    "parse_duration",
    "sorted_matchers",
    "summarize",
]
