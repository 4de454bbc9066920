"""The storage port: what the engine needs from a durable store, independent of the database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from tocsin.model import Alert

# Record kinds that are kept as opaque JSON documents keyed by (tenant, key). Alerts have their own
# typed table because they are the hot path and what history queries look at.
DOC_KINDS = ("silences", "nflog", "groups", "outbox", "incidents", "channel_state", "correlation_history")


class StorageError(RuntimeError):
    """The database refused or failed an operation; the message names the database and the cause."""


@dataclass(slots=True)
class Doc:
    tenant_id: str
    key: str
    data: dict[str, Any]
    expires_at: float = 0.0


@dataclass(slots=True)
class DeliveryRecord:
    """One delivery attempt sequence of one notification through one integration."""

    tenant_id: str
    receiver: str
    integration: str
    group_key: str
    reason: str
    alerts: int
    ok: bool
    attempts: int
    error: str
    started_at: float
    finished_at: float
    id: int = 0


#: a batch's alerts as the storages write them (``WriteBatch.alert_rows``): by key (None: a
#: tombstone), or runs of stored alerts in the order they were put
AlertRows = dict[tuple[str, int], Alert | None] | list[list[Alert]]


def keyed_rows(rows: AlertRows) -> Iterator[tuple[str, int, Alert | None]]:
    """(tenant, fingerprint, alert or None for a tombstone) for each row, in order."""
    if isinstance(rows, dict):
        for (tenant_id, fp), a in rows.items():
            yield tenant_id, fp, a
        return
    for run in rows:
        for a in run:
            yield a.tenant_id, a.fingerprint, a


@dataclass
class WriteBatch:
    """Changes written together in one transaction. Later changes to the same key win."""

    alerts: dict[tuple[str, int], Alert | None] = field(default_factory=dict)
    #: runs of stored alerts (``put_alerts``), appended as they are: the alert log keeps the last
    #: row of a key, so a key that comes twice needs no dict to drop the first. While ingesting,
    #: the keyed dict per request and its merge into the commit's were 2-3% of the event loop.
    #: A batch holds runs only while ``alerts`` is empty (see ``_fold_runs``), so that writing
    #: either one never reorders changes to a key.
    runs: list[list[Alert]] = field(default_factory=list)
    docs: dict[tuple[str, str, str], Doc | None] = field(default_factory=dict)
    deliveries: list[DeliveryRecord] = field(default_factory=list)
    #: delete delivery history older than this (0: keep)
    purge_deliveries_before: float = 0.0
    #: (count, payload): alerts already in the storage's own row form (``encode_alert_log``), as
    #: the commit process's child receives them; such a batch is committed as it is, never merged
    encoded_alerts: tuple[int, Any] | None = None

    def _put_keyed(self, alerts: list[Alert]) -> None:
        self.alerts.update(((a.tenant_id, a.fingerprint), a) for a in alerts)

    def _fold_runs(self) -> None:
        """Move the runs into ``alerts``, in order, before a change by key joins them."""
        for run in self.runs:
            self._put_keyed(run)
        self.runs = []

    def put_alert(self, alert: Alert) -> None:
        if self.runs:
            self._fold_runs()
        self.alerts[(alert.tenant_id, alert.fingerprint)] = alert

    def put_alerts(self, alerts: list[Alert]) -> None:
        """Put ``alerts`` (the list is kept: the caller must not change it afterwards)."""
        if self.alerts:
            self._put_keyed(alerts)
        elif alerts:
            self.runs.append(alerts)

    def delete_alert(self, tenant_id: str, fp: int) -> None:
        if self.runs:
            self._fold_runs()
        self.alerts[(tenant_id, fp)] = None

    def alert_rows(self) -> AlertRows:
        """What the storages write: the runs, or the changes by key (never both)."""
        return self.runs if self.runs else self.alerts

    def put_doc(self, kind: str, doc: Doc) -> None:
        self.docs[(kind, doc.tenant_id, doc.key)] = doc

    def delete_doc(self, kind: str, tenant_id: str, key: str) -> None:
        self.docs[(kind, tenant_id, key)] = None

    def alert_count(self) -> int:
        """Alert rows in the batch (tombstones, and encoded ones, included)."""
        n = len(self.alerts) + (self.encoded_alerts[0] if self.encoded_alerts is not None else 0)
        for run in self.runs:
            n += len(run)
        return n

    def absorb(self, other: WriteBatch) -> None:
        if self.encoded_alerts is not None or other.encoded_alerts is not None:
            # Only the commit process's child holds such batches, and it commits each as it is.
            raise ValueError("a batch with encoded alerts cannot be merged")
        if other.alerts:
            if self.runs:
                self._fold_runs()
            self.alerts.update(other.alerts)
        else:
            for run in other.runs:
                self.put_alerts(run)
        if other.docs:
            self.docs.update(other.docs)
        if other.deliveries:
            self.deliveries.extend(other.deliveries)
        if other.purge_deliveries_before > self.purge_deliveries_before:
            self.purge_deliveries_before = other.purge_deliveries_before

    def __len__(self) -> int:
        purge = 1 if self.purge_deliveries_before else 0
        return self.alert_count() + len(self.docs) + len(self.deliveries) + purge


class Storage(Protocol):
    """A durable store. Methods are blocking; the engine calls them from one writer thread
    (writes) or at start-up (loads)."""

    url: str

    def migrate(self) -> int:
        """Bring the schema to the latest version; return that version."""
        ...

    def commit(self, batch: WriteBatch) -> None:
        """Apply the batch atomically and durably (the call returns after the commit)."""
        ...

    def load_alerts(self) -> list[Alert]: ...

    def maintain(self, live_alerts: int | None = None) -> bool:
        """Housekeeping between commits (compaction), a short step at a time; called on the writer
        thread with the number of alerts the engine holds, when it knows it. True while work is
        left: the writer then calls again soon, even when no commit comes."""
        ...

    def load_docs(self, kind: str) -> list[Doc]: ...

    def query_deliveries(
        self,
        tenant_id: str,
        *,
        receiver: str | None = None,
        group_key: str | None = None,
        ok: bool | None = None,
        since: float = 0.0,
        limit: int = 100,
    ) -> list[DeliveryRecord]:
        """Delivery history, newest first. Safe to call from any thread while writes go on."""
        ...

    def close(self) -> None: ...
