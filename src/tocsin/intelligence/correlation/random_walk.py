"""A random walk with restart over the call graph, from an incident's alerting services toward causes.

The idea follows MicroRCA and MonitorRank (written here from their descriptions): a walker starts
at an alerting service (more alerts, more likely), and at each step moves to a callee — where a
symptom's cause lies — with odds growing with the callee's metric anomaly, sometimes back to a
caller (so a walker is not trapped in a quiet branch), stays put in proportion to its own anomaly,
or restarts. Services the walker visits most are the likeliest origins. Compared with counting the
alerting services a candidate explains, the walk also weighs *how* it explains them: a callee
reached by many short paths through anomalous services outranks one reached by a single long path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from tocsin.intelligence.correlation.topology import ServiceGraph

#: Odds of a step to a quiet neighbour, so that structure still moves the walker without metrics.
QUIET_ODDS = 0.05


def walk_scores(
    graph: ServiceGraph,
    start: Mapping[str, float],
    nodes: Sequence[str],
    anomaly: Callable[[str], float],
    restart: float = 0.15,
    back: float = 0.2,
    rounds: int = 60,
) -> dict[str, float]:
    """Visit frequency of each of ``nodes`` in the walk's stationary state, scaled so the most visited
    scores 1.0 (all 0.0 when nothing is visited).

    ``start``: where walks (re)start, with weights (e.g. alert counts), restricted to ``nodes``;
    ``anomaly(service)`` in [0, 1] weighs steps into a service and staying at it; ``back`` scales
    steps from a service to its callers against steps to its callees.
    """
    if not 0.0 < restart < 1.0:
        raise ValueError(f"restart must be in (0, 1), got {restart!r}")
    if back < 0.0 or rounds < 1:
        raise ValueError(f"back must be >= 0 and rounds >= 1, got {back!r}, {rounds!r}")
    index = {n: i for i, n in enumerate(dict.fromkeys(nodes))}
    if not index:
        return {}
    seed = [max(start.get(n, 0.0), 0.0) for n in index]
    total = sum(seed)
    if total <= 0.0:
        return dict.fromkeys(index, 0.0)
    seed = [s / total for s in seed]
    odds = [min(max(anomaly(n), 0.0), 1.0) for n in index]
    # Outgoing steps of every node: (target index, probability), including staying put.
    steps: list[list[tuple[int, float]]] = []
    for n, i in index.items():
        out = [(index[c], QUIET_ODDS + odds[index[c]]) for c in graph.callees(n) if c in index]
        out += [
            (index[c], back * (QUIET_ODDS + odds[index[c]])) for c in index if c != n and graph.calls(c, n)
        ]
        out.append((i, odds[i]))
        weight = sum(w for _, w in out)
        steps.append([(j, w / weight) for j, w in out if w > 0.0] if weight > 0.0 else [])
    visits = list(seed)
    for _ in range(rounds):
        nxt = [restart * s for s in seed]
        for i, share in enumerate(visits):
            if not steps[i]:
                # A node with nowhere to go hands its share back to the starts.
                for j, s in enumerate(seed):
                    nxt[j] += (1.0 - restart) * share * s
                continue
            for j, p in steps[i]:
                nxt[j] += (1.0 - restart) * share * p
        visits = nxt
    top = max(visits)
    return {n: (visits[i] / top if top > 0.0 else 0.0) for n, i in index.items()}
