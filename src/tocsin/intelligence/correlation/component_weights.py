"""Root-cause weights per service-graph component: one alert manager, several systems.

Two systems behind one correlator want different root-cause weights when their metrics differ: on
the Nezha benchmark OnlineBoutique's own-pod probe (with per-edge latency) decides, while
TrainTicket's own-pod metrics mislead and its callers' client latency helps
(benchmarks/correlation/README.md). With one set for both, each system gets a compromise.

Systems that do not call each other are separate *components* of the service graph (services
joined by calls, in either direction). ``CorrelationConfig.root_cause_by_component`` names one
service of a component and the weights for incidents in it; the other components keep
``CorrelationConfig.root_cause``. A service the graph does not hold is a component of its own.

An incident is ranked with the weights of the component holding most of its alerts (on a tie,
the one that alerted first): with a configured graph, services with no path between them are kept
in separate incidents anyway, so an incident almost always lies in one component.

With a configured graph the configuration is checked against it: a named service the graph does
not hold, or two named services in one component, is an error (a typo would otherwise silently
fall back to the default weights). A learned graph grows as alerts arrive, so there a named
service not in it yet is left waiting, and of two named services that end up in one component the
first named wins.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping

from tocsin.intelligence.correlation.rootcause import RootCauseWeights, ServiceEvidence
from tocsin.intelligence.correlation.topology import ServiceGraph

#: (a service of the component, the weights for incidents in that component), in config order.
ComponentWeights = tuple[tuple[str, RootCauseWeights], ...]

_FIELDS = {f.name: f for f in dataclasses.fields(RootCauseWeights)}


def check_component_weights(entries: object) -> ComponentWeights:
    """``entries`` as a :data:`ComponentWeights`, or a ValueError naming what is wrong."""
    if not isinstance(entries, tuple):
        raise ValueError(
            "correlation config: root_cause_by_component must be a tuple of (service, RootCauseWeights) "
            f"pairs, got {type(entries).__name__}"
        )
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise ValueError(
                f"correlation config: root_cause_by_component[{i}] must be a (service, RootCauseWeights) "
                f"pair, got {entry!r}"
            )
        service, weights = entry
        if not (isinstance(service, str) and service):
            raise ValueError(
                f"correlation config: root_cause_by_component[{i}] must name a service, got {service!r}"
            )
        if not isinstance(weights, RootCauseWeights):
            raise ValueError(
                f"correlation config: root_cause_by_component[{i}] ({service}): weights must be "
                f"RootCauseWeights, got {type(weights).__name__}"
            )
        if service in seen:
            raise ValueError(f"correlation config: root_cause_by_component names {service!r} twice")
        seen.add(service)
    return entries


def weights_from_mapping(
    values: Mapping[str, object], base: RootCauseWeights | None = None, where: str = "root_cause"
) -> RootCauseWeights:
    """Root-cause weights from a plain mapping (as read from YAML or JSON): the fields given replace
    those of ``base`` (the defaults without it). Unknown fields and wrong types are refused, naming
    ``where`` and the field."""
    if not isinstance(values, Mapping):
        raise ValueError(
            f"{where}: expected a mapping of weight names to numbers, got {type(values).__name__}"
        )
    changes: dict[str, float | int | bool] = {}
    for name, value in values.items():
        field = _FIELDS.get(name) if isinstance(name, str) else None
        if field is None:
            known = ", ".join(sorted(_FIELDS))
            raise ValueError(f"{where}: unknown root-cause weight {name!r} (known: {known})")
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{where}.{name}: expected true or false, got {value!r}")
            changes[name] = value
        elif kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}.{name}: expected a whole number, got {value!r}")
            changes[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{where}.{name}: expected a finite number, got {value!r}")
            changes[name] = float(value)
    try:
        return dataclasses.replace(base or RootCauseWeights(), **changes)  # type: ignore[arg-type]
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def component_weights_from_mapping(
    values: Mapping[str, object], base: RootCauseWeights | None = None
) -> ComponentWeights:
    """``{service: {weight: value, ...}, ...}`` (each entry overriding ``base``) as
    :data:`ComponentWeights`, in the mapping's order; errors name the service and the field."""
    if not isinstance(values, Mapping):
        raise ValueError(
            "root_cause_by_component: expected a mapping of a service name to its component's weights, "
            f"got {type(values).__name__}"
        )
    out = []
    for service, entry in values.items():
        if not (isinstance(service, str) and service):
            raise ValueError(f"root_cause_by_component: keys must be service names, got {service!r}")
        if not isinstance(entry, Mapping):
            raise ValueError(
                f"root_cause_by_component.{service}: expected a mapping of weight names to numbers, "
                f"got {type(entry).__name__}"
            )
        out.append((service, weights_from_mapping(entry, base, f"root_cause_by_component.{service}")))
    return check_component_weights(tuple(out))


def component_claims(services: Iterable[str], graph: ServiceGraph) -> Iterator[tuple[str, bool, str | None]]:
    """For each named service in order: whether the graph holds it, and the service named earlier
    for the same component (None when this one is the first)."""
    claimed: dict[int, str] = {}  # component → the service that named it
    for service in services:
        component = graph.component_id(service) if service in graph else None
        if component is None:
            yield service, False, None
            continue
        yield service, True, claimed.get(component)
        claimed.setdefault(component, service)


class ComponentResolver:
    """Which configured weights apply to which services, for one service graph."""

    def __init__(self, entries: ComponentWeights, graph: ServiceGraph | None, graph_complete: bool) -> None:
        self._by_service: dict[str, tuple[str, RootCauseWeights]] = {}
        weights_of = dict(entries)
        if graph is None:
            for service, weights in entries:
                self._by_service.setdefault(service, (service, weights))
            return
        for service, in_graph, earlier in component_claims(weights_of, graph):
            weights = weights_of[service]
            if not in_graph:
                if graph_complete:
                    raise ValueError(
                        f"correlation config: root_cause_by_component names {service!r}, which the "
                        "configured service graph does not have"
                    )
                # Not in the graph (yet): a component of its own.
                self._by_service.setdefault(service, (service, weights))
                continue
            if earlier is not None:
                if graph_complete:
                    raise ValueError(
                        f"correlation config: root_cause_by_component names {earlier!r} and "
                        f"{service!r}, which are in the same component of the service graph"
                    )
                continue  # a learned graph joined them: the first named keeps the component
            for member in graph.component(service):
                self._by_service[member] = (service, weights)

    def of_service(self, service: str) -> str | None:
        """The configured service naming ``service``'s component, or None (default weights)."""
        found = self._by_service.get(service)
        return found[0] if found is not None else None

    def for_incident(
        self, services: Mapping[str, ServiceEvidence], default: RootCauseWeights
    ) -> tuple[str | None, RootCauseWeights]:
        """(the configured service naming the component, or None for the default, and its weights)
        for an incident with these alerting services: the component holding most of its alerts,
        the one that alerted first on a tie."""
        if not self._by_service or not services:
            return None, default
        alerts: dict[str | None, int] = {}
        first: dict[str | None, float] = {}
        for service, ev in services.items():
            key = self.of_service(service)
            alerts[key] = alerts.get(key, 0) + ev.alerts
            first[key] = min(first.get(key, math.inf), ev.first_seen)
        key = min(alerts, key=lambda k: (-alerts[k], first[k]))
        if key is None:
            return None, default
        return key, self._by_service[key][1]
