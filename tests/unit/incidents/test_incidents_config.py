"""The incidents config: the example file loads, and bad input gets a clear, located error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.config.errors import ConfigError
from tocsin.incidents.config import load_incidents_file, load_incidents_text
from tocsin.incidents.escalation import SelectMode, TargetKind

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "incidents.yml"

BASE = """users:
  - {id: ana, email: ana@example.com}
  - {id: bob, email: bob@example.com}
"""


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load_incidents_text(text, "incidents.yml")
    return e.value


def test_example_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_LINK_SECRET", "an-example-secret-of-32-bytes!!!")
    setup = load_incidents_file(str(EXAMPLE))
    assert sorted(setup.directory.users) == ["ana", "bob", "carla", "dan"]
    assert setup.policies["databases"].levels[1].targets[0].kind is TargetKind.POLICY
    assert setup.policies["default"].levels[1].select is SelectMode.ONE
    assert setup.slas["P1"].ack == 300 and setup.slas["P3"].business_hours is not None
    assert setup.policy_for({"team": "dba"}) == "databases"
    assert setup.skills_for({"service": "postgres", "skill": "kafka"}) == {"postgres", "kafka"}
    assert setup.link_secrets == (b"an-example-secret-of-32-bytes!!!",)


def test_example_files_work_together(monkeypatch: pytest.MonkeyPatch) -> None:
    # The command in docs/incidents.md serves the two examples side by side.
    from tocsin.config import load_config_file
    from tocsin.incidents.crosscheck import cross_check

    monkeypatch.setenv("TOCSIN_LINK_SECRET", "an-example-secret-of-32-bytes!!!")
    setup = load_incidents_file(str(EXAMPLE))
    assert cross_check(load_config_file(EXAMPLE.parent / "alertmanager.yml"), setup) == []
    assert setup.correlation is not None and ("checkout", "postgres") in setup.correlation.edges


def test_example_file_without_secret_env_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOCSIN_LINK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="environment variable 'TOCSIN_LINK_SECRET' is not set"):
        load_incidents_file(str(EXAMPLE))


def test_unknown_user_in_schedule_names_user_layer_and_line() -> None:
    e = error(
        BASE
        + """schedules:
  - name: primary
    time_zone: UTC
    layers:
      - name: weekly
        start: "2026-01-05T09:00"
        rotation: {unit: weeks}
        users: [ana, zoe]
"""
    )
    assert e.line == 11
    assert "schedules[0].layers[0].users[1]: schedule 'primary', layer 'weekly': unknown user 'zoe'" in str(e)


def test_overlapping_overrides() -> None:
    e = error(
        BASE
        + """schedules:
  - name: primary
    time_zone: Europe/Paris
    overrides:
      - {user: ana, start: "2026-03-10T18:00", end: "2026-03-11T09:00"}
      - {user: bob, start: "2026-03-11T08:00", end: "2026-03-11T12:00"}
"""
    )
    assert e.line == 9
    assert "override for 'bob' overlaps the override for 'ana'" in str(e)


def test_invalid_time_zone() -> None:
    e = error(BASE + "schedules:\n  - {name: s, time_zone: Europe/Pariss}\n")
    assert "schedules[0].time_zone: invalid time zone 'Europe/Pariss'" in str(e)
    assert e.line == 5
    e = error(BASE.replace("{id: bob,", "{id: bob, time_zone: Moon/Base,"))
    assert "users[1].time_zone: invalid time zone 'Moon/Base'" in str(e)


def test_cyclic_policies() -> None:
    e = error(
        BASE
        + """escalation_policies:
  - name: a
    levels: [{targets: [{user: ana}]}, {targets: [{policy: b}]}]
  - name: b
    levels: [{targets: [{policy: c}]}]
  - name: c
    levels: [{targets: [{policy: a}]}]
"""
    )
    assert "escalation policies hand off to each other in a cycle: a -> b -> c -> a" in str(e)
    assert e.line == 5


def test_self_handoff_is_a_cycle() -> None:
    e = error(BASE + "escalation_policies:\n  - name: a\n    levels: [{targets: [{policy: a}]}]\n")
    assert "cycle: a -> a" in str(e)


def test_every_problem_is_reported_at_once() -> None:
    e = error(
        BASE
        + """teams:
  - {id: ops, members: [ana, ghost]}
escalation_policies:
  - name: p
    business_hours: nine-to-five
    levels:
      - {targets: [{team: nops}, {schedule: nope}]}
