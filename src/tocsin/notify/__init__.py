"""Notification channels. A channel turns a Notification into a delivery; it never imports the engine."""

from tocsin.notify.base import Integration, Notification, NotifyError

__all__ = ["Integration", "Notification", "NotifyError"]
