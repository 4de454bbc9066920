"""Load a config from a file, YAML text or a dict, reporting every problem with its line.

YAML is composed once into nodes (which carry line marks) and once into data; pydantic
validates the data and each error's location is walked back through the nodes to a line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tocsin.config import semantics
from tocsin.config.errors import ConfigError, ConfigIssue
from tocsin.config.http import HTTPClientConfig, TLSConfig
from tocsin.config.model import Config

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


# libyaml's parser when PyYAML was built with it: ~10x faster than the pure-Python one.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """YAML 1.1 as Go's yaml.v2 reads it: no base-60 numbers (so ``end_time: 17:00`` stays
    text rather than becoming 1020) and no timestamps (so dates stay text)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)

Loc = Sequence[str | int]


def _scalar_key(node: yaml.Node) -> Any:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _locate(root: yaml.Node | None, loc: Loc) -> tuple[int | None, int]:
    """Follow ``loc`` through the node tree: (1-based line, number of loc elements consumed).

    Points at the key's line when the path ends on a mapping key, and stops at the first
    element it cannot follow (a missing key, or pydantic's union-branch tags)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    used = 0
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if _scalar_key(k) == part:
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
        used += 1
    return line, used


def _locate_data(data: Any, loc: Loc) -> int:
    used = 0
    for part in loc:
        follow = isinstance(data, dict) and part in data
        follow = follow or (isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data))
        if not follow:
            break
        data = data[part]
        used += 1
    return used


def _path_text(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: ErrorDetails) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", ""))
    if kind == "value_error":
        ctx = err.get("ctx") or {}
        msg = str(ctx.get("error", msg.removeprefix("Value error, ")))
    elif kind == "assertion_error":
        msg = msg.removeprefix("Assertion failed, ")
    return msg


def _issues_from_validation(
    exc: ValidationError, filename: str, node: yaml.Node | None, data: Any
) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        if node is not None:
            line, used = _locate(node, loc)
        else:
            line, used = None, _locate_data(data, loc)
        found = loc[:used]
        if kind == "extra_forbidden":
            where = _path_text(found[:-1]) or "top level"
            message = f"unknown field {loc[used - 1]!r} in {where}" if used else f"unknown field {loc[-1]!r}"
        elif kind == "missing":
            field = loc[used] if used < len(loc) else loc[-1]
            where = _path_text(found) or "top level"
            message = f"missing required field {field!r} in {where}"
        else:
            where = _path_text(found)
            message = f"{where}: {_message(err)}" if where else _message(err)
        issues.append(ConfigIssue(filename, line, message))
    return issues


def _duplicate_keys(node: yaml.Node | None, filename: str) -> list[ConfigIssue]:
    """Go's strict YAML decoder refuses a key given twice; PyYAML would silently keep the last."""
    issues: list[ConfigIssue] = []
    stack = [node] if node is not None else []
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            seen: set[Any] = set()
            for k, v in n.value:
                key = _scalar_key(k)
                if key is not None and key in seen:
                    issues.append(
                        ConfigIssue(filename, k.start_mark.line + 1, f"key {key!r} already set in this map")
                    )
                seen.add(key)
                stack.append(v)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)
    return sorted(issues, key=lambda i: i.line or 0)


def _resolve_paths(config: Config, base_dir: str) -> None:
    """Relative template globs and http_config files are relative to the config file's directory."""

    def join(p: str | None) -> str | None:
        return os.path.join(base_dir, p) if p and not os.path.isabs(p) else p

    config.templates = [join(t) or t for t in config.templates]

    def fix_tls(tls: TLSConfig | None) -> None:
        if tls is not None:
            for f in ("ca_file", "cert_file", "key_file"):
                if getattr(tls, f):
                    setattr(tls, f, join(getattr(tls, f)))

    def fix_http(h: HTTPClientConfig | None) -> None:
        if h is None:
            return
        if h.bearer_token_file:
            h.bearer_token_file = join(h.bearer_token_file)
        if h.authorization is not None and h.authorization.credentials_file:
            h.authorization.credentials_file = join(h.authorization.credentials_file)
        if h.basic_auth is not None:
            for f in ("username_file", "password_file"):
                if getattr(h.basic_auth, f):
                    setattr(h.basic_auth, f, join(getattr(h.basic_auth, f)))
        if h.oauth2 is not None:
            if h.oauth2.client_secret_file:
                h.oauth2.client_secret_file = join(h.oauth2.client_secret_file)
            fix_tls(h.oauth2.tls_config)
        fix_tls(h.tls_config)

    fix_http(config.global_.http_config)
    for rcv in config.receivers:
        for _kind, _i, cfg in rcv.integrations():
            http = getattr(cfg, "http_config", None)
            if isinstance(http, HTTPClientConfig):
                fix_http(http)


def _build(data: Any, node: yaml.Node | None, filename: str, original: str, base_dir: str | None) -> Config:
    if not isinstance(data, dict):
        line = node.start_mark.line + 1 if node is not None else None
        raise ConfigError(filename, line, "config must be a YAML mapping with at least a 'route' section")
    if "route" not in data:
        raise ConfigError(filename, None if node is None else 1, "no route provided in config")
    issues = _duplicate_keys(node, filename)
    try:
        config = Config.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as e:
        issues.extend(_issues_from_validation(e, filename, node, data))
        raise ConfigError.from_issues(issues) from None
    for path, message in semantics.check(config):
        line = _locate(node, path)[0] if node is not None else None
        issues.append(ConfigIssue(filename, line, f"{_path_text(path)}: {message}"))
    issues.sort(key=lambda i: i.line or 0)
    if issues:
        raise ConfigError.from_issues(issues)
    if base_dir is not None:
        _resolve_paths(config, base_dir)
    config.set_original(original)
    return config


def load_config_text(text: str, filename: str = "<string>") -> Config:
    """Parse YAML text. When ``filename`` names a real path, relative template globs and
    http_config files are resolved against its directory (as ``load_config_file`` does)."""
    loader = _Loader(text)
    try:
        # One parse gives both the nodes (for line numbers) and the data built from them.
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(filename, line, f"invalid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ConfigError(filename, None, f"invalid YAML: {e}") from None
    finally:
        loader.dispose()
    if node is None:
        raise ConfigError(filename, None, "no route provided in config (the file is empty)")
    base_dir = None if filename.startswith("<") else os.path.dirname(os.path.abspath(filename))
    return _build(data, node, filename, text, base_dir)


def load_config_file(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(str(p), None, f"cannot read config file: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(str(p), None, f"config file is not valid UTF-8: {e}") from None
    return load_config_text(text, filename=str(p))


def load_config_dict(data: dict[str, Any], filename: str = "<dict>") -> Config:
    """Validate a dict holding the same structure as the YAML (what the SDK passes)."""
    if isinstance(data, BaseModel):
        raise ConfigError(filename, None, "expected a dict; use the Config object directly")
    config = _build(data, None, filename, "", None)
    # The dict may hold Python objects (Matcher instances); its canonical YAML is what we keep.
    config.set_original(config.to_yaml(mask_secrets=False, include_extensions=True))
    return config
