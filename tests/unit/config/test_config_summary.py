"""What `tocsin check-config` prints."""

from __future__ import annotations

from tocsin.config import default_config, load_config_text, summarize

CONFIG = """
templates: ['/etc/tocsin/*.tmpl']
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
      group_wait: 5s
    - matchers: [team=db]
      receiver: db
      group_by: ['...']
      mute_time_intervals: [nights]
      routes:
        - matchers: [env=dev]
          receiver: default
receivers: [{name: default}, {name: pager}, {name: db}]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
time_intervals: [{name: nights, time_intervals: [{times: [{start_time: '22:00', end_time: '24:00'}]}]}]
"""


def test_counts_like_amtool_check_config() -> None:
    text = summarize(load_config_text(CONFIG))
    head = text.split("\n\n")[0].splitlines()
    assert head == [
        "Found:",
        " - global config",
        " - route",
        " - 1 inhibit rules",
        " - 3 receivers",
        " - 1 templates",
        "   - /etc/tocsin/*.tmpl",
        " - 1 time intervals",
    ]


def test_route_tree_rendering() -> None:
    text = summarize(load_config_text(CONFIG))
    tree = text.split("Routing tree:\n")[1].splitlines()
    assert tree == [
        "└── default-route  receiver: default  group_by: [alertname]  group_wait: 30s  group_interval: 5m"
        "  repeat_interval: 4h",
        '    ├── {severity="critical"}  continue: true  receiver: pager  group_by: [alertname]'
        "  group_wait: 5s",
        '    └── {team="db"}  receiver: db  group_by: [...]  mute: [nights]',
        '        └── {env="dev"}  receiver: default  group_by: [...]',
    ]


def test_default_config_summary() -> None:
    text = summarize(default_config())
    assert " - 1 receivers" in text
    assert "└── default-route  receiver: log  group_by: [alertname]" in text
