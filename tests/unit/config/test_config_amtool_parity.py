"""Accept/reject parity with Alertmanager's own validator (amtool check-config, 0.25 on Debian)
over small configs that each exercise one rule. tocsin may word errors differently; what must
agree is whether a config is valid."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tocsin.config import ConfigError, load_config_text

R = "receivers:\n  - name: r\n"
TI = "route:\n  receiver: r\ntime_intervals:\n  - name: t\n    time_intervals: "
SMTP = "global:\n  smtp_smarthost: 'mail:25'\n  smtp_from: a@b\n"

CASES: dict[str, str] = {
    "minimal": "route:\n  receiver: r\n" + R,
    "no-receiver-on-root": "route:\n  group_by: [a]\n" + R,
    "unknown-receiver": "route:\n  receiver: x\n" + R,
    "unknown-top-key": "foo: 1\nroute:\n  receiver: r\n" + R,
    "unknown-route-key": "route:\n  receiver: r\n  recevier: r\n" + R,
    "root-matchers": "route:\n  receiver: r\n  matchers: [a=b]\n" + R,
    "root-continue": "route:\n  receiver: r\n  continue: true\n" + R,
    "group-by-all-mixed": "route:\n  receiver: r\n  group_by: ['...', a]\n" + R,
    "group-by-dup": "route:\n  receiver: r\n  group_by: [a, a]\n" + R,
    "group-by-all": "route:\n  receiver: r\n  group_by: ['...']\n" + R,
    "zero-group-interval": "route:\n  receiver: r\n  group_interval: 0s\n" + R,
    "zero-repeat-interval": "route:\n  receiver: r\n  repeat_interval: 0s\n" + R,
    "zero-group-wait": "route:\n  receiver: r\n  group_wait: 0s\n" + R,
    "bad-duration": "route:\n  receiver: r\n  group_wait: 5\n" + R,
    "bad-duration-order": "route:\n  receiver: r\n  group_wait: 5m1h\n" + R,
    "compound-duration": "route:\n  receiver: r\n  repeat_interval: 1d12h\n" + R,
    "bad-matcher": "route:\n  receiver: r\n  routes:\n    - matchers: ['a=~\"(\"']\n" + R,
    "brace-matchers": 'route:\n  receiver: r\n  routes:\n    - matchers: [\'{a="b", c=~"d|e"}\']\n' + R,
    "match-re-bad": "route:\n  receiver: r\n  routes:\n    - match_re: {a: '('}\n" + R,
    "dup-receiver": "route:\n  receiver: r\n" + R + "  - name: r\n",
    "receiver-no-name": "route:\n  receiver: r\n" + R + "  - webhook_configs: [{url: 'http://h/'}]\n",
    "webhook-ok": "route:\n  receiver: r\n"
    + R
    + "    webhook_configs: [{url: 'http://h/', max_alerts: 3}]\n",
    "webhook-no-url": "route:\n  receiver: r\n" + R + "    webhook_configs: [{send_resolved: true}]\n",
    "webhook-bad-scheme": "route:\n  receiver: r\n" + R + "    webhook_configs: [{url: 'ftp://h/'}]\n",
    "email-no-smarthost": "route:\n  receiver: r\n" + R + "    email_configs: [{to: a@b, from: c@d}]\n",
    "email-global": SMTP + "route:\n  receiver: r\n" + R + "    email_configs: [{to: a@b}]\n",
    "email-no-to": SMTP + "route:\n  receiver: r\n" + R + "    email_configs: [{from: c@d}]\n",
    "smarthost-no-port": "global:\n  smtp_smarthost: mail\nroute:\n  receiver: r\n" + R,
    "slack-no-url": "route:\n  receiver: r\n" + R + "    slack_configs: [{channel: '#a'}]\n",
    "pagerduty-no-key": "route:\n  receiver: r\n" + R + "    pagerduty_configs: [{severity: x}]\n",
    "pagerduty-ok": "route:\n  receiver: r\n" + R + "    pagerduty_configs: [{routing_key: k}]\n",
    "opsgenie-no-key": "route:\n  receiver: r\n" + R + "    opsgenie_configs: [{message: m}]\n",
    "victorops-no-routing-key": "global:\n  victorops_api_key: k\nroute:\n  receiver: r\n"
    + R
    + "    victorops_configs: [{message_type: CRITICAL}]\n",
    "pushover-no-token": "route:\n  receiver: r\n" + R + "    pushover_configs: [{user_key: u}]\n",
    "telegram-no-chat": "route:\n  receiver: r\n" + R + "    telegram_configs: [{bot_token: t}]\n",
    "sns-two-targets": "route:\n  receiver: r\n" + R + "    sns_configs: [{topic_arn: a, target_arn: b}]\n",
    "webex-no-auth": "route:\n  receiver: r\n" + R + "    webex_configs: [{room_id: x}]\n",
    "http-two-auths": "route:\n  receiver: r\n"
    + R
    + "    webhook_configs: [{url: 'http://h/',"
    + " http_config: {basic_auth: {username: u}, bearer_token: t}}]\n",
    "ti-ok": "route:\n  receiver: r\n  routes:\n    - mute_time_intervals: [t]\n"
    + R
    + "time_intervals:\n  - name: t\n    time_intervals:\n      - weekdays: ['monday:friday']\n"
    + "        times: [{start_time: '09:00', end_time: '17:00'}]\n        location: Europe/Paris\n",
    "ti-undefined": "route:\n  receiver: r\n  routes:\n    - mute_time_intervals: [nope]\n" + R,
    "ti-bad-weekday": R
    + "route:\n  receiver: r\ntime_intervals:\n  - name: t\n    time_intervals: [{weekdays: [funday]}]\n",
    "ti-bad-time": R
    + "route:\n  receiver: r\ntime_intervals:\n  - name: t\n    time_intervals:\n"
    + "      - times: [{start_time: '17:00', end_time: '09:00'}]\n",
    "ti-24": R
    + "route:\n  receiver: r\ntime_intervals:\n  - name: t\n    time_intervals:\n"
    + "      - times: [{start_time: '20:00', end_time: '24:00'}]\n",
    "ti-bad-location": R + TI + "[{location: Mars/X}]\n",
    "ti-negative-days": R + TI + "[{days_of_month: ['-7:-1', '1:5']}]\n",
    "ti-zero-day": R
    + "route:\n  receiver: r\ntime_intervals:\n  - name: t\n    time_intervals: [{days_of_month: ['0']}]\n",
    "ti-dup": R
    + "route:\n  receiver: r\ntime_intervals:\n  - {name: t, time_intervals: []}\n"
    + "mute_time_intervals:\n  - {name: t, time_intervals: []}\n",
    "root-active-ti": R
    + "route:\n  receiver: r\n  active_time_intervals: [t]\n"
    + "time_intervals:\n  - {name: t, time_intervals: []}\n",
    "inhibit-ok": "route:\n  receiver: r\n"
    + R
    + "inhibit_rules:\n  - source_matchers: [a=b]\n    target_matchers: [c=d]\n    equal: [x]\n",
    "inhibit-bad-equal": "route:\n  receiver: r\n" + R + "inhibit_rules:\n  - equal: ['x y']\n",
    "duplicate-key": "route:\n  receiver: r\n  receiver: r\n" + R,
    "empty": "",
}


def amtool_accepts(text: str, tmp: Path) -> bool:
    path = tmp / "am.yml"
    path.write_text(text)
    res = subprocess.run(["amtool", "check-config", str(path)], capture_output=True, text=True, timeout=30)
    return res.returncode == 0


def tocsin_accepts(text: str) -> bool:
    try:
        load_config_text(text)
    except ConfigError:
        return False
    return True


@pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool (Debian prometheus-alertmanager) not installed"
)
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_verdict_as_alertmanager(name: str, tmp_path: Path) -> None:
    text = CASES[name]
    assert tocsin_accepts(text) == amtool_accepts(text, tmp_path), name
