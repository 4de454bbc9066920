"""``http_config`` and ``tls_config``: the HTTP client options shared by every integration
(the field set of prometheus/common's HTTPClientConfig)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tocsin.config.types import URL, Secret, StrictModel

TLSVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]


class TLSConfig(StrictModel):
    ca: str | None = None
    ca_file: str | None = None
    cert: str | None = None
    cert_file: str | None = None
    key: Secret = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    min_version: TLSVersion | None = None
    max_version: TLSVersion | None = None

    @model_validator(mode="after")
    def _one_source_each(self) -> TLSConfig:
        for inline, path in (("ca", "ca_file"), ("cert", "cert_file"), ("key", "key_file")):
            if getattr(self, inline) and getattr(self, path):
                raise ValueError(f"at most one of {inline} & {path} must be configured")
        if (self.cert or self.cert_file) and not (self.key or self.key_file):
            raise ValueError(
                "exactly one of key or key_file must be configured when a client certificate is set"
            )
        if (self.key or self.key_file) and not (self.cert or self.cert_file):
            raise ValueError("exactly one of cert or cert_file must be configured when a client key is set")
        return self


class BasicAuth(StrictModel):
    username: str | None = None
    username_file: str | None = None
    password: Secret = None
    password_file: str | None = None

    @model_validator(mode="after")
    def _one_source_each(self) -> BasicAuth:
        if self.username and self.username_file:
            raise ValueError("at most one of basic_auth username & username_file must be configured")
        if self.password and self.password_file:
            raise ValueError("at most one of basic_auth password & password_file must be configured")
        return self


class Authorization(StrictModel):
    type: str = "Bearer"
    credentials: Secret = None
    credentials_file: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Authorization:
        if self.type.strip().lower() == "basic":
            raise ValueError('authorization type cannot be set to "basic", use "basic_auth" instead')
        if self.credentials and self.credentials_file:
            raise ValueError("at most one of authorization credentials & credentials_file must be configured")
        return self


class OAuth2(StrictModel):
    client_id: str
    client_secret: Secret = None
    client_secret_file: str | None = None
    scopes: list[str] = Field(default_factory=list)
    token_url: str
    endpoint_params: dict[str, str] = Field(default_factory=dict)
    tls_config: TLSConfig | None = None
    proxy_url: URL = None

    @model_validator(mode="after")
    def _check(self) -> OAuth2:
        if self.client_secret and self.client_secret_file:
            raise ValueError("at most one of oauth2 client_secret & client_secret_file must be configured")
        return self


class HTTPClientConfig(StrictModel):
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    oauth2: OAuth2 | None = None
    bearer_token: Secret = None
    bearer_token_file: str | None = None
    tls_config: TLSConfig | None = None
    proxy_url: URL = None
    no_proxy: str | None = None
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[str]] | None = None
    follow_redirects: bool = True
    enable_http2: bool = True

    @model_validator(mode="after")
    def _one_auth(self) -> HTTPClientConfig:
        if self.bearer_token and self.bearer_token_file:
            raise ValueError("at most one of bearer_token & bearer_token_file must be configured")
        schemes = [
            name
            for name, on in (
                ("basic_auth", self.basic_auth is not None),
                ("authorization", self.authorization is not None),
                ("oauth2", self.oauth2 is not None),
                ("bearer_token", bool(self.bearer_token or self.bearer_token_file)),
            )
            if on
        ]
        if len(schemes) > 1:
            raise ValueError(f"at most one of {', '.join(schemes)} must be configured")
        if self.proxy_from_environment and (self.proxy_url or self.no_proxy):
            raise ValueError("if proxy_from_environment is configured, proxy_url and no_proxy must not be")
        if self.no_proxy and not self.proxy_url:
            raise ValueError("if no_proxy is configured, proxy_url must also be configured")
        return self

    def auth_header(self) -> str | None:
        """The Authorization header value for inline credentials, or None (files are read by the
        integration at send time so that rotated secrets are picked up)."""
        if self.bearer_token:
            return f"Bearer {self.bearer_token}"
        if self.authorization is not None and self.authorization.credentials:
            return f"{self.authorization.type} {self.authorization.credentials}"
        return None
