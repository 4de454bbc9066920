"""Rules that span sections: global fallbacks into integrations, references from routes to
receivers and time intervals, uniqueness of names. Each problem is returned with the YAML path
of the offending node so the loader can point at its line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tocsin.config.receivers import (
    EmailConfig,
    HTTPNotifierConfig,
    JiraConfig,
    MattermostConfig,
    OpsGenieConfig,
    PagerdutyConfig,
    SlackConfig,
    TelegramConfig,
    VictorOpsConfig,
    WebexConfig,
    WechatConfig,
)
from tocsin.config.routes import RouteConfig

if TYPE_CHECKING:
    from tocsin.config.model import Config

Path = tuple[str | int, ...]
Problem = tuple[Path, str]


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _email(cfg: EmailConfig, g: Config, path: Path) -> Iterator[Problem]:
    gl = g.global_
    if not cfg.smarthost:
        if not gl.smtp_smarthost:
            yield path, "no global SMTP smarthost set: give smarthost here or global.smtp_smarthost"
        else:
            cfg.smarthost = gl.smtp_smarthost
    if not cfg.from_:
        if not gl.smtp_from:
            yield path, "no global SMTP from set: give from here or global.smtp_from"
        else:
            cfg.from_ = gl.smtp_from
    if not cfg.hello:
        cfg.hello = gl.smtp_hello
    if not cfg.auth_username and gl.smtp_auth_username:
        cfg.auth_username = gl.smtp_auth_username
    if not cfg.auth_password and not cfg.auth_password_file:
        if gl.smtp_auth_password:
            cfg.auth_password = gl.smtp_auth_password
        if gl.smtp_auth_password_file:
            cfg.auth_password_file = gl.smtp_auth_password_file
    if not cfg.auth_secret and not cfg.auth_secret_file:
        if gl.smtp_auth_secret:
            cfg.auth_secret = gl.smtp_auth_secret
        if gl.smtp_auth_secret_file:
            cfg.auth_secret_file = gl.smtp_auth_secret_file
    if not cfg.auth_identity and gl.smtp_auth_identity:
        cfg.auth_identity = gl.smtp_auth_identity
    if cfg.require_tls is None:
        cfg.require_tls = gl.smtp_require_tls
    if cfg.tls_config is None and gl.smtp_tls_config is not None:
        cfg.tls_config = gl.smtp_tls_config.model_copy(deep=True)


def _integration(cfg: HTTPNotifierConfig, g: Config, path: Path) -> Iterator[Problem]:
    gl = g.global_
    if cfg.http_config is None:
        cfg.http_config = gl.http_config.model_copy(deep=True)
    if isinstance(cfg, SlackConfig):
        if not (cfg.api_url or cfg.api_url_file or cfg.app_token or cfg.app_token_file):
            if not gl.slack_api_url and not gl.slack_api_url_file:
                yield path, "no global Slack API URL set: give api_url, api_url_file or global.slack_api_url"
            elif gl.slack_api_url:
                cfg.api_url = gl.slack_api_url
            else:
                cfg.api_url_file = gl.slack_api_url_file
    elif isinstance(cfg, PagerdutyConfig):
        if not cfg.url:
            cfg.url = gl.pagerduty_url
    elif isinstance(cfg, OpsGenieConfig):
        cfg.api_url = _with_slash(cfg.api_url or gl.opsgenie_api_url or "")
        if not _inherit_api_key(cfg, gl.opsgenie_api_key, gl.opsgenie_api_key_file):
            yield path, "no global OpsGenie API Key set either inline or in a file"
    elif isinstance(cfg, WechatConfig):
        cfg.api_url = _with_slash(cfg.api_url or gl.wechat_api_url or "")
        if not cfg.api_secret:
            if not gl.wechat_api_secret:
                yield path, "no global Wechat ApiSecret set: give api_secret or global.wechat_api_secret"
            else:
                cfg.api_secret = gl.wechat_api_secret
        if not cfg.corp_id:
            if not gl.wechat_api_corp_id:
                yield path, "no global Wechat CorpID set: give corp_id or global.wechat_api_corp_id"
            else:
                cfg.corp_id = gl.wechat_api_corp_id
    elif isinstance(cfg, VictorOpsConfig):
        cfg.api_url = _with_slash(cfg.api_url or gl.victorops_api_url or "")
        if not _inherit_api_key(cfg, gl.victorops_api_key, gl.victorops_api_key_file):
            yield path, "no global VictorOps API Key set: give api_key or global.victorops_api_key"
    elif isinstance(cfg, TelegramConfig):
        if not cfg.api_url:
            cfg.api_url = gl.telegram_api_url
    elif isinstance(cfg, WebexConfig):
        if not cfg.api_url:
            cfg.api_url = gl.webex_api_url
    elif isinstance(cfg, JiraConfig):
        if not cfg.api_url:
            if not gl.jira_api_url:
                yield path, "no global Jira Cloud URL set: give api_url or global.jira_api_url"
            else:
                cfg.api_url = gl.jira_api_url
    elif isinstance(cfg, MattermostConfig) and not cfg.webhook_url and not cfg.webhook_url_file:
        if not gl.mattermost_webhook_url and not gl.mattermost_webhook_url_file:
            yield path, "no Mattermost webhook URL set: give webhook_url or global.mattermost_webhook_url"
        elif gl.mattermost_webhook_url:
            cfg.webhook_url = gl.mattermost_webhook_url
        else:
            cfg.webhook_url_file = gl.mattermost_webhook_url_file


def _inherit_api_key(cfg: Any, key: Any, key_file: str | None) -> bool:
    """Give ``cfg`` the global API key (inline, else file) when it has none; False when neither
    the integration nor the global section has one."""
    if cfg.api_key or cfg.api_key_file:
        return True
    if key:
        cfg.api_key = key
    elif key_file:
        cfg.api_key_file = key_file
    else:
        return False
    return True


def _walk_routes(route: RouteConfig, path: Path) -> Iterator[tuple[RouteConfig, Path]]:
    yield route, path
    for i, child in enumerate(route.routes):
        yield from _walk_routes(child, (*path, "routes", i))


def _fallback_problems(config: Config, index: int, names: dict[str, int]) -> list[Problem]:
    """A fallback must exist, and following fallbacks must never come back to where it started."""
    rcv = config.receivers[index]
    if rcv.fallback_receiver is None:
        return []
    path = ("receivers", index, "fallback_receiver")
    if rcv.fallback_receiver not in names:
        return [(path, f"undefined fallback receiver {rcv.fallback_receiver!r}")]
    chain = [rcv.name]
    current: str | None = rcv.fallback_receiver
    while current is not None:
        if current in chain:
            return [(path, "fallback receivers form a cycle: " + " -> ".join([*chain, current]))]
        chain.append(current)
        current = config.receivers[names[current]].fallback_receiver if current in names else None
    return []


def check(config: Config) -> list[Problem]:
    """Apply global fallbacks in place and return every cross-section problem found."""
    problems: list[Problem] = []
    names: dict[str, int] = {}
    for i, rcv in enumerate(config.receivers):
        if rcv.name in names:
            problems.append(
                (
                    ("receivers", i, "name"),
                    f"receiver name {rcv.name!r} is not unique (also receivers[{names[rcv.name]}])",
                )
            )
        else:
            names[rcv.name] = i
        for j, email in enumerate(rcv.email_configs):
            problems.extend(_email(email, config, ("receivers", i, "email_configs", j)))
        for kind, j, cfg in rcv.integrations():
            if isinstance(cfg, HTTPNotifierConfig):
                problems.extend(_integration(cfg, config, ("receivers", i, f"{kind}_configs", j)))

    for i in range(len(config.receivers)):
        problems.extend(_fallback_problems(config, i, names))

    root = config.route
    if not root.receiver:
        problems.append((("route",), "root route must specify a default receiver"))
    if root.matchers:
        key = "match" if root.match else ("match_re" if root.match_re else "matchers")
        problems.append((("route", key), "root route must not have any matchers"))
    if root.continue_:
        problems.append((("route", "continue"), "cannot have continue in root route"))
    if root.mute_time_intervals:
        problems.append(
            (("route", "mute_time_intervals"), "root route must not have any mute time intervals")
        )
    if root.active_time_intervals:
        problems.append(
            (("route", "active_time_intervals"), "root route must not have any active time intervals")
        )

    interval_names: dict[str, Path] = {}
    for key, lst in (
        ("mute_time_intervals", config.mute_time_interval_list),
        ("time_intervals", config.time_interval_list),
    ):
        for i, named in enumerate(lst):
            if named.name in interval_names:
                problems.append(((key, i, "name"), f"time interval {named.name!r} is not unique"))
            else:
                interval_names[named.name] = (key, i)

    for node, path in _walk_routes(root, ("route",)):
        if node.receiver and node.receiver not in names:
            problems.append(((*path, "receiver"), f"undefined receiver {node.receiver!r} used in route"))
        for key in ("mute_time_intervals", "active_time_intervals"):
            for i, ti in enumerate(getattr(node, key)):
                if ti not in interval_names:
                    problems.append(((*path, key, i), f"undefined time interval {ti!r} used in route"))
    return problems
