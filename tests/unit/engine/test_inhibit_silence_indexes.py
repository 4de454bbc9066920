"""The label indexes of inhibition rules and silences must answer exactly as trying every rule
or silence would."""

from __future__ import annotations

import random

from tocsin.engine.inhibit import Inhibitor, InhibitRule
from tocsin.engine.silences import Silence, Silences
from tocsin.matchers import Matcher, MatchType
from tocsin.model import Alert

NAMES = ["alertname", "severity", "cluster", "instance"]
VALUES = ["a", "b", "critical", "warning", "host-1.example.net", ""]
OPS = [MatchType.EQUAL, MatchType.EQUAL, MatchType.NOT_EQUAL, MatchType.REGEX, MatchType.NOT_REGEX]


def _matchers(rng: random.Random) -> list[Matcher]:
    out = []
    for name in rng.sample(NAMES, rng.randrange(1, 4)):
        op = rng.choice(OPS)
        value = rng.choice(VALUES) if op in (MatchType.EQUAL, MatchType.NOT_EQUAL) else "a|b|crit.*"
        out.append(Matcher.create(name, op, value))
    return out


def _alert(rng: random.Random) -> Alert:
    labels = {n: rng.choice(VALUES[:-1]) for n in NAMES if rng.random() < 0.8} or {"alertname": "a"}
    return Alert(labels=labels, starts_at=0.0, ends_at=1000.0)


def _naive_inhibited_by(inh: Inhibitor, a: Alert, now: float) -> list[str]:
    for rule in inh.rules:
        src = rule.inhibiting(a.labels, a.fingerprint, a.tenant_id, now)
        if src is not None:
            return [f"{src:016x}"]
    return []


def test_inhibitor_index_matches_trying_every_rule() -> None:
    rng = random.Random(11)
    for _ in range(30):
        rules = [
            InhibitRule(_matchers(rng), _matchers(rng), rng.sample(NAMES, rng.randrange(3)))
            for _ in range(12)
        ]
        indexed = Inhibitor(rules)
        alerts = [_alert(rng) for _ in range(60)]
        indexed.observe(alerts)
        # The same rules fed without the index: every rule sees every alert.
        naive_rules = [InhibitRule(r.source_matchers, r.target_matchers, r.equal) for r in rules]
        for r in naive_rules:
            for a in alerts:
                r.observe(a)
        naive = Inhibitor(naive_rules)
        for a in alerts:
            assert indexed.inhibited_by(a.labels, a.fingerprint, a.tenant_id, 10.0) == _naive_inhibited_by(
                naive, a, 10.0
            )
        gone = alerts[:20]
        indexed.forget(gone)
        for r in naive_rules:
            for a in gone:
                r.forget(a)
        for a in alerts:
            assert indexed.inhibited_by(a.labels, a.fingerprint, a.tenant_id, 10.0) == _naive_inhibited_by(
                naive, a, 10.0
            )


def test_silence_index_matches_checking_every_silence() -> None:
    rng = random.Random(5)
    sils = Silences()
    made = []
    for _ in range(200):
        matchers = _matchers(rng)
        if all(m.matches_value("") for m in matchers):
            continue
        sid, _ = sils.set(Silence(matchers=matchers, starts_at=1.0, ends_at=100.0), now=1.0)
        made.append(sils.get(sid))
    for _ in range(300):
        a = _alert(rng)
        expected = sorted(s.id for s in made if s.mutes(a.labels))
        assert sils.mutes(a.labels, 50.0) == expected
