"""Render notification templates: Jinja2 (or Alertmanager's Go syntax, translated) over
Alertmanager's template data, with tocsin's default template per channel and message part.

A receiver's message field (``title``, ``text``, ``html``, ``message``...) overrides the default
for that part; ``None`` means "use the default". Email HTML may be written in Markdown (the
``email.html`` default is) and always has its CSS inlined, since mail clients drop ``<style>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from tocsin.notify.base import Notification
from tocsin.notify.templates.data import sample_notification, template_data
from tocsin.notify.templates.gotmpl import GO_FUNCTIONS, GoTemplateError, looks_like_go, translate

#: The message parts of each channel, in the order a preview shows them.
CHANNEL_PARTS: dict[str, tuple[str, ...]] = {
    "email": ("subject", "text", "html"),
    "slack": ("title", "text"),
    "msteams": ("title", "text"),
    "pagerduty": ("description",),
    "opsgenie": ("message", "description"),
    "telegram": ("message",),
    "discord": ("title", "message"),
    "mattermost": ("text",),
    "pushover": ("title", "message"),
    "victorops": ("entity_display_name", "state_message"),
    "webex": ("message",),
    "sns": ("subject", "message"),
    "twilio": ("message",),
    "apprise": ("title", "body"),
}


class TemplateError(ValueError):
    """A template that does not parse or fails to render; the message names it and says why."""


class _Env(SandboxedEnvironment):
    """Looks keys up before attributes on mappings, so a label named ``items`` or ``values``
    reads the label, as ``.Labels.items`` does in Go."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


#: Alertmanager's named templates that existing configs call, and tocsin's default for each.
_AM_NAMED = {
    "__subject": ("email", "subject"),
    "__text_alert_list": ("email", "text"),
    "email.default.subject": ("email", "subject"),
    "email.default.html": ("email", "html"),
    "msteamsv2.default.title": ("msteams", "title"),
    "msteamsv2.default.text": ("msteams", "text"),
    "wechat.default.message": ("opsgenie", "description"),
}
_AM_NAMED_RE = re.compile(r"^(\w+)\.default\.(\w+)$")


def _named_template(name: str, data: Any) -> Markup:
    """``{{ template "slack.default.title" . }}`` from a Go template: tocsin's default for that part."""
    target = _AM_NAMED.get(name)
    if target is None:
        m = _AM_NAMED_RE.match(name)
        if m and m.group(1) in CHANNEL_PARTS and m.group(2) in CHANNEL_PARTS[m.group(1)]:
            target = (m.group(1), m.group(2))
    if target is None:
        raise TemplateError(f"named template {name!r} is not one tocsin knows; write it out in full")
    if not isinstance(data, Mapping) or "Alerts" not in data:
        raise TemplateError(
            f"named template {name!r} must be called with the root data: {{{{ template {name!r} . }}}}"
        )
    text = render_part(target[0], target[1], data)
    return Markup(markdown_to_html(text) if target == ("email", "html") else text)


def _make_env(autoescape: bool) -> _Env:
    env = _Env(autoescape=autoescape, undefined=jinja2.ChainableUndefined, keep_trailing_newline=False)
    env.globals.update(GO_FUNCTIONS)
    env.globals["go_template"] = _named_template
    return env


_ENVS = {False: _make_env(False), True: _make_env(True)}


# The Markdown renderer and the CSS inliner serve HTML e-mail only: built on first use, so a
# configuration without e-mail does not hold them (3 MiB resident).
@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table")


@lru_cache(maxsize=1)
def _inliner() -> Any:
    import css_inline

    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


@lru_cache(maxsize=512)
def compile_template(source: str, html: bool = False, name: str = "template") -> jinja2.Template:
    """Parse ``source`` (Jinja2, or Go syntax which is translated first); cached by source."""
    try:
        jinja_source = translate(source) if looks_like_go(source) else source
        return _ENVS[html].from_string(jinja_source)
    except GoTemplateError as e:
        raise TemplateError(f"{name}: {e}") from None
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"{name}: line {e.lineno}: {e.message}") from None


def render_string(source: str, data: Mapping[str, Any], *, html: bool = False, name: str = "template") -> str:
    try:
        return compile_template(source, html, name).render(**data, _root=data)
    except TemplateError:
        raise
    except jinja2.TemplateError as e:
        raise TemplateError(f"{name}: {e}") from None
    except Exception as e:  # a function in the template failed (bad regex, wrong type...)
        raise TemplateError(f"{name}: {type(e).__name__}: {e}") from None


@lru_cache(maxsize=128)
def default_source(channel: str, part: str) -> str:
    """The packaged default template of ``channel``'s ``part``."""
    name = f"{channel}.{part}.j2"
    path = resources.files("tocsin.notify.templates").joinpath("default", name)
    if not path.is_file():
        raise TemplateError(f"no default template {name!r}")
    return path.read_text(encoding="utf-8")


def markdown_to_html(markdown: str) -> str:
    return str(_markdown().render(markdown))


def inline_css(html: str) -> str:
    return str(_inliner().inline(html))


def render_part(
    channel: str, part: str, data: Mapping[str, Any], override: str | None = None, *, html: bool = False
) -> str:
    """Render one message part: the receiver's override when given, else the default."""
    if override is not None:
        return render_string(override, data, html=html, name=f"{channel} {part}")
    return render_string(default_source(channel, part), data, html=html, name=f"default {channel}.{part}")


def render_email_html(data: Mapping[str, Any], override: str | None = None) -> str:
    """The HTML body of an email: an override is HTML (or Markdown when it does not start with a
    tag); the default is Markdown placed in the packaged layout. CSS is inlined either way."""
    if override is not None:
        body = render_string(override, data, html=True, name="email html")
        if not body.lstrip().startswith("<"):
            body = markdown_to_html(body)
    else:
        body = markdown_to_html(render_part("email", "html", data))
    if "<html" not in body.lower():
        layout = default_source("email", "layout")
        body = render_string(layout, {**data, "body": body}, html=True, name="default email.layout")
    return inline_css(body)


def render_template(
    channel: str,
    n: Notification | None = None,
    overrides: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """Every message part of ``channel`` for ``n`` (sample data when None): what ``tocsin
    template render`` prints and the preview API returns."""
    if channel not in CHANNEL_PARTS:
        raise TemplateError(f"unknown channel {channel!r}; known: {', '.join(sorted(CHANNEL_PARTS))}")
    data = template_data(n or sample_notification())
    overrides = overrides or {}
    unknown = set(overrides) - set(CHANNEL_PARTS[channel])
    if unknown:
        raise TemplateError(
            f"channel {channel} has no part {', '.join(sorted(unknown))}; "
            f"its parts are {', '.join(CHANNEL_PARTS[channel])}"
        )
    out: dict[str, str] = {}
    for part in CHANNEL_PARTS[channel]:
        if channel == "email" and part == "html":
            out[part] = render_email_html(data, overrides.get(part))
        else:
            out[part] = render_part(channel, part, data, overrides.get(part))
    return out
