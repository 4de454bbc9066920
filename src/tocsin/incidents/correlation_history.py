"""What the service learns for correlation from the alerts it sees, per tenant: which kinds of
alert fire together (``CooccurrenceModel``) and how common each label/text token is
(``TokenCounts``, the IDF weights of the similarity signal).

Learning is incremental (each alert once, when correlation first sees it start firing) and needs
no labels. Each tenant's tables are bounded (``HistorySetup.max_keys``, ``max_pairs``,
``max_tokens``: the rarest entries go first). A tenant's history takes part in joins once it has
learned ``min_alerts`` alerts: before that its counts say little, and the co-occurrence weight
would only dilute the other signals.

Saving is the shell's business: :meth:`LearnedHistory.snapshot` copies what changed since the
last save (cheap, on the event loop), and :func:`encode` turns a copy into a JSON document (the
slow part, on a worker thread). :meth:`LearnedHistory.load` reads the documents back at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tocsin.incidents.setup import HistorySetup
from tocsin.intelligence.correlation.cooccurrence import CooccurrenceModel
from tocsin.intelligence.correlation.text import IdfWeights, TokenCounts, alert_tokens
from tocsin.model import Alert

log = logging.getLogger(__name__)

#: Storage document kind and key: one document per tenant.
DOC_KIND = "correlation_history"
DOC_KEY = "learned"


@dataclass
class TenantHistory:
    model: CooccurrenceModel
    tokens: TokenCounts = field(default_factory=TokenCounts)
    #: learned something since the last snapshot
    dirty: bool = False


@dataclass(frozen=True)
class Snapshot:
    """Copies of one tenant's counts, safe to encode on another thread while learning goes on."""

    tenant_id: str
    model: CooccurrenceModel
    tokens: TokenCounts


class LearnedHistory:
    def __init__(self, setup: HistorySetup) -> None:
        self.setup = setup
        self.tenants: dict[str, TenantHistory] = {}

    def _new_model(self) -> CooccurrenceModel:
        return CooccurrenceModel(window_s=self.setup.window)

    def tenant(self, tenant_id: str) -> TenantHistory:
        h = self.tenants.get(tenant_id)
        if h is None:
            h = self.tenants[tenant_id] = TenantHistory(self._new_model())
        return h

    def learn(self, tenant_id: str, alert: Alert, service: str) -> None:
        """Count one alert that started firing (call after correlating it, so that "co-occurred
        N times before" counts only earlier alerts)."""
        h = self.tenant(tenant_id)
        h.model.observe(alert, service)
        h.tokens.observe(alert_tokens(alert))
        s = self.setup
        h.model.bound(s.max_keys, s.max_pairs)
        h.tokens.bound(s.max_tokens)
        h.dirty = True

    def mature(self, tenant_id: str) -> bool:
        h = self.tenants.get(tenant_id)
        return h is not None and len(h.model) >= max(self.setup.min_alerts, 1)

    def weights(self, tenant_id: str) -> IdfWeights:
        return self.tenant(tenant_id).tokens.weights()

    def configure(self, setup: HistorySetup) -> None:
        """A reloaded config: new bounds apply at the next alert. Counts made with another window
        measure something else, so a new window starts the tables afresh."""
        if setup.window != self.setup.window:
            log.warning(
                "correlation history window changed from %gs to %gs: learned co-occurrence starts anew",
                self.setup.window,
                setup.window,
            )
            for h in self.tenants.values():
                h.model = CooccurrenceModel(window_s=setup.window)
                h.dirty = True
        self.setup = setup

    # --- persistence ---------------------------------------------------------------------------

    def snapshot(self) -> list[Snapshot]:
        """Copies of the tenants that learned since the last snapshot, which are marked clean
        (:meth:`mark_dirty` puts them back when their save fails)."""
        out = []
        for tenant_id, h in self.tenants.items():
            if h.dirty:
                out.append(Snapshot(tenant_id, h.model.counts_copy(), _copy_tokens(h.tokens)))
                h.dirty = False
        return out

    def mark_dirty(self, tenant_ids: Iterable[str]) -> None:
        for tenant_id in tenant_ids:
            if tenant_id in self.tenants:
                self.tenants[tenant_id].dirty = True

    @property
    def dirty(self) -> bool:
        return any(h.dirty for h in self.tenants.values())

    def load(self, docs: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Restore saved tenants; a document that cannot be read is skipped with a warning (the
        tenant then learns from scratch) rather than stopping the service. Returns how many loaded."""
        loaded = 0
        for tenant_id, data in docs:
            try:
                model = CooccurrenceModel.from_dict(data["cooccurrence"])
                tokens = TokenCounts.from_dict(data["tokens"])
            except (KeyError, TypeError, ValueError) as e:
                log.warning("correlation history of tenant %r not loaded: %s", tenant_id, e)
                continue
            if model.window_s != self.setup.window:
                log.warning(
                    "correlation history of tenant %r was learned with a %gs window, now %gs: starts anew",
                    tenant_id,
                    model.window_s,
                    self.setup.window,
                )
                model = self._new_model()
            self.tenants[tenant_id] = TenantHistory(model, tokens)
            loaded += 1
        return loaded


def encode(snapshot: Snapshot) -> dict[str, Any]:
    """The stored document of one tenant (slow for large tables: run it off the event loop)."""
    return {"cooccurrence": snapshot.model.to_dict(), "tokens": snapshot.tokens.to_dict()}


def _copy_tokens(tokens: TokenCounts) -> TokenCounts:
    out = TokenCounts()
    out.df = tokens.df.copy()
    out.n_docs = tokens.n_docs
    return out
