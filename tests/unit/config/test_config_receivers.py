"""Receivers: Alertmanager's field names, defaults, required fields and global fallbacks."""

from __future__ import annotations

import pytest

from tocsin.config import ConfigError, load_config_text
from tocsin.config.receivers import INTEGRATION_KINDS

HEAD = "route: {receiver: r}\nreceivers:\n  - name: r\n"


def receiver(body: str, global_: str = "") -> object:
    cfg = load_config_text((f"global:\n{global_}" if global_ else "") + HEAD + body)
    return cfg.receivers[0]


def err(body: str, global_: str = "") -> str:
    with pytest.raises(ConfigError) as e:
        load_config_text((f"global:\n{global_}" if global_ else "") + HEAD + body, filename="am.yml")
    return str(e.value)


SMTP = "  smtp_smarthost: 'mail:25'\n  smtp_from: 'am@example.org'\n"


@pytest.mark.parametrize(
    ("body", "global_", "kind", "expected"),
    [
        ("    email_configs: [{to: a@b}]\n", SMTP, "email_configs", False),
        ("    slack_configs: [{api_url: 'https://hooks.slack.com/x'}]\n", "", "slack_configs", False),
        ("    wechat_configs: [{api_secret: s, corp_id: c}]\n", "", "wechat_configs", False),
        ("    webhook_configs: [{url: 'http://h/'}]\n", "", "webhook_configs", True),
        ("    pagerduty_configs: [{routing_key: k}]\n", "", "pagerduty_configs", True),
        ("    opsgenie_configs: [{api_key: k}]\n", "", "opsgenie_configs", True),
        ("    pushover_configs: [{user_key: u, token: t}]\n", "", "pushover_configs", True),
        ("    victorops_configs: [{api_key: k, routing_key: r}]\n", "", "victorops_configs", True),
        ("    sns_configs: [{topic_arn: arn}]\n", "", "sns_configs", True),
        ("    telegram_configs: [{bot_token: t, chat_id: 1}]\n", "", "telegram_configs", True),
        ("    discord_configs: [{webhook_url: 'https://d/x'}]\n", "", "discord_configs", True),
        ("    msteams_configs: [{webhook_url: 'https://t/x'}]\n", "", "msteams_configs", True),
        ("    msteamsv2_configs: [{webhook_url: 'https://t/x'}]\n", "", "msteamsv2_configs", True),
        (
            "    jira_configs: [{api_url: 'https://j/', project: P, issue_type: Bug}]\n",
            "",
            "jira_configs",
            True,
        ),
        ("    mattermost_configs: [{webhook_url: 'https://m/x'}]\n", "", "mattermost_configs", True),
        (
            "    webex_configs: [{room_id: r, http_config: {authorization: {credentials: c}}}]\n",
            "",
            "webex_configs",
            True,
        ),
        ("    log_configs: [{}]\n", "", "log_configs", True),
    ],
)
def test_send_resolved_defaults(body: str, global_: str, kind: str, expected: bool) -> None:
    rcv = receiver(body, global_)
    assert getattr(rcv, kind)[0].send_resolved is expected


def test_every_integration_kind_is_a_receiver_field() -> None:
    from tocsin.config import ReceiverConfig

    assert set(INTEGRATION_KINDS) == {f for f in ReceiverConfig.model_fields if f.endswith("_configs")}


