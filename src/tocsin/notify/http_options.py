"""Turn an ``http_config`` block into request headers and an httpx client."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx  # imported when a client is first made (see retry_http)


def _read(inline: Any, path: str | None) -> str | None:
    if inline:
        return str(inline)
    if path:
        return Path(path).read_text().strip()
    return None


def auth_headers(http_config: Any) -> dict[str, str]:
    """Authorization header from basic_auth, authorization or bearer_token(_file)."""
    if http_config is None:
        return {}
    basic = getattr(http_config, "basic_auth", None)
    if basic is not None:
        user = _read(basic.username, basic.username_file) or ""
        password = _read(basic.password, basic.password_file) or ""
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    authz = getattr(http_config, "authorization", None)
    if authz is not None:
        cred = _read(authz.credentials, authz.credentials_file)
        if cred:
            return {"Authorization": f"{authz.type} {cred}"}
    bearer = _read(
        getattr(http_config, "bearer_token", None), getattr(http_config, "bearer_token_file", None)
    )
    if bearer:
        return {"Authorization": f"Bearer {bearer}"}
    return {}


def is_plain(http_config: Any) -> bool:
    """True when requests need nothing beyond headers: no TLS settings, proxy or OAuth2, so a
    plain ``http://`` URL may go through the lean keep-alive client (notify/http1.py)."""
    if http_config is None:
        return True
    return not any(
        getattr(http_config, name, None)
        for name in ("tls_config", "proxy_url", "proxy_from_environment", "oauth2", "proxy_connect_header")
    )


def make_client(http_config: Any) -> httpx.AsyncClient:
    """An httpx client honouring tls_config, proxy_url and follow_redirects."""
    import httpx

    kwargs: dict[str, Any] = {"follow_redirects": False}
    if http_config is not None:
        kwargs["follow_redirects"] = bool(getattr(http_config, "follow_redirects", False))
        proxy = getattr(http_config, "proxy_url", None)
        if proxy:
            kwargs["proxy"] = str(proxy)
        tls = getattr(http_config, "tls_config", None)
        if tls is not None:
            ctx = (
                ssl.create_default_context(cafile=tls.ca_file)
                if tls.ca_file
                else ssl.create_default_context()
            )
            if tls.ca:
                ctx.load_verify_locations(cadata=tls.ca)
            if tls.cert_file and tls.key_file:
                ctx.load_cert_chain(tls.cert_file, tls.key_file)
            if tls.insecure_skip_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            kwargs["verify"] = ctx
    return httpx.AsyncClient(**kwargs)
