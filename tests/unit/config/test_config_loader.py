"""Loading from text, files and dicts; errors carry file:line and name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.config import (
    DEFAULT_CONFIG_YAML,
    Config,
    ConfigError,
    default_config,
    load_config_dict,
    load_config_file,
    load_config_text,
)

MINIMAL = "route:\n  receiver: r\nreceivers:\n  - name: r\n"


def error_of(text: str, filename: str = "am.yml") -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load_config_text(text, filename=filename)
    return e.value


def test_minimal_config_gets_alertmanager_defaults() -> None:
    cfg = load_config_text(MINIMAL)
    assert cfg.route.receiver == "r"
    assert cfg.global_.resolve_timeout == 300.0
    assert cfg.global_.smtp_require_tls is True
    assert cfg.global_.smtp_hello == "localhost"
    assert cfg.global_.pagerduty_url == "https://events.pagerduty.com/v2/enqueue"
    assert cfg.receivers[0].name == "r" and cfg.receivers[0].integrations() == []
    assert cfg.inhibit_rules == [] and cfg.templates == [] and cfg.time_intervals == {}
    assert cfg.original == MINIMAL


def test_yaml_keys_spelled_as_alertmanager_does() -> None:
    cfg = load_config_text(
        "global:\n  resolve_timeout: 1m\n"
        "route:\n  receiver: r\n  routes:\n    - receiver: r\n      continue: true\n"
        "receivers: [{name: r}]\n"
    )
    assert cfg.global_.resolve_timeout == 60.0
    assert cfg.route.routes[0].continue_ is True


def test_python_attribute_names_are_not_yaml_keys() -> None:
    err = error_of("global_: {}\n" + MINIMAL)
    assert err.line == 1
    assert "unknown field 'global_'" in err.message
    nested = error_of(
        "route:\n  receiver: r\n  routes:\n    - continue_: true\n"
        + MINIMAL[len("route:\n  receiver: r\n") :]
    )
    assert nested.line == 4 and "unknown field 'continue_' in route.routes[0]" in nested.message


def test_error_format_is_file_line_message() -> None:
    err = error_of(MINIMAL.replace("  receiver: r\n", "  receiver: r\n  group_wait: soon\n"))
    assert err.filename == "am.yml"
    assert err.line == 3
    assert "route.group_wait" in err.message and "'soon'" in err.message
    assert str(err) == f"am.yml:3: {err.message}"
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("bogus: 1\n" + MINIMAL, 1, "bogus"),
        ("route:\n  receiver: r\n  recevier: r\nreceivers: [{name: r}]\n", 3, "recevier"),
        (
            "route: {receiver: r}\nreceivers:\n  - name: r\n"
            "    webhook_configs:\n      - url: http://h/\n        urls: x\n",
            6,
            "urls",
        ),
        ("route: {receiver: r}\nreceivers:\n  - name: r\n    smtp_configs: []\n", 4, "smtp_configs"),
        ("global:\n  smtp_host: x\n" + MINIMAL, 2, "smtp_host"),
        (
            "route: {receiver: r}\nreceivers: [{name: r}]\n"
            "inhibit_rules:\n  - source_matchers: [a=b]\n    equals: [x]\n",
            5,
            "equals",
        ),
    ],
)
def test_unknown_keys_are_errors_naming_the_key_and_line(text: str, line: int, key: str) -> None:
    err = error_of(text)
    assert err.line == line
    assert f"unknown field {key!r}" in err.message


def test_missing_required_field_points_at_its_mapping() -> None:
    text = (
        "global: {smtp_smarthost: 'h:25', smtp_from: a@b}\n"
        + MINIMAL
        + "    email_configs:\n      - send_resolved: true\n"
    )
    err = error_of(text)
    assert err.line == 7
    assert "missing required field 'to'" in err.message
    assert "receivers[0].email_configs[0]" in err.message


def test_several_errors_are_reported_together_in_line_order() -> None:
    text = """route:
  receiver: r
  group_wait: x
  routes:
    - receiver: r
      matchers: ['a=~"("']
