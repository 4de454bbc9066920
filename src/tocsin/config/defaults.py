"""The built-in config ``tocsin serve`` uses when no --config.file is given."""

from __future__ import annotations

from tocsin.config.loader import load_config_text
from tocsin.config.model import Config

#: Every alert goes to the built-in log receiver, grouped by alert name, with Alertmanager's
#: default timings written out so that the served /api/v2/status shows them.
DEFAULT_CONFIG_YAML = """\
global:
  resolve_timeout: 5m
route:
  receiver: log
  group_by: ['alertname']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: log
    log_configs:
      - send_resolved: true
"""


def default_config() -> Config:
    return load_config_text(DEFAULT_CONFIG_YAML, filename="<default config>")
