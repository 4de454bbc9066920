from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

def fingerprint(labels: dict[str, str], /) -> int: ...
def convert(
    posted: Sequence[Any],
    now: float,
    default_ends: float,
    tenant_id: str,
    share: dict[str, str],
    known: set[str],
    parse_time: Callable[[str], float],
    alert_type: type[Any],
    slow: Callable[[int, Any], Any],
    /,
) -> tuple[list[Any], list[str]]: ...
def copy_rows(alerts: dict[tuple[str, int], Any], /) -> bytes: ...
def log_rows(alerts: dict[tuple[str, int], Any], /) -> bytes: ...
def parse_alerts(
    body: bytes,
    now: float,
    default_ends: float,
    tenant_id: str,
    share: dict[str, str],
    parse_time: Callable[[str], float],
    alert_type: type[Any],
    /,
) -> list[Any] | None: ...
def webhook_alerts(
    alerts: Sequence[Any], now: float, format_time_nano: Callable[[float], str], /
) -> bytes: ...

# The flush helpers (engine/pipeline.py, notify/base.py): None where the caller's Python twin
# must do the work (input the compiled code does not take).
def fingerprint_sets(alerts: Sequence[Any], now: float, /) -> tuple[frozenset[int], frozenset[int]]: ...
def next_end(alerts: Sequence[Any], now: float, until: float, /) -> tuple[float, bool]: ...
def sorted_hex(fingerprints: Iterable[int], /) -> list[str]: ...
def common_map(maps: Sequence[Mapping[str, str]], /) -> dict[str, str] | None: ...
def common_labels(alerts: Sequence[Any], /) -> dict[str, str] | None: ...
def pairs_in_all(alerts: Sequence[Any], pairs: Sequence[bytes], /) -> list[bool] | None: ...
def sort_by_job_instance(alerts: Sequence[Any], /) -> list[Any] | None: ...
def merge_run(
    store: dict[int, Any],
    added: list[int],
    alerts: list[Any],
    start: int,
    tenant: str,
    merge_one: Callable[[Any, Any], Any],
    out: list[Any],
    /,
) -> int: ...
def stored_run(
    store: dict[int, Any], alerts: list[Any], start: int, tenant: str, out: list[Any], /
) -> int: ...
def same_key_end(
    alerts: list[Any], start: int, names: tuple[str, ...], key: tuple[Any, ...], tenant: str, /
) -> int: ...
def add_run(group_alerts: dict[int, Any], alerts: list[Any], start: int, end: int, /) -> Any: ...
