"""Template previews for ``tocsin template render`` and the preview API: which message parts a
configured receiver would send, rendered on sample data or on a given webhook payload."""

from __future__ import annotations

from typing import Any

from tocsin.notify.base import Notification
from tocsin.notify.templates.data import notification_from_payload, sample_notification
from tocsin.notify.templates.render import CHANNEL_PARTS, TemplateError, render_template

#: receiver kind → (preview channel, {part: config field holding its override})
_KIND_PARTS: dict[str, tuple[str, dict[str, str]]] = {
    "email": ("email", {"text": "text", "html": "html"}),
    "slack": ("slack", {"title": "title", "text": "text"}),
    "msteams": ("msteams", {"title": "title", "text": "text"}),
    "msteamsv2": ("msteams", {"title": "title", "text": "text"}),
    "pagerduty": ("pagerduty", {"description": "description"}),
    "opsgenie": ("opsgenie", {"message": "message", "description": "description"}),
    "telegram": ("telegram", {"message": "message"}),
    "discord": ("discord", {"title": "title", "message": "message"}),
    "mattermost": ("mattermost", {"text": "text"}),
    "pushover": ("pushover", {"title": "title", "message": "message"}),
    "victorops": (
        "victorops",
        {"entity_display_name": "entity_display_name", "state_message": "state_message"},
    ),
    "webex": ("webex", {"message": "message"}),
    "sns": ("sns", {"subject": "subject", "message": "message"}),
    "twilio": ("twilio", {"message": "message"}),
    "apprise": ("apprise", {"title": "title", "body": "body"}),
}


def receiver_overrides(kind: str, cfg: Any) -> tuple[str, dict[str, str | None]]:
    """The preview channel of a receiver integration and its configured template overrides."""
    if kind not in _KIND_PARTS:
        raise TemplateError(f"receiver kind {kind!r} has no message templates to preview")
    channel, fields = _KIND_PARTS[kind]
    overrides: dict[str, str | None] = {part: getattr(cfg, f, None) for part, f in fields.items()}
    if kind == "email":
        overrides["subject"] = (getattr(cfg, "headers", {}) or {}).get("Subject")
    return channel, {k: v for k, v in overrides.items() if v is not None}


def preview_notification(payload: dict[str, Any] | None = None, status: str = "firing") -> Notification:
    if payload is not None:
        return notification_from_payload(payload)
    if status not in ("firing", "resolved"):
        raise TemplateError(f"status must be firing or resolved, got {status!r}")
    return sample_notification(status)


def preview(
    channel: str,
    overrides: dict[str, str | None] | None = None,
    payload: dict[str, Any] | None = None,
    status: str = "firing",
) -> dict[str, str]:
    """Rendered parts of ``channel``; ``payload`` is an Alertmanager webhook body, else sample data."""
    try:
        n = preview_notification(payload, status)
    except ValueError as e:
        if isinstance(e, TemplateError):
            raise
        raise TemplateError(f"bad payload: {e}") from None
    return render_template(channel, n, overrides)


__all__ = ["CHANNEL_PARTS", "preview", "preview_notification", "receiver_overrides"]
