"""The routing tree: config route nodes with inherited options resolved, and Alertmanager's
matching, route keys and group labels."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from tocsin.config import Config, RouteConfig, sorted_matchers
from tocsin.matchers import Matcher, MatchType

DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """Go's ``%q`` / ``strconv.Quote``: route keys must match Alertmanager's byte for byte,
    since they end up in group keys that receivers deduplicate on."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        else:
            cp = ord(ch)
            if cp < 0x80:
                out.append(f"\\x{cp:02x}")
            elif cp < 0x10000:
                out.append(f"\\u{cp:04x}")
            else:
                out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


@lru_cache(maxsize=1 << 16)
def _regex_matches(matcher: Matcher, value: str) -> bool:
    return matcher.matches_value(value)


def _node_matches(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    # Calling RE2 through its Python wrapper costs ~10 µs; label values repeat heavily across
    # alerts (severity, team, env), so remembering regex outcomes makes routing several times faster.
    for m in matchers:
        value = labels.get(m.name, "")
        if m.op is MatchType.REGEX or m.op is MatchType.NOT_REGEX:
            if not _regex_matches(m, value):
                return False
        elif not m.matches_value(value):
            return False
    return True


def matchers_key(matchers: list[Matcher]) -> str:
    return "{" + ",".join(f"{m.name}{m.op.value}{go_quote(m.value)}" for m in matchers) + "}"


@dataclass(eq=False)
class Route:
    """A node of the routing tree with every inherited option already resolved."""

    receiver: str
    group_by: list[str]
    group_by_all: bool
    group_wait: float
    group_interval: float
    repeat_interval: float
    matchers: list[Matcher] = field(default_factory=list)
    continue_: bool = False
    mute_time_intervals: list[str] = field(default_factory=list)
    active_time_intervals: list[str] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    parent: Route | None = field(default=None, repr=False)
    escalation_policy: str | None = None
    _key: str = field(default="", repr=False)
    _id: str = field(default="", repr=False)

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The nodes an alert with ``labels`` is routed to (Alertmanager's depth-first walk)."""
        if not _node_matches(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_:
                break
        return found or [self]

    def key(self) -> str:
        """Parent key + ``/`` + this node's matchers, e.g. ``{}/{severity="critical"}``."""
        return self._key

    def id(self) -> str:
        """Unique among siblings with identical matchers: Alertmanager's ID appends the node's
        index under its parent (built on the parent's ID, so every level carries its index)."""
        return self._id

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        if self.group_by_all:
            return dict(labels)
        return {name: labels[name] for name in self.group_by if name in labels}

    def decisive_labels(self) -> tuple[str, ...] | None:
        """The label names that decide where an alert goes from this node (the matchers and
        group_by lists of the subtree), or None when some node groups by every label."""
        names: set[str] = set()
        for node in self.walk():
            if node.group_by_all:
                return None
            names.update(m.name for m in node.matchers)
            names.update(node.group_by)
        return tuple(sorted(names))

    def walk(self) -> Iterator[Route]:
        """This node and all descendants, depth first in config order."""
        yield self
        for child in self.routes:
            yield from child.walk()

    def depth(self) -> int:
        d, node = 0, self.parent
        while node is not None:
            d, node = d + 1, node.parent
        return d


def _build(cfg: RouteConfig, parent: Route | None, index: int) -> Route:
    if parent is None:
        receiver, group_by, group_all = "", [], False
        wait, interval, repeat = DEFAULT_GROUP_WAIT, DEFAULT_GROUP_INTERVAL, DEFAULT_REPEAT_INTERVAL
    else:
        receiver, group_by, group_all = parent.receiver, list(parent.group_by), parent.group_by_all
        wait, interval, repeat = parent.group_wait, parent.group_interval, parent.repeat_interval
    if cfg.receiver:
        receiver = cfg.receiver
    labels = cfg.group_by_labels
    if labels is not None:
        group_by, group_all = labels, False
    elif cfg.group_by_all:
        group_by, group_all = [], True
    node = Route(
        receiver=receiver,
        group_by=group_by,
        group_by_all=group_all,
        group_wait=cfg.group_wait if cfg.group_wait is not None else wait,
        group_interval=cfg.group_interval if cfg.group_interval is not None else interval,
        repeat_interval=cfg.repeat_interval if cfg.repeat_interval is not None else repeat,
        matchers=sorted_matchers(list(cfg.matchers)),
        continue_=cfg.continue_,
        mute_time_intervals=list(cfg.mute_time_intervals),
        active_time_intervals=list(cfg.active_time_intervals),
        parent=parent,
        escalation_policy=cfg.escalation_policy or (parent.escalation_policy if parent else None),
    )
    own = matchers_key(node.matchers)
    if parent is None:
        node._key = own
        node._id = own
    else:
        node._key = f"{parent.key()}/{own}"
        node._id = f"{parent.id()}/{own}/{index}"
    node.routes = [_build(child, node, i) for i, child in enumerate(cfg.routes)]
    return node


def build_routes(config: Config) -> Route:
    """The resolved routing tree of ``config`` (root defaults: 30s / 5m / 4h)."""
    return _build(config.route, None, 0)
