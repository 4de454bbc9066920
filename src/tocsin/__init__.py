"""tocsin: self-hosted alert management and incident response.

The package's top level is the SDK surface used by applications::

    from tocsin import get_alerts_system, create_alert, send_alert, AlertSeverity
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tocsin.model import Alert, AlertSeverity

__version__ = "0.1.0"

if TYPE_CHECKING:
    from tocsin.sdk import AlertsSystem, create_alert, get_alerts_system, send_alert

_SDK = ("AlertsSystem", "create_alert", "get_alerts_system", "send_alert")


def __getattr__(name: str) -> Any:
    # The SDK (and asyncio with ssl, 8 MiB) is loaded when first asked for, not by every process
    # that imports a tocsin module: the storage commit process needs none of it.
    if name in _SDK:
        import tocsin.sdk

        return getattr(tocsin.sdk, name)
    raise AttributeError(f"module 'tocsin' has no attribute {name!r}")


__all__ = [
    "Alert",
    "AlertSeverity",
    "AlertsSystem",
    "__version__",
    "create_alert",
    "get_alerts_system",
    "send_alert",
]
