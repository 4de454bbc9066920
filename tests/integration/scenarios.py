"""Timing scenarios played against the real Alertmanager and tocsin side by side.

One configuration holds every scenario under its own ``scenario="..."`` route, so all scenarios run
at once against one pair of servers and the whole comparison takes as long as the longest one.
Each scenario is a script of timed steps; a step is applied to Alertmanager and tocsin back to
back, so both see the same alerts (same label sets, same startsAt/endsAt strings) within
milliseconds of each other.

Timings are chosen so that no event lands within half a second of a group tick: a decision that
depends on which side of a tick an event falls would make the comparison flaky, not stricter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from peers import Server, WebhookSink, http, post_json

RESOLVE_TIMEOUT = 4.0

#: Receiver names, one webhook path each: /<server>/<receiver>.
RECEIVERS = [
    "default",
    "batch",
    "repeat",
    "resolve-ends",
    "resolve-timeout",
    "sr-on",
    "sr-off",
    "c-first",
    "c-second",
    "c-third",
    "inhibit",
    "silence",
    "m-muted",
    "m-open",
    "payload",
]

ROUTES = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: [scenario="batch"]
      receiver: batch
      group_wait: 2s
      group_interval: 3s
    - matchers: [scenario="repeat"]
      receiver: repeat
      repeat_interval: 5s
    - matchers: [scenario="resolve-ends"]
      receiver: resolve-ends
    - matchers: [scenario="resolve-timeout"]
      receiver: resolve-timeout
    - matchers: [scenario="sendres"]
      receiver: sr-on
      continue: true
    - matchers: [scenario="sendres"]
      receiver: sr-off
    - matchers: [scenario="cont"]
      receiver: c-third
      routes:
        - receiver: c-first
          continue: true
        - matchers: [severity="page"]
          receiver: c-second
        - receiver: c-third
    - matchers: [scenario="inhibit"]
      receiver: inhibit
    - matchers: [scenario="silence"]
      receiver: silence
      group_by: [scenario]
    - matchers: [scenario="mute"]
      receiver: m-open
      routes:
        - receiver: m-muted
          mute_time_intervals: [always]
          continue: true
        - receiver: m-open
          mute_time_intervals: [never]
          active_time_intervals: [always]
    - matchers: [scenario="payload"]
      receiver: payload
      group_by: [alertname, cluster]

inhibit_rules:
  - source_matchers: [scenario="inhibit", severity="critical"]
    target_matchers: [scenario="inhibit", severity="warning"]
    equal: [cluster]

time_intervals:
  - name: always
    time_intervals:
      - weekdays: ["sunday:saturday"]
  - name: never
    time_intervals:
      - years: ["1999"]
"""


def config_yaml(sink_url: str, who: str) -> str:
    """The shared configuration; only the webhook URLs differ between the two servers."""
    lines = [f"global:\n  resolve_timeout: {int(RESOLVE_TIMEOUT)}s", ROUTES, "receivers:"]
    for name in RECEIVERS:
        lines.append(f"  - name: {name}")
        lines.append("    webhook_configs:")
        lines.append(f"      - url: {sink_url}/{who}/{name}")
        if name == "sr-off":
            lines.append("        send_resolved: false")
        if name == "payload":
            lines.append("        max_alerts: 2")
    return "\n".join(lines) + "\n"


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Step:
    at: float
    action: Callable[[Server, dict[str, Any]], None]


@dataclass
class Scenario:
    name: str
    receivers: list[str]
    steps: list[Step] = field(default_factory=list)
    #: Expected batches per receiver as (seconds after start, status, {alertname: status}).
    expected: dict[str, list[tuple[float, str, dict[str, str]]]] = field(default_factory=dict)


def alert(
    scenario: str, name: str, t0: float, ends_in: float | None = 600.0, **labels: str
) -> dict[str, Any]:
    """An alert starting at the scenario's start; ``ends_in=None`` leaves endsAt to resolve_timeout."""
    a: dict[str, Any] = {"labels": {"scenario": scenario, "alertname": name, **labels}}
    if ends_in is not None:
        a["startsAt"] = rfc3339(t0)
        a["endsAt"] = rfc3339(t0 + ends_in)
    return a


def post(*make: Callable[[float], dict[str, Any]]) -> Callable[[Server, dict[str, Any]], None]:
    def act(server: Server, state: dict[str, Any]) -> None:
        r = post_json(server.api("alerts"), [m(state["t0"]) for m in make])
        assert r.status == 200, (server.name, r.status, r.body)

    return act


