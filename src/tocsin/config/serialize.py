"""Config → YAML, with secrets masked the way Alertmanager masks them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel

from tocsin.config.receivers import TOCSIN_EXTENSION_KEYS
from tocsin.config.types import SECRET, SECRET_PATH, SECRET_TOKEN


def _mask(model: BaseModel, dumped: dict[str, Any]) -> None:
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        if key not in dumped:
            continue
        value = getattr(model, name)
        if SECRET in info.metadata:
            if dumped[key]:
                dumped[key] = SECRET_TOKEN
        elif SECRET_PATH in info.metadata:
            if dumped[key] and dumped[key] != SECRET_TOKEN:
                parts = urlsplit(dumped[key])
                dumped[key] = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/{SECRET_TOKEN}"
        elif isinstance(value, BaseModel) and isinstance(dumped[key], dict):
            _mask(value, dumped[key])
        elif isinstance(value, list) and isinstance(dumped[key], list):
            for item, out in zip(value, dumped[key], strict=False):
                if isinstance(item, BaseModel) and isinstance(out, dict):
                    _mask(item, out)


def _prune(value: Any) -> Any:
    """Drop empty maps and lists, as Go's ``omitempty`` does, so the output stays readable."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _prune(v)
            if v == {} or v == []:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


#: route keys only tocsin knows; Alertmanager clients such as amtool reject them
ROUTE_EXTENSION_KEYS = ("escalation_policy",)
#: integration fields only tocsin knows, per *_configs list
INTEGRATION_EXTENSION_FIELDS = {
    "slack_configs": ("interactive",),
    "webhook_configs": ("signing_secret", "signing_secret_file", "body_template"),
}


def _strip_route_extensions(route: dict[str, Any]) -> None:
    for key in ROUTE_EXTENSION_KEYS:
        route.pop(key, None)
    for child in route.get("routes", []):
        _strip_route_extensions(child)


def config_to_yaml(config: BaseModel, *, mask_secrets: bool, include_extensions: bool) -> str:
    data = config.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
    if mask_secrets:
        _mask(config, data)
    if not include_extensions:
        for receiver in data.get("receivers", []):
            for key in TOCSIN_EXTENSION_KEYS:
                receiver.pop(key, None)
            for kind, fields in INTEGRATION_EXTENSION_FIELDS.items():
                for integration in receiver.get(kind, []):
                    for f in fields:
                        integration.pop(f, None)
        _strip_route_extensions(data.get("route", {}))
    data = _prune(data)
    data.setdefault("route", {})
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000)
