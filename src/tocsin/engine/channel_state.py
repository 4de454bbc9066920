"""Durable per-integration memory for channels (notify.base.ChannelState), kept in the store."""

from __future__ import annotations

from typing import Any

from tocsin.model import DEFAULT_TENANT
from tocsin.storage import WriteBatch
from tocsin.storage.base import Doc
from tocsin.storage.writer import CommitWriter


class ChannelStateStore:
    """All channels' state in memory, written through to the ``channel_state`` documents."""

    def __init__(self, writer: CommitWriter) -> None:
        self.writer = writer
        self.values: dict[str, Any] = {}

    def load(self, docs: list[Doc]) -> None:
        for d in docs:
            self.values[d.key] = d.data.get("v")

    def scoped(self, scope: str) -> ScopedState:
        return ScopedState(self, scope)

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def put(self, key: str, value: Any) -> None:
        batch = WriteBatch()
        if value is None:
            self.values.pop(key, None)
            batch.delete_doc("channel_state", DEFAULT_TENANT, key)
        else:
            self.values[key] = value
            batch.put_doc("channel_state", Doc(DEFAULT_TENANT, key, {"v": value}))
        self.writer.write_nowait(batch)


class ScopedState:
    """One integration's view: its keys live under ``receiver/kind/index``."""

    def __init__(self, store: ChannelStateStore, scope: str) -> None:
        self.store = store
        self.scope = scope

    def get(self, key: str) -> Any:
        return self.store.get(f"{self.scope}\x1f{key}")

    def put(self, key: str, value: Any) -> None:
        self.store.put(f"{self.scope}\x1f{key}", value)
