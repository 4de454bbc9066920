"""to_yaml: re-parsable by tocsin and by Alertmanager's own parser, secrets masked."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tocsin.config import SECRET_TOKEN, default_config, load_config_text
from tocsin.engine.route import build_routes

SECRETS = {
    "smtp-password": "  smtp_auth_password: smtp-password\n",
    "https://hooks.slack.com/services/T1/B2/slacktoken": "  slack_api_url: 'https://hooks.slack.com/services/T1/B2/slacktoken'\n",
    "og-key": "  opsgenie_api_key: og-key\n",
}

CONFIG = (
    "global:\n  smtp_smarthost: 'mail:25'\n  smtp_from: am@example.org\n"
    + "".join(SECRETS.values())
    + """route:
  receiver: hook
  group_by: [alertname]
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - match_re: {service: 'db|cache'}
      receiver: mail
      group_wait: 1m30s
receivers:
  - name: hook
    webhook_configs:
      - url: 'http://user:hookpass@hooks.example:5001/path/hooktoken?key=querytoken'
        http_config:
          basic_auth: {username: u, password: basicpass}
  - name: pager
    pagerduty_configs:
      - routing_key: pd-routing
        http_config: {bearer_token: bearertoken}
    opsgenie_configs: [{}]
    discord_configs: [{webhook_url: 'https://discord.com/api/webhooks/1/discordtoken'}]
  - name: mail
    email_configs: [{to: a@example.org, auth_secret: emailsecret}]
    log_configs: [{level: error}]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
"""
)

ALL_SECRETS = [
    *SECRETS,
    "hookpass",
    "hooktoken",
    "querytoken",
    "basicpass",
    "pd-routing",
    "bearertoken",
    "discordtoken",
    "emailsecret",
]


def test_secrets_masked_by_default() -> None:
    text = load_config_text(CONFIG).to_yaml()
    for secret in ALL_SECRETS:
        assert secret not in text, secret
    assert text.count(SECRET_TOKEN) >= 10
    # Generic webhook URLs keep scheme and host so the output stays readable and parsable.
    assert "url: http://hooks.example:5001/<secret>" in text


def test_unmasked_output_is_complete() -> None:
    text = load_config_text(CONFIG).to_yaml(mask_secrets=False)
    for secret in ALL_SECRETS:
        assert secret in text, secret


def test_masked_output_parses_back_to_the_same_routes() -> None:
    cfg = load_config_text(CONFIG)
    again = load_config_text(cfg.to_yaml())
    keys = [(r.key(), r.receiver, r.group_wait, r.continue_) for r in build_routes(cfg).walk()]
    assert [(r.key(), r.receiver, r.group_wait, r.continue_) for r in build_routes(again).walk()] == keys
    assert again.to_yaml() == cfg.to_yaml()


def test_unmasked_round_trip_is_lossless() -> None:
    cfg = load_config_text(CONFIG)
    text = cfg.to_yaml(mask_secrets=False, include_extensions=True)
    again = load_config_text(text)
    assert again.to_yaml(mask_secrets=False, include_extensions=True) == text
    assert again.receivers[0].webhook_configs[0].url == cfg.receivers[0].webhook_configs[0].url
    assert again.receiver("mail").log_configs[0].level == "error"  # type: ignore[union-attr]


def test_extensions_left_out_unless_asked() -> None:
    cfg = load_config_text(CONFIG)
    assert "log_configs" not in cfg.to_yaml()
    assert "log_configs" in cfg.to_yaml(include_extensions=True)


def test_output_shapes() -> None:
    data = yaml.safe_load(load_config_text(CONFIG).to_yaml())
    assert set(data) == {"global", "route", "receivers", "inhibit_rules"}
    route = data["route"]
    assert route["routes"][0]["continue"] is True
    assert route["routes"][1]["group_wait"] == "1m30s"
    assert route["routes"][1]["matchers"] == ['service=~"^(?:db|cache)$"']
    assert "match_re" not in route["routes"][1]
    # Global fallbacks are shown where they apply, as Alertmanager's status page shows them.
    assert data["receivers"][2]["email_configs"][0]["smarthost"] == "mail:25"


@pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool (Debian prometheus-alertmanager) not installed"
)
@pytest.mark.parametrize("which", ["example", "default", "inline"])
def test_alertmanagers_parser_accepts_the_output(which: str, tmp_path: Path) -> None:
    if which == "example":
        example = Path(__file__).resolve().parents[3] / "examples" / "alertmanager.yml"
        cfg = load_config_text(example.read_text(), filename=str(example))
    elif which == "default":
        cfg = default_config()
    else:
        cfg = load_config_text(CONFIG)
    out = tmp_path / "status.yml"
    out.write_text(cfg.to_yaml())
    res = subprocess.run(
        ["amtool", "check-config", str(out)], capture_output=True, text=True, timeout=30, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
