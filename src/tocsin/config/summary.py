"""What ``tocsin check-config`` prints: counts like amtool's check-config, then the route tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tocsin.config.duration import format_duration

if TYPE_CHECKING:
    from tocsin.config.model import Config
    from tocsin.engine.route import Route


def _describe(node: Route) -> str:
    from tocsin.engine.route import matchers_key

    parts = ["default-route" if node.parent is None else matchers_key(node.matchers)]
    if node.continue_:
        parts.append("continue: true")
    parts.append(f"receiver: {node.receiver}")
    if node.group_by_all:
        parts.append("group_by: [...]")
    elif node.group_by:
        parts.append(f"group_by: [{', '.join(node.group_by)}]")
    parent = node.parent
    timings = []
    for name in ("group_wait", "group_interval", "repeat_interval"):
        value = getattr(node, name)
        if parent is None or value != getattr(parent, name):
            timings.append(f"{name}: {format_duration(value)}")
    parts.extend(timings)
    if node.mute_time_intervals:
        parts.append(f"mute: [{', '.join(node.mute_time_intervals)}]")
    if node.active_time_intervals:
        parts.append(f"active: [{', '.join(node.active_time_intervals)}]")
    return "  ".join(parts)


def _tree(node: Route, prefix: str, last: bool, out: list[str]) -> None:
    out.append(f"{prefix}{'└── ' if last else '├── '}{_describe(node)}")
    child_prefix = prefix + ("    " if last else "│   ")
    for i, child in enumerate(node.routes):
        _tree(child, child_prefix, i == len(node.routes) - 1, out)


def summarize(config: Config) -> str:
    """Counts of each section (like ``amtool check-config``) and the resolved route tree."""
    # Imported here because the engine's route module itself imports tocsin.config.
    from tocsin.engine.route import build_routes

    lines = [
        "Found:",
        " - global config",
        " - route",
        f" - {len(config.inhibit_rules)} inhibit rules",
        f" - {len(config.receivers)} receivers",
        f" - {len(config.templates)} templates",
    ]
    lines.extend(f"   - {t}" for t in config.templates)
    if config.time_intervals:
        lines.append(f" - {len(config.time_intervals)} time intervals")
    lines += ["", "Routing tree:"]
    _tree(build_routes(config), "", True, lines)
    return "\n".join(lines) + "\n"