receivers:
  - name: r
    webhook_configs:
      - url: 'ftp://example.org/hook'
"""
    err = error_of(text)
    lines = [i.line for i in err.issues]
    assert lines == [3, 6, 10]
    text_lines = str(err).splitlines()
    assert len(text_lines) == 3
    assert text_lines[1].startswith("am.yml:6: route.routes[0].matchers: invalid matcher")
    assert "unsupported scheme 'ftp'" in text_lines[2]


def test_semantic_errors_are_reported_together() -> None:
    text = """route:
  receiver: nobody
  routes:
    - receiver: also-nobody
      active_time_intervals: [never]
receivers:
  - name: r
  - name: r
"""
    err = error_of(text)
    msgs = str(err)
    assert "am.yml:2: route.receiver: undefined receiver 'nobody' used in route" in msgs
    assert "am.yml:4: route.routes[0].receiver: undefined receiver 'also-nobody'" in msgs
    assert "am.yml:5: route.routes[0].active_time_intervals[0]: undefined time interval 'never'" in msgs
    assert "am.yml:8: receivers[1].name: receiver name 'r' is not unique" in msgs


def test_invalid_yaml_points_at_the_line() -> None:
    err = error_of("route:\n  receiver: r\n  group_by: [a, b\nreceivers: []\n")
    assert err.line is not None and err.line >= 3
    assert err.message.startswith("invalid YAML")


def test_empty_and_non_mapping_documents() -> None:
    assert "no route provided" in error_of("").message
    assert "no route provided" in error_of("# only a comment\n").message
    assert "YAML mapping" in error_of("- a\n- b\n").message
    assert "no route provided" in error_of("receivers: [{name: r}]\n").message


def test_duplicate_keys_are_errors() -> None:
    err = error_of("route:\n  receiver: r\n  receiver: s\nreceivers: [{name: r}, {name: s}]\n")
    assert err.line == 3
    assert "'receiver' already set" in err.message


def test_null_values_mean_not_set() -> None:
    cfg = load_config_text(
        "global:\nroute:\n  receiver: r\n  routes:\n  group_by:\nreceivers:\n  - name: r\ninhibit_rules:\n"
    )
    assert cfg.route.routes == [] and cfg.route.group_by is None and cfg.inhibit_rules == []


def test_numbers_accepted_where_text_is_expected_like_go() -> None:
    cfg = load_config_text(MINIMAL + "    pagerduty_configs:\n      - routing_key: 12345\n")
    assert cfg.receivers[0].pagerduty_configs[0].routing_key == "12345"


def test_yaml_dates_stay_text() -> None:
    cfg = load_config_text(MINIMAL + "    pagerduty_configs:\n      - routing_key: 2024-01-01\n")
    assert cfg.receivers[0].pagerduty_configs[0].routing_key == "2024-01-01"


def test_load_file_resolves_templates_and_http_files_relative_to_it(tmp_path: Path) -> None:
    conf = tmp_path / "etc" / "am.yml"
    conf.parent.mkdir()
    conf.write_text(
        "templates: ['tmpl/*.tmpl', '/abs/x.tmpl']\n"
        "route: {receiver: r}\n"
        "receivers:\n  - name: r\n    webhook_configs:\n      - url: http://h/\n"
        "        http_config: {bearer_token_file: token, tls_config: {ca_file: ca.pem}}\n"
    )
    cfg = load_config_file(conf)
    assert cfg.templates == [str(conf.parent / "tmpl" / "*.tmpl"), "/abs/x.tmpl"]
    http = cfg.receivers[0].webhook_configs[0].http_config
    assert http is not None and http.tls_config is not None
    assert http.bearer_token_file == str(conf.parent / "token")
    assert http.tls_config.ca_file == str(conf.parent / "ca.pem")


def test_load_text_without_a_path_leaves_templates_alone() -> None:
    cfg = load_config_text("templates: ['t/*.tmpl']\n" + MINIMAL)
    assert cfg.templates == ["t/*.tmpl"]


def test_load_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match="cannot read config file") as e:
        load_config_file(missing)
    assert e.value.filename == str(missing) and e.value.line is None
    bad = tmp_path / "bad.yml"
    bad.write_text("route:\n  receiver: r\n  continue: maybe\nreceivers: [{name: r}]\n")
    with pytest.raises(ConfigError) as e2:
        load_config_file(bad)
    assert str(e2.value).startswith(f"{bad}:3: route.continue:")


def test_load_dict_is_the_same_schema() -> None:
    data = {
        "global": {"resolve_timeout": "1m"},
        "route": {
            "receiver": "r",
            "group_by": ["alertname"],
            "routes": [{"matchers": ['a="b"'], "continue": True}],
        },
        "receivers": [{"name": "r", "webhook_configs": [{"url": "http://127.0.0.1:9/hook"}]}],
    }
    cfg = load_config_dict(data)
    assert isinstance(cfg, Config)
    assert cfg.global_.resolve_timeout == 60.0
    assert cfg.route.routes[0].continue_
    assert "webhook_configs" in cfg.original
    assert load_config_text(cfg.original).to_yaml() == cfg.to_yaml()


def test_load_dict_accepts_matcher_objects() -> None:
    from tocsin.matchers import parse_matcher

    cfg = load_config_dict(
        {
            "route": {"receiver": "r", "routes": [{"matchers": [parse_matcher('a=~"x|y"')]}]},
            "receivers": [{"name": "r"}],
        }
    )
    assert [str(m) for m in cfg.route.routes[0].matchers] == ['a=~"x|y"']
    assert 'a=~"x|y"' in cfg.original


def test_load_dict_errors_have_no_line_but_a_path() -> None:
    with pytest.raises(ConfigError) as e:
        load_config_dict({"route": {"receiver": "r", "nope": 1}, "receivers": [{"name": "r"}]})
    assert e.value.line is None
    assert str(e.value) == "<dict>: unknown field 'nope' in route"
    with pytest.raises(ConfigError, match="undefined receiver 'x'"):
        load_config_dict({"route": {"receiver": "x"}})
    with pytest.raises(ConfigError, match="YAML mapping"):
        load_config_dict(["route"])  # type: ignore[arg-type]


def test_time_intervals_merged_from_both_sections() -> None:
    cfg = load_config_text(
        MINIMAL
        + "time_intervals: [{name: a, time_intervals: [{weekdays: [monday]}]}]\n"
        + "mute_time_intervals: [{name: b, time_intervals: [{months: [may]}]}]\n"
    )
    assert set(cfg.time_intervals) == {"a", "b"}
    assert cfg.time_intervals["a"][0].weekdays == ["monday"]


def test_duplicate_time_interval_names_across_sections() -> None:
    err = error_of(
        MINIMAL
        + "mute_time_intervals: [{name: a, time_intervals: []}]\n"
        + "time_intervals:\n  - name: a\n    time_intervals: []\n"
    )
    assert err.line == 7 and "time interval 'a' is not unique" in err.message


def test_default_config() -> None:
    cfg = default_config()
    assert cfg.route.receiver == "log"
    assert cfg.route.group_by == ["alertname"]
    assert (cfg.route.group_wait, cfg.route.group_interval, cfg.route.repeat_interval) == (
        30.0,
        300.0,
        14400.0,
    )
    log = cfg.receiver("log")
    assert log is not None and len(log.log_configs) == 1 and log.log_configs[0].send_resolved
    assert cfg.original == DEFAULT_CONFIG_YAML
    assert cfg.receiver("missing") is None
    assert cfg.receiver_names() == ["log"]
