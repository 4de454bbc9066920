"""Route and inhibit rule schema: Alertmanager's validation, matchers in every accepted form."""

from __future__ import annotations

import pytest

from tocsin.config import ConfigError, load_config_text
from tocsin.matchers import MatchType

RECEIVERS = "receivers: [{name: r}, {name: s}]\n"


def err(route: str) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load_config_text(route + RECEIVERS, filename="am.yml")
    return e.value


def test_root_needs_a_receiver() -> None:
    e = err("route:\n  group_by: [a]\n")
    assert "root route must specify a default receiver" in str(e) and e.line == 1


@pytest.mark.parametrize(
    ("extra", "line", "needle"),
    [
        ("  matchers: [a=b]\n", 3, "root route must not have any matchers"),
        ("  match: {a: b}\n", 3, "root route must not have any matchers"),
        ("  continue: true\n", 3, "cannot have continue in root route"),
        ("  mute_time_intervals: [t]\n", 3, "root route must not have any mute time intervals"),
        ("  active_time_intervals: [t]\n", 3, "root route must not have any active time intervals"),
    ],
)
def test_root_restrictions(extra: str, line: int, needle: str) -> None:
    text = "time_intervals: [{name: t, time_intervals: []}]\nroute:\n" + extra + "  receiver: r\n"
    e = err(text)
    assert needle in str(e)
    assert e.line == line


@pytest.mark.parametrize(
    ("group_by", "needle"),
    [
        ("[alertname, '...']", "cannot have wildcard group_by"),
        ("[a, a]", "duplicated label 'a' in group_by"),
        ("['bad-name']", "invalid label name 'bad-name' in group_by list"),
    ],
)
def test_group_by_validation(group_by: str, needle: str) -> None:
    e = err(f"route:\n  receiver: r\n  group_by: {group_by}\n")
    assert needle in str(e) and e.line == 3


def test_group_by_all() -> None:
    cfg = load_config_text("route:\n  receiver: r\n  group_by: ['...']\n" + RECEIVERS)
    assert cfg.route.group_by_all and cfg.route.group_by_labels is None


@pytest.mark.parametrize("field", ["group_interval", "repeat_interval"])
def test_zero_intervals_rejected(field: str) -> None:
    e = err(f"route:\n  receiver: r\n  routes:\n    - {field}: 0s\n")
    assert f"{field} cannot be zero" in str(e) and e.line == 4


def test_group_wait_zero_is_fine() -> None:
    cfg = load_config_text("route:\n  receiver: r\n  group_wait: 0s\n" + RECEIVERS)
    assert cfg.route.group_wait == 0.0


def test_matchers_every_form() -> None:
    cfg = load_config_text(
        """route:
  receiver: r
  routes:
    - matchers:
        - severity="critical"
        - 'team=~"db|web", env!=staging'
        - '{instance!~"test.*"}'
        - foo = bar
"""
        + RECEIVERS
    )
    ms = cfg.route.routes[0].matchers
    assert [(m.name, m.op, m.value) for m in ms] == [
        ("severity", MatchType.EQUAL, "critical"),
        ("team", MatchType.REGEX, "db|web"),
        ("env", MatchType.NOT_EQUAL, "staging"),
        ("instance", MatchType.NOT_REGEX, "test.*"),
        ("foo", MatchType.EQUAL, "bar"),
    ]


@pytest.mark.parametrize(
    ("matchers", "needle"),
    [
        ("['a=~\"(\"']", "invalid matcher"),
        ("'a=b'", "matchers must be a list of strings"),
        ("[{a: b}]", "matcher must be a string"),
        ("['a ~ b']", "invalid matcher"),
    ],
)
def test_bad_matchers_named_with_line(matchers: str, needle: str) -> None:
    e = err(f"route:\n  receiver: r\n  routes:\n    - receiver: s\n      matchers: {matchers}\n")
    assert needle in str(e) and e.line == 5


def test_deprecated_match_converted_and_validated() -> None:
    cfg = load_config_text(
        "route:\n  receiver: r\n  routes:\n"
        "    - match: {a: '1'}\n      match_re: {b: 'x|y'}\n      matchers: [c=d]\n" + RECEIVERS
    )
    ms = cfg.route.routes[0].matchers
    assert [str(m) for m in ms] == ['a="1"', 'b=~"^(?:x|y)$"', 'c="d"']
    assert ms[1].matches_value("x") and not ms[1].matches_value("xy")
    assert "invalid label name 'bad-name'" in str(
        err("route:\n  receiver: r\n  routes:\n    - match: {bad-name: x}\n")
    )
    assert "invalid regexp value for 'b'" in str(
        err("route:\n  receiver: r\n  routes:\n    - match_re: {b: '('}\n")
    )


def test_inhibit_rules() -> None:
    cfg = load_config_text(
        """route: {receiver: r}
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: ['severity=~"warning|info"']
    equal: [alertname, cluster]
  - source_match: {alertname: Down}
    source_match_re: {env: prod}
    target_match: {severity: page}
    target_match_re: {team: '.+'}
"""
        + RECEIVERS
    )
    first, second = cfg.inhibit_rules
    assert [str(m) for m in first.source_matchers] == ['severity="critical"']
    assert first.equal == ["alertname", "cluster"]
    assert [str(m) for m in second.source_matchers] == ['alertname="Down"', 'env=~"^(?:prod)$"']
    assert [str(m) for m in second.target_matchers] == ['severity="page"', 'team=~"^(?:.+)$"']
    assert second.equal == []


def test_inhibit_rule_equal_label_names_checked() -> None:
    e = err("route: {receiver: r}\ninhibit_rules:\n  - equal: ['not valid']\n")
    assert "invalid label name 'not valid' in equal list" in str(e) and e.line == 3
