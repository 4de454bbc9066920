"""Service dependency graph: hop distances and readable paths between services.

Edges are caller → callee. Distances ignore direction (a slow callee shows up at its callers, and
a saturated caller can overload its callees), but the direction is kept for root-cause ranking,
where a service that the other alerting services depend on is the likelier origin.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from itertools import pairwise


class ServiceGraph:
    """An immutable graph with all-pairs hop distances precomputed up to ``max_hops``.

    Precomputing keeps the per-alert cost of the topology signal at a dict lookup; service graphs
    have tens to a few hundred nodes, so the table is small.
    """

    def __init__(self, edges: Iterable[tuple[str, str]], max_hops: int = 4) -> None:
        if max_hops < 1:
            raise ValueError(f"max_hops must be >= 1, got {max_hops}")
        self.max_hops = max_hops
        self._callees: dict[str, set[str]] = {}
        self._callers: dict[str, set[str]] = {}
        for edge in edges:
            if len(edge) != 2 or not all(isinstance(x, str) and x for x in edge):
                raise ValueError(f"graph edge must be a (caller, callee) pair of names, got {edge!r}")
            src, dst = edge
            if src == dst:
                continue
            self._callees.setdefault(src, set()).add(dst)
            self._callers.setdefault(dst, set()).add(src)
            self._callees.setdefault(dst, set())
            self._callers.setdefault(src, set())
        self._dist: dict[str, dict[str, int]] = {}
        self._prev: dict[str, dict[str, str]] = {}
        # Each node's neighbours sorted once, not at every visit of every search: a dense learned
        # graph (50 services, most pairs co-occurring) took 20-30 ms to build that way.
        adjacent = {node: sorted(self._neighbours(node)) for node in self._callees}
        for node in self._callees:
            self._bfs(node, adjacent)
        # Connected components without the hop limit: separate systems behind one correlator are
        # separate components, and root-cause weights can be configured per component.
        self._component_of: dict[str, int] = {}
        self._components: list[frozenset[str]] = []
        for node in sorted(self._callees):
            if node in self._component_of:
                continue
            index = len(self._components)
            members = {node}
            stack = [node]
            while stack:
                for nxt in adjacent[stack.pop()]:
                    if nxt not in members:
                        members.add(nxt)
                        stack.append(nxt)
            for member in members:
                self._component_of[member] = index
            self._components.append(frozenset(members))

    def _neighbours(self, node: str) -> set[str]:
        return self._callees.get(node, set()) | self._callers.get(node, set())

    def _bfs(self, start: str, adjacent: dict[str, list[str]]) -> None:
        dist = {start: 0}
        prev: dict[str, str] = {}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if dist[node] >= self.max_hops:
                continue
            for nxt in adjacent[node]:
                if nxt not in dist:
                    dist[nxt] = dist[node] + 1
                    prev[nxt] = node
                    queue.append(nxt)
        self._dist[start] = dist
        self._prev[start] = prev

    @property
    def services(self) -> list[str]:
        return sorted(self._callees)

    def __contains__(self, service: object) -> bool:
        return service in self._callees

    def __len__(self) -> int:
        return len(self._callees)

    def edges(self) -> list[tuple[str, str]]:
        return sorted((s, d) for s, ds in self._callees.items() for d in ds)

    def distance(self, a: str, b: str) -> int | None:
        """Undirected hop count, or None when unknown or farther than ``max_hops``."""
        row = self._dist.get(a)
        if row is None:
            return None
        return row.get(b)

    def path(self, a: str, b: str) -> list[str]:
        """A shortest undirected path from a to b (both included), or [] when there is none."""
        if self.distance(a, b) is None:
            return []
        prev = self._prev[a]
        out = [b]
        while out[-1] != a:
            out.append(prev[out[-1]])
        out.reverse()
        return out

    def arrow_path(self, a: str, b: str) -> str:
        """The path written with call directions, e.g. ``frontend → cartservice ← checkoutservice``."""
        nodes = self.path(a, b)
        if not nodes:
            return ""
        text = nodes[0]
        for x, y in pairwise(nodes):
            text += f" → {y}" if y in self._callees.get(x, ()) else f" ← {y}"
        return text

    def component_id(self, service: str) -> int | None:
        """The index of the connected component (calls in either direction, any number of hops)
        holding ``service``; None when the graph does not hold it."""
        return self._component_of.get(service)

    def component(self, service: str) -> frozenset[str]:
        """Every service connected to ``service`` (itself included); empty when unknown."""
        index = self._component_of.get(service)
        return self._components[index] if index is not None else frozenset()

    def callees(self, service: str) -> list[str]:
        """The services ``service`` calls directly, sorted."""
        return sorted(self._callees.get(service, ()))

    def callers(self, service: str) -> list[str]:
        """The services that call ``service`` directly, sorted."""
        return sorted(self._callers.get(service, ()))

    def calls(self, caller: str, callee: str) -> bool:
        return callee in self._callees.get(caller, ())

    def depends_on(self, service: str, other: str) -> bool:
        """Whether ``service`` calls ``other`` directly or transitively (within max_hops)."""
        seen = {service}
        frontier = [service]
        for _ in range(self.max_hops):
            nxt = []
            for node in frontier:
                for callee in self._callees.get(node, ()):
                    if callee == other:
                        return True
                    if callee not in seen:
                        seen.add(callee)
                        nxt.append(callee)
            frontier = nxt
        return False