default_policy: q
"""
    )
    text = str(e)
    for expected in (
        "team 'ops': unknown user 'ghost'",
        "unknown business hours 'nine-to-five'",
        "policy 'p': unknown team 'nops'",
        "policy 'p': unknown schedule 'nope'",
        "default_policy: unknown escalation policy 'q'",
    ):
        assert expected in text
    assert len(e.issues) == 5


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            "escalation_policies:\n  - {name: p, levels: [{targets: [{user: ana, team: x}]}]}\n",
            "exactly one of",
        ),
        (
            "escalation_policies:\n  - {name: p, levels: [{targets: [{user: ana}], wait: 10s}]}\n",
            "at least 1m",
        ),
        (
            "escalation_policies:\n  - {name: p, levels: [{targets: [{user: ana}], wait: 5}]}\n",
            "a unit is required",
        ),
        ("escalation_policies:\n  - {name: p, levels: []}\n", "at least 1 item"),
        (
            "escalation_policies:\n  - {name: p, repeat: 20, levels: [{targets: [{user: ana}]}]}\n",
            "less than or equal to 9",
        ),
        (
            "escalation_policies:\n  - {name: p, levels: [{targets: [{policy: p2}, {user: ana}]}]}\n"
            "  - {name: p2, levels: [{targets: [{user: ana}]}]}\n",
            "cannot have other targets",
        ),
        ("slas:\n  - {priority: P7, ack: 5m}\n", "slas[0].priority"),
        ("slas:\n  - {priority: P1}\n", "sets neither ack nor resolve"),
        ("slas:\n  - {priority: P1, ack: 5m, warn_at: 1.5}\n", "less than 1"),
        (
            "business_hours:\n  - {name: b, time_zone: UTC, start: '25:00', end: '18:00'}\n",
            "invalid time of day '25:00'",
        ),
        (
            "business_hours:\n  - {name: b, time_zone: UTC, days: [funday], start: '09:00', end: '18:00'}\n",
            "invalid weekday",
        ),
        (
            "business_hours:\n  - {name: b, time_zone: UTC, start: '09:00', end: '18:00',"
            " holidays: {country: XX}}\n",
            "unknown holiday country 'XX'",
        ),
        ("links: {secrets: [short]}\n", "at least 16 bytes"),
        ("colour: blue\n", "unknown field 'colour'"),
        ("teams:\n  - {id: t, members: [ana]}\n  - {id: t, members: [bob]}\n", "duplicate team id 't'"),
        ("default_policy: a\ndefault_policy: b\n", "key 'default_policy' already set"),
        ("policy_routes:\n  - {matchers: ['team=~\"(\"'], policy: p}\n", "policy_routes[0].matchers"),
    ],
)
def test_field_errors(snippet: str, message: str) -> None:
    assert message in str(error(BASE + snippet))


def test_duplicate_user_id() -> None:
    e = error(BASE + "  - {id: ana, email: other@example.com}\n")
    assert "users[2]: duplicate user id 'ana'" in str(e) and e.line == 4


def test_unquoted_phone_number_is_refused() -> None:
    e = error("users:\n  - {id: ana, phone: +33600000001}\n")
    assert "users[0].phone: phone 33600000001 must be quoted text" in str(e)


def test_notification_rule_needs_the_contact() -> None:
    e = error("users:\n  - {id: ana, email: a@x, notification_rules: [{via: sms, after: 5m}]}\n")
    assert "notification rule uses 'sms' but the user has no phone" in str(e)


def test_override_at_missing_or_repeated_local_time_is_refused() -> None:
    sched = """schedules:
  - name: s
    time_zone: Europe/Paris
    overrides:
      - {user: ana, start: "%s", end: "2026-10-26T09:00"}
"""
    e = error(BASE + sched % "2026-03-29T02:30")
    assert "does not exist in Europe/Paris" in str(e)
    e = error(BASE + sched % "2026-10-25T02:30")
    assert "occurs twice in Europe/Paris" in str(e)
    # With an explicit offset there is no doubt, so it is accepted.
    ok = load_incidents_text(BASE + sched % "2026-10-25T02:30+01:00")
    assert ok.schedules["s"].overrides[0].start == 1792891800.0


def test_layer_start_must_be_local() -> None:
    e = error(
        BASE + "schedules:\n  - name: s\n    time_zone: UTC\n    layers:\n"
        '      - {name: l, start: "2026-01-01T09:00Z",'
        " rotation: {unit: days}, users: [ana]}\n"
    )
    assert "give a local wall time without offset" in str(e)


def test_invalid_yaml_has_a_line() -> None:
    e = error("users:\n  - {id: ana\n")
    assert e.line is not None and "invalid YAML" in str(e)


def test_empty_config_is_valid_and_pages_nobody() -> None:
    setup = load_incidents_text("")
    assert setup.policies == {} and setup.default_policy is None
