"""Notification templates: Jinja2 over Alertmanager's template data, packaged defaults per channel."""

from tocsin.notify.templates.data import sample_notification, template_data
from tocsin.notify.templates.render import (
    CHANNEL_PARTS,
    TemplateError,
    render_email_html,
    render_part,
    render_string,
    render_template,
)

__all__ = [
    "CHANNEL_PARTS",
    "TemplateError",
    "render_email_html",
    "render_part",
    "render_string",
    "render_template",
    "sample_notification",
    "template_data",
]
