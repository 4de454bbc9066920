"""tocsin: self-hosted alert management and incident response.

The package's top level is the SDK surface used by applications::

    from tocsin import get_alerts_system, create_alert, send_alert, AlertSeverity
"""

__version__ = "0.1.0"

from tocsin.model import Alert, AlertSeverity
from tocsin.sdk import AlertsSystem, create_alert, get_alerts_system, send_alert

__all__ = [
    "Alert",
    "AlertSeverity",
    "AlertsSystem",
    "__version__",
    "create_alert",
    "get_alerts_system",
    "send_alert",
]