def test_webhook_fields_and_defaults() -> None:
    wh = receiver("    webhook_configs: [{url: 'http://h:1/hook', timeout: 10s}]\n").webhook_configs[0]  # type: ignore[attr-defined]
    assert (wh.url, wh.url_file, wh.max_alerts, wh.timeout, wh.send_resolved) == (
        "http://h:1/hook",
        None,
        0,
        10.0,
        True,
    )
    assert wh.http_config is not None and wh.http_config.follow_redirects is True


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("    webhook_configs: [{send_resolved: true}]\n", "one of url or url_file must be configured"),
        ("    webhook_configs: [{url: 'http://h/', url_file: /f}]\n", "at most one of url & url_file"),
        ("    webhook_configs: [{url: 'http://h/', max_alerts: -1}]\n", "max_alerts"),
        ("    webhook_configs: [{url: 'h/hook'}]\n", "unsupported scheme"),
        ("    webhook_configs: [{url: 'http:///hook'}]\n", "missing host"),
        ("    pagerduty_configs: [{severity: critical}]\n", "missing service or routing key"),
        (
            "    pagerduty_configs: [{routing_key: a, routing_key_file: b}]\n",
            "at most one of routing_key & routing_key_file",
        ),
        ("    pushover_configs: [{token: t}]\n", "one of user_key or user_key_file"),
        (
            "    pushover_configs: [{user_key: u, token: t, html: true, monospace: true}]\n",
            "html & monospace",
        ),
        ("    telegram_configs: [{bot_token: t}]\n", "missing chat_id"),
        ("    telegram_configs: [{bot_token: t, chat_id: 1, parse_mode: Rich}]\n", "parse_mode"),
        (
            "    sns_configs: [{topic_arn: a, phone_number: '1'}]\n",
            "exactly one of target_arn, topic_arn or phone_number",
        ),
        ("    sns_configs: [{}]\n", "exactly one of target_arn"),
        ("    webex_configs: [{room_id: r}]\n", "http_config.authorization"),
        (
            "    jira_configs: [{api_url: 'https://j/', issue_type: Bug}]\n",
            "missing required field 'project'",
        ),
        ("    victorops_configs: [{api_key: k}]\n", "missing required field 'routing_key'"),
        (
            "    victorops_configs: [{api_key: k, routing_key: r, custom_fields: {entity_id: x}}]\n",
            "custom field 'entity_id'",
        ),
        ("    discord_configs: [{}]\n", "one of webhook_url or webhook_url_file"),
        (
            "    msteams_configs: [{webhook_url: 'https://t/', webhook_url_file: f}]\n",
            "at most one of webhook_url",
        ),
        (
            "    opsgenie_configs: [{api_key: k, responders: [{type: team}]}]\n",
            "at least one of id, username or name",
        ),
        (
            "    opsgenie_configs: [{api_key: k, responders: [{name: n, type: squad}]}]\n",
            "'squad' is not one of",
        ),
        ("    wechat_configs: [{api_secret: s, corp_id: c, message_type: html}]\n", "message_type"),
        ("    email_configs: [{to: ''}]\n", "missing to address"),
        ("    email_configs: [{to: a, headers: {subject: a, Subject: b}}]\n", "duplicate header 'Subject'"),
        (
            "    slack_configs: [{api_url: 'https://s/', fields: [{title: t}]}]\n",
            "missing required field 'value'",
        ),
        (
            "    slack_configs: [{api_url: 'https://s/', actions: [{type: button, text: t}]}]\n",
            "missing name or url",
        ),
        ("    log_configs: [{level: loud}]\n", "level"),
    ],
)
def test_integration_validation_errors(body: str, needle: str) -> None:
    message = err(body, SMTP)
    assert needle in message
    assert message.startswith("am.yml:4:") or message.startswith("am.yml:")


def test_http_config_validation() -> None:
    both = (
        "    webhook_configs: [{url: 'http://h/',"
        " http_config: {basic_auth: {username: u}, bearer_token: t}}]\n"
    )
    assert "at most one of basic_auth, bearer_token" in err(both)
    basic = (
        "    webhook_configs: [{url: 'http://h/',"
        " http_config: {authorization: {type: Basic, credentials: c}}}]\n"
    )
    assert 'use "basic_auth" instead' in err(basic)
    unknown = "    webhook_configs: [{url: 'http://h/', http_config: {bearer: t}}]\n"
    assert "unknown field 'bearer'" in err(unknown)
    tls = "    webhook_configs: [{url: 'http://h/', http_config: {tls_config: {min_version: TLS99}}}]\n"
    assert "min_version" in err(tls)


def test_email_global_fallbacks() -> None:
    g = (
        SMTP
        + "  smtp_auth_username: u\n  smtp_auth_password: p\n  smtp_require_tls: false\n  smtp_hello: me\n"
    )
    email = receiver(
        "    email_configs: [{to: a@b}, {to: c@d, from: x@y, smarthost: 'other:587', require_tls: true}]\n", g
    ).email_configs  # type: ignore[attr-defined]
    first, second = email
    assert (first.smarthost, first.from_, first.hello, first.auth_username, first.auth_password) == (
        "mail:25",
        "am@example.org",
        "me",
        "u",
        "p",
    )
    assert first.require_tls is False
    assert (second.smarthost, second.from_, second.require_tls) == ("other:587", "x@y", True)


def test_email_without_smarthost_anywhere_is_an_error() -> None:
    message = err("    email_configs: [{to: a@b}]\n")
    assert "am.yml:4: receivers[0].email_configs[0]: no global SMTP smarthost set" in message
    assert "no global SMTP from set" in message


def test_slack_and_pagerduty_fallbacks() -> None:
    rcv = receiver(
        "    slack_configs: [{channel: '#a'}]\n    pagerduty_configs: [{routing_key: k}]\n",
        "  slack_api_url: 'https://hooks.slack.com/services/T/B/X'\n  pagerduty_url: 'https://pd.example/v2'\n",
    )
    assert rcv.slack_configs[0].api_url == "https://hooks.slack.com/services/T/B/X"  # type: ignore[attr-defined]
    assert rcv.pagerduty_configs[0].url == "https://pd.example/v2"  # type: ignore[attr-defined]
    assert "no global Slack API URL set" in err("    slack_configs: [{channel: '#a'}]\n")
    from_file = receiver("    slack_configs: [{channel: '#a'}]\n", "  slack_api_url_file: /run/slack\n")
    assert from_file.slack_configs[0].api_url_file == "/run/slack"  # type: ignore[attr-defined]