def add_silence(key: str, matchers: list[dict[str, Any]]) -> Callable[[Server, dict[str, Any]], None]:
    def act(server: Server, state: dict[str, Any]) -> None:
        now = time.time()
        body = {
            "matchers": matchers,
            "startsAt": rfc3339(now - 1),
            "endsAt": rfc3339(now + 3600),
            "createdBy": "parity-test",
            "comment": "scenario silence",
        }
        r = post_json(server.api("silences"), body)
        assert r.status == 200, (server.name, r.status, r.body)
        state[key] = r.json()["silenceID"]

    return act


def delete_silence(key: str) -> Callable[[Server, dict[str, Any]], None]:
    def act(server: Server, state: dict[str, Any]) -> None:
        r = http("DELETE", server.api(f"silence/{state[key]}"))
        assert r.status == 200, (server.name, r.status, r.body)

    return act


def build() -> list[Scenario]:
    """Every scenario with its script and the batches Alertmanager's rules predict."""
    out: list[Scenario] = []
    F, R = "firing", "resolved"

    # group_wait batches the first alerts; later ones wait for the next group_interval tick.
    s = Scenario("batch", ["batch"])
    s.steps = [
        Step(0.0, post(lambda t0: alert("batch", "Batch", t0, instance="a"))),
        Step(0.5, post(lambda t0: alert("batch", "Batch", t0, instance="b"))),
        Step(3.0, post(lambda t0: alert("batch", "Batch", t0, instance="c"))),
    ]
    s.expected["batch"] = [(2, F, {"a": F, "b": F}), (5, F, {"a": F, "b": F, "c": F})]
    out.append(s)

    # repeat_interval 5s on 2s ticks: the repeat goes out on the first tick after 5s has passed.
    s = Scenario("repeat", ["repeat"])
    s.steps = [Step(0.0, post(lambda t0: alert("repeat", "Repeat", t0, instance="a")))]
    s.expected["repeat"] = [(1, F, {"a": F}), (7, F, {"a": F}), (13, F, {"a": F})]
    out.append(s)

    # An explicit endsAt resolves the alert; the resolved notice goes out on the next tick.
    s = Scenario("resolve-ends", ["resolve-ends"])
    s.steps = [
        Step(
            0.0,
            post(
                lambda t0: alert("resolve-ends", "Ends", t0, ends_in=4.0, instance="a"),
                lambda t0: alert("resolve-ends", "Ends", t0, instance="b"),
            ),
        )
    ]
    s.expected["resolve-ends"] = [(1, F, {"a": F, "b": F}), (5, F, {"a": R, "b": F})]
    out.append(s)

    # No endsAt: the server gives now + resolve_timeout (4s), so the group resolves at the 5s tick.
    s = Scenario("resolve-timeout", ["resolve-timeout"])
    s.steps = [Step(0.0, post(lambda t0: alert("resolve-timeout", "Timeout", t0, None, instance="a")))]
    s.expected["resolve-timeout"] = [(1, F, {"a": F}), (5, R, {"a": R})]
    out.append(s)

    # Two receivers for the same alerts (continue: true): only sr-on hears about resolutions.
    s = Scenario("sendres", ["sr-on", "sr-off"])
    s.steps = [
        Step(
            0.0,
            post(
                lambda t0: alert("sendres", "SendRes", t0, ends_in=4.0, instance="a"),
                lambda t0: alert("sendres", "SendRes", t0, ends_in=8.0, instance="b"),
            ),
        )
    ]
    s.expected["sr-on"] = [(1, F, {"a": F, "b": F}), (5, F, {"a": R, "b": F}), (9, R, {"b": R})]
    s.expected["sr-off"] = [(1, F, {"a": F, "b": F})]
    out.append(s)

    # continue: the first child passes on; the page alert stops at c-second, the info one at c-third.
    s = Scenario("cont", ["c-first", "c-second", "c-third"])
    s.steps = [
        Step(
            0.0,
            post(
                lambda t0: alert("cont", "Cont", t0, instance="a", severity="page"),
                lambda t0: alert("cont", "Cont", t0, instance="b", severity="info"),
            ),
        )
    ]
    s.expected["c-first"] = [(1, F, {"a": F, "b": F})]
    s.expected["c-second"] = [(1, F, {"a": F})]
    s.expected["c-third"] = [(1, F, {"b": F})]
    out.append(s)

    # Inhibition with equal: [cluster]; once the source resolves, the target is let through.
    s = Scenario("inhibit", ["inhibit"])
    s.steps = [
        Step(
            0.0,
            post(
                lambda t0: alert("inhibit", "InhCrit", t0, ends_in=4.0, severity="critical", cluster="a"),
                lambda t0: alert("inhibit", "InhWarn", t0, severity="warning", cluster="a"),
                lambda t0: alert("inhibit", "InhWarn", t0, severity="warning", cluster="b"),
            ),
        )
    ]
    s.expected["inhibit"] = [
        (1, F, {"InhCrit:a": F}),
        (1, F, {"InhWarn:b": F}),  # cluster a inhibited
        (5, R, {"InhCrit:a": R}),
        (5, F, {"InhWarn:a": F, "InhWarn:b": F}),  # the source resolved: a is let through
    ]
    out.append(s)

    # A silence made before the alerts hides SilA; deleting it lets SilA out at the next tick.
    s = Scenario("silence", ["silence"])
    s.steps = [
        Step(
            0.0,
            add_silence(
                "sil",
                [
                    {"name": "scenario", "value": "silence", "isRegex": False, "isEqual": True},
                    {"name": "alertname", "value": "SilA", "isRegex": False, "isEqual": True},
                ],
            ),
        ),
        Step(
            0.1,
            post(
                lambda t0: alert("silence", "SilA", t0, instance="a"),
                lambda t0: alert("silence", "SilB", t0, instance="b"),
            ),
        ),
        Step(2.0, delete_silence("sil")),
    ]
    s.expected["silence"] = [(1.1, F, {"b": F}), (3.1, F, {"a": F, "b": F})]
    out.append(s)

    # Mute time interval covering now (all weekdays) vs one that never matches plus an active one.
    s = Scenario("mute", ["m-muted", "m-open"])
    s.steps = [Step(0.0, post(lambda t0: alert("mute", "Mute", t0, instance="a")))]
    s.expected["m-muted"] = []
    s.expected["m-open"] = [(1, F, {"a": F})]
    out.append(s)

    # Payload fields: annotations, generatorURL, common labels and max_alerts truncation.
    def payload_alert(instance: str, summary: str) -> Callable[[float], dict[str, Any]]:
        def make(t0: float) -> dict[str, Any]:
            a = alert("payload", "Payload", t0, instance=instance, cluster="eu", job="api")
            a["annotations"] = {"summary": summary, "runbook": "https://runbooks.example/payload"}
            a["generatorURL"] = f"http://prometheus.example/graph?g0.expr=up%7Binstance%3D%22{instance}%22%7D"
            return a

        return make

    s = Scenario("payload", ["payload"])
    s.steps = [
        Step(
            0.0,
            post(
                payload_alert("c", "third"),
                payload_alert("a", "same"),
                payload_alert("b", "same"),
            ),
        )
    ]
    s.expected["payload"] = [(1, F, {"a": F, "b": F})]  # third alert truncated by max_alerts: 2
    out.append(s)
    return out


def summary_key(scenario: str, labels: dict[str, str]) -> str:
    """How an alert is named in the expectations: by instance, or alertname:cluster for inhibit."""
    if scenario == "inhibit":
        return f"{labels['alertname']}:{labels['cluster']}"
    return labels["instance"]


class Run:
    """All scenarios played once against both servers; deliveries are then read from the sink."""

    def __init__(self, servers: list[Server], sink: WebhookSink, scenarios: list[Scenario]) -> None:
        self.servers = servers
        self.sink = sink
        self.scenarios = scenarios
        self.start = 0.0
        self.errors: list[str] = []

    def _play(self, sc: Scenario) -> None:
        states: dict[str, dict[str, Any]] = {s.name: {"t0": self.t0_wall} for s in self.servers}
        try:
            for step in sc.steps:
                delay = self.start + step.at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                for server in self.servers:
                    step.action(server, states[server.name])
        except Exception as e:  # reported by the test of this scenario
            self.errors.append(f"{sc.name}: {e!r}")

    def play(self, duration: float) -> None:
        self.start = time.monotonic() + 0.2
        self.t0_wall = time.time() + 0.2
        threads = [threading.Thread(target=self._play, args=(sc,)) for sc in self.scenarios]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        remaining = self.start + duration - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
