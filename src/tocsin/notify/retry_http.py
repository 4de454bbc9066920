"""What every HTTP channel shares: one client, classification of replies into success, retryable
and permanent failures (Alertmanager's rules: 5xx, 429 and network errors retry, other 4xx do
not), ``Retry-After``, a circuit breaker per endpoint, and URLs kept out of messages.

Webhook URLs and some API paths carry credentials (Slack, Teams, Discord, Telegram bot tokens,
VictorOps keys), so no error message produced here ever contains a full URL.
"""

from __future__ import annotations

import email.utils
import functools
import re
import ssl
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tocsin.notify.base import Integration, NotifyError
from tocsin.notify.circuit import CircuitBreaker

if TYPE_CHECKING:
    # Imported when a channel first needs a client: with its CLI's rich and pygments, httpx is
    # 10 MiB of resident memory, which a server sending only plain-HTTP webhooks never needs.
    import httpx

#: Longest Retry-After honoured; a provider asking for more gets retried by the engine's schedule.
MAX_RETRY_AFTER = 300.0
_URL_RE = re.compile(r"https?://[^\s'\"<>]+")


@functools.cache
def default_tls() -> ssl.SSLContext:
    """One TLS context (httpx's default trust store) for every channel client: building one
    reads the whole CA bundle, which is slow enough to matter with many receivers."""
    import httpx

    return httpx.create_ssl_context()


@functools.lru_cache(maxsize=1024)  # every notification names its endpoint: the same few URLs
def redact_url(url: str) -> str:
    """``scheme://host/<redacted>``: enough to tell endpoints apart, nothing secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<redacted url>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}/<redacted>" if (parts.path.strip("/") or parts.query) else url


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URLs redacted and each secret replaced, for logs and error messages."""
    text = _URL_RE.sub(lambda m: redact_url(m.group(0)), text)
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "<secret>")
    return text


def read_secret(inline: str | None, path: str | None, what: str) -> str:
    """The secret given inline or in a file; a clear permanent error when neither works."""
    if inline:
        return str(inline)
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise NotifyError(f"cannot read {what} file {path}: {e.strerror}", retryable=False) from None
    raise NotifyError(f"no {what} configured", retryable=False)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def truncate(text: str, limit: int, marker: str = "…") -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters (the marker included) and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[: max(limit - len(marker), 0)] + marker, True


def truncate_bytes(text: str, limit: int, marker: str = "…") -> tuple[str, bool]:
    """``text`` cut so its UTF-8 encoding fits ``limit`` bytes, never splitting a character."""
    data = text.encode()
    if len(data) <= limit:
        return text, False
    room = limit - len(marker.encode())
    return data[: max(room, 0)].decode("utf-8", errors="ignore") + marker, True


def error_for_status(
    resp: httpx.Response, what: str, retry_codes: Iterable[int] = (429,), body: str | None = None
) -> NotifyError:
    """The NotifyError for a non-success reply: 5xx and ``retry_codes`` retry, other codes don't."""
    code = resp.status_code
    retryable = code >= 500 or code in set(retry_codes)
    text = scrub((resp.text if body is None else body)[:200].strip())
    return NotifyError(
        f"{what} answered {code}{': ' + text if text else ''}",
        retryable=retryable,
        retry_after=retry_after(resp.headers.get("Retry-After")) if retryable else None,
    )


class HTTPIntegration(Integration):
    """Base of the HTTP channels: a shared client, a breaker, and safe error reporting."""

    #: What the channel calls its provider in messages ("Slack", "PagerDuty"...).
    provider = "HTTP"
    default_timeout = 30.0

    def secret(self, inline: str | None, path: str | None, what: str) -> str:
        """Read a secret and remember it, so no error message or log line ever shows it."""
        value = read_secret(inline, path, what)
        self.secrets.add(value)
        return value

    def __init__(
        self,
        receiver: str,
        index: int,
        send_resolved: bool,
        *,
        client: httpx.AsyncClient | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.monotonic,
        follow_redirects: bool = False,
    ) -> None:
        super().__init__(receiver, index, send_resolved)
        self.follow_redirects = follow_redirects
        self._client = client
        self._own_client = client is None
        self.headers = {"User-Agent": "tocsin", **(headers or {})}
        self.timeout = timeout or self.default_timeout
        self.breaker = breaker or CircuitBreaker(clock=clock)
        #: Values that must never appear in an error message (tokens, keys).
        self.secrets: set[str] = set()

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(follow_redirects=self.follow_redirects, verify=default_tls())
        return self._client

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        ok: Callable[[httpx.Response], bool] | None = None,
        retry_codes: Iterable[int] = (429,),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; return the reply when ``ok`` (default: 2xx), else raise NotifyError.

        A reply that is not ok but that ``ok`` inspected (e.g. Slack's ``{"ok": false}``) is
        returned to the caller to classify when ``ok`` is given and returns True."""
        import httpx  # loaded by now: self.client() made an httpx client, or was handed one

        self.breaker.before_call(self.provider)
        try:
            resp = await self.client().request(
                method, url, headers={**self.headers, **(headers or {})}, timeout=self.timeout, **kwargs
            )
        except httpx.HTTPError as e:
            detail = scrub(str(e), self.secrets)
            message = f"{self.provider} request failed: {type(e).__name__}{': ' + detail if detail else ''}"
            self.breaker.record(failure=True, error=message)
            raise NotifyError(message, retryable=True) from None
        success = ok(resp) if ok is not None else resp.status_code // 100 == 2
        # Only server trouble trips the breaker: a 429 asks to slow down, and a 4xx is a
        # configuration problem that no amount of waiting fixes.
        self.breaker.record(
            failure=resp.status_code >= 500, error=f"{self.provider} answered {resp.status_code}"
        )
        if success:
            return resp
        err = error_for_status(resp, self.provider, retry_codes)
        err.args = (scrub(str(err), self.secrets),)
        if err.retryable and err.retry_after is None:
            err.retry_after = self.retry_after_hint(resp)
        raise err

    def retry_after_hint(self, resp: httpx.Response) -> float | None:
        """A wait the provider gave in its body rather than a Retry-After header (Telegram, Discord)."""
        try:
            d = resp.json()
        except ValueError:
            return None
        value = (
            d.get("retry_after", d.get("parameters", {}).get("retry_after")) if isinstance(d, dict) else None
        )
        try:
            return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value is not None else None
        except (TypeError, ValueError):
            return None

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None


def http_kwargs(cfg: Any) -> dict[str, Any]:
    """Client and auth headers from an integration config's ``http_config``."""
    from tocsin.notify.http_options import auth_headers, make_client

    http_config = getattr(cfg, "http_config", None)
    # A plain http_config (the usual global default) needs no client of its own: the channel's
    # default client shares one TLS context instead of loading the CA bundle once per receiver.
    plain = http_config is None or (
        getattr(http_config, "tls_config", None) is None and not getattr(http_config, "proxy_url", None)
    )
    return {
        "client": None if plain else make_client(http_config),
        "headers": auth_headers(http_config),
        "follow_redirects": bool(getattr(http_config, "follow_redirects", False)),
    }