def test_opsgenie_victorops_wechat_fallbacks() -> None:
    g = (
        "  opsgenie_api_key: og\n  opsgenie_api_url: 'https://og.example/api'\n"
        "  victorops_api_key: vo\n  wechat_api_secret: ws\n  wechat_api_corp_id: wc\n"
    )
    rcv = receiver(
        "    opsgenie_configs: [{}]\n    victorops_configs: [{routing_key: r}]\n    wechat_configs: [{}]\n", g
    )
    og, vo, wc = rcv.opsgenie_configs[0], rcv.victorops_configs[0], rcv.wechat_configs[0]  # type: ignore[attr-defined]
    assert (og.api_key, og.api_url) == ("og", "https://og.example/api/")
    assert (vo.api_key, vo.api_url) == (
        "vo",
        "https://alert.victorops.com/integrations/generic/20131114/alert/",
    )
    assert (wc.api_secret, wc.corp_id, wc.api_url) == ("ws", "wc", "https://qyapi.weixin.qq.com/cgi-bin/")
    assert "no global OpsGenie API Key set" in err("    opsgenie_configs: [{}]\n")
    assert "no global VictorOps API Key set" in err("    victorops_configs: [{routing_key: r}]\n")
    assert "no global Wechat ApiSecret set" in err("    wechat_configs: [{corp_id: c}]\n")


def test_telegram_webex_jira_mattermost_fallbacks() -> None:
    rcv = receiver(
        "    telegram_configs: [{bot_token: t, chat_id: -100}]\n"
        "    webex_configs: [{room_id: r, http_config: {authorization: {credentials: c}}}]\n"
        "    jira_configs: [{project: P, issue_type: Bug}]\n"
        "    mattermost_configs: [{channel: c}]\n",
        "  jira_api_url: 'https://jira.example/rest/api/2/'\n  mattermost_webhook_url: 'https://mm.example/hooks/x'\n",
    )
    assert rcv.telegram_configs[0].api_url == "https://api.telegram.org"  # type: ignore[attr-defined]
    assert rcv.telegram_configs[0].parse_mode == "HTML"  # type: ignore[attr-defined]
    assert rcv.webex_configs[0].api_url == "https://webexapis.com/v1/messages"  # type: ignore[attr-defined]
    assert rcv.jira_configs[0].api_url == "https://jira.example/rest/api/2/"  # type: ignore[attr-defined]
    assert rcv.mattermost_configs[0].webhook_url == "https://mm.example/hooks/x"  # type: ignore[attr-defined]
    assert "no global Jira Cloud URL set" in err("    jira_configs: [{project: P, issue_type: Bug}]\n")
    assert "no Mattermost webhook URL set" in err("    mattermost_configs: [{channel: c}]\n")


def test_http_config_falls_back_to_global_as_a_whole() -> None:
    g = "  http_config:\n    proxy_url: 'http://proxy:3128'\n    follow_redirects: false\n"
    rcv = receiver(
        "    webhook_configs:\n      - url: 'http://a/'\n      - url: 'http://b/'\n"
        "        http_config: {bearer_token: t}\n",
        g,
    )
    a, b = rcv.webhook_configs  # type: ignore[attr-defined]
    assert a.http_config.proxy_url == "http://proxy:3128" and a.http_config.follow_redirects is False
    # An integration's own http_config replaces the global one entirely, as in Alertmanager.
    assert b.http_config.proxy_url is None and b.http_config.bearer_token == "t"
    assert b.http_config.auth_header() == "Bearer t"


def test_integrations_listing() -> None:
    rcv = receiver("    webhook_configs: [{url: 'http://a/'}, {url: 'http://b/'}]\n    log_configs: [{}]\n")
    kinds = [(kind, i) for kind, i, _ in rcv.integrations()]  # type: ignore[attr-defined]
    assert kinds == [("webhook", 0), ("webhook", 1), ("log", 0)]


def test_pushover_defaults_are_alertmanagers() -> None:
    po = receiver("    pushover_configs: [{user_key: u, token: t}]\n").pushover_configs[0]  # type: ignore[attr-defined]
    assert (po.retry, po.expire, po.ttl) == (60.0, 3600.0, None)
    vo = receiver("    victorops_configs: [{api_key: k, routing_key: r}]\n").victorops_configs[0]  # type: ignore[attr-defined]
    assert vo.message_type == "CRITICAL"
