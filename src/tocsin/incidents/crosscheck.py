"""Checks that span the alert configuration and the incidents configuration."""

from __future__ import annotations

from tocsin.config import Config
from tocsin.engine.route import build_routes
from tocsin.incidents.escalation import TargetKind
from tocsin.incidents.setup import IncidentsSetup


def cross_check(config: Config, setup: IncidentsSetup) -> list[str]:
    """Every reference from one file to the other that does not resolve, as sentences."""
    problems = []
    receivers = {r.name for r in config.receivers}
    for kind, receiver in sorted(setup.contact_receivers.items()):
        if receiver not in receivers:
            problems.append(
                f"contact_receivers.{kind}: receiver {receiver!r} is not in the alert configuration"
            )
    for node in build_routes(config).walk():
        if node.escalation_policy and node.escalation_policy not in setup.policies:
            name = node.escalation_policy
            problems.append(f"route {node.id()}: escalation_policy {name!r} is not in the incidents config")
    for policy in setup.policies.values():
        for level in policy.levels:
            for t in level.targets:
                if t.kind is TargetKind.CHANNEL and t.name not in receivers:
                    problems.append(
                        f"escalation policy {policy.name!r}: channel {t.name!r} is not a receiver of the"
                        " alert configuration"
                    )
    return problems
