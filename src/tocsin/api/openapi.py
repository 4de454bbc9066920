"""The OpenAPI 3.0 description of tocsin's HTTP API (served at /api/v2/openapi.json)."""

from __future__ import annotations

from typing import Any

from tocsin import __version__


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = _json({"type": "string"}, "Error message")
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_TIME = {"type": "string", "format": "date-time"}

_ALERT_FILTERS = [
    {"name": n, "in": "query", "schema": {"type": "boolean", "default": True}, "description": d}
    for n, d in (
        ("active", "Show active alerts"),
        ("silenced", "Show silenced alerts"),
        ("inhibited", "Show inhibited alerts"),
        ("unprocessed", "Show unprocessed alerts"),
    )
] + [
    {
        "name": "filter",
        "in": "query",
        "style": "form",
        "explode": True,
        "schema": {"type": "array", "items": {"type": "string"}},
        "description": 'Label matchers, e.g. alertname="Foo" or {severity=~"crit.*"}; repeatable',
    },
    {
        "name": "receiver",
        "in": "query",
        "schema": {"type": "string"},
        "description": "Regular expression (anchored) matching receiver names",
    },
]

_SCHEMAS: dict[str, Any] = {
    "Matcher": {
        "type": "object",
        "required": ["name", "value", "isRegex"],
        "properties": {
            "name": {"type": "string"},
            "value": {"type": "string"},
            "isRegex": {"type": "boolean"},
            "isEqual": {"type": "boolean", "default": True},
        },
    },
    "PostableAlert": {
        "type": "object",
        "required": ["labels"],
        "properties": {
            "labels": _STR_MAP,
            "annotations": _STR_MAP,
            "startsAt": _TIME,
            "endsAt": _TIME,
            "generatorURL": {"type": "string", "format": "uri"},
        },
    },
    "AlertStatus": {
        "type": "object",
        "required": ["state", "silencedBy", "inhibitedBy"],
        "properties": {
            "state": {"type": "string", "enum": ["unprocessed", "active", "suppressed"]},
            "silencedBy": {"type": "array", "items": {"type": "string"}},
            "inhibitedBy": {"type": "array", "items": {"type": "string"}},
            "mutedBy": {"type": "array", "items": {"type": "string"}},
        },
    },
    "GettableAlert": {
        "type": "object",
        "required": [
            "labels",
            "annotations",
            "receivers",
            "fingerprint",
            "startsAt",
            "updatedAt",
            "endsAt",
            "status",
        ],
        "properties": {
            "labels": _STR_MAP,
            "annotations": _STR_MAP,
            "receivers": {"type": "array", "items": _ref("Receiver")},
            "fingerprint": {"type": "string"},
            "startsAt": _TIME,
            "updatedAt": _TIME,
            "endsAt": _TIME,
            "generatorURL": {"type": "string"},
            "status": _ref("AlertStatus"),
        },
    },
    "AlertGroup": {
        "type": "object",
        "required": ["labels", "receiver", "alerts"],
        "properties": {
            "labels": _STR_MAP,
            "receiver": _ref("Receiver"),
            "alerts": {"type": "array", "items": _ref("GettableAlert")},
        },
    },
    "Receiver": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    "PostableSilence": {
        "type": "object",
        "required": ["matchers", "startsAt", "endsAt", "createdBy", "comment"],
        "properties": {
            "id": {"type": "string"},
            "matchers": {"type": "array", "minItems": 1, "items": _ref("Matcher")},
            "startsAt": _TIME,
            "endsAt": _TIME,
            "createdBy": {"type": "string"},
            "comment": {"type": "string"},
        },
    },
    "GettableSilence": {
        "allOf": [
            _ref("PostableSilence"),
            {
                "type": "object",
                "required": ["id", "status", "updatedAt"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {
                        "type": "object",
                        "properties": {"state": {"type": "string", "enum": ["expired", "active", "pending"]}},
                    },
                    "updatedAt": _TIME,
                },
            },
        ]
    },
    "AlertmanagerStatus": {
        "type": "object",
        "required": ["cluster", "versionInfo", "config", "uptime"],
        "properties": {
            "cluster": {"type": "object"},
            "versionInfo": {"type": "object"},
            "config": {"type": "object", "properties": {"original": {"type": "string"}}},
            "uptime": _TIME,
        },
    },
}


def openapi_document(prefix: str = "") -> dict[str, Any]:
    base = prefix.rstrip("/")
    paths: dict[str, Any] = {
        "/api/v2/status": {
            "get": {
                "summary": "Status, version and configuration",
                "responses": {"200": _json(_ref("AlertmanagerStatus"))},
            }
        },
        "/api/v2/receivers": {
            "get": {
                "summary": "Configured receivers",
                "responses": {"200": _json({"type": "array", "items": _ref("Receiver")})},
            }
        },
        "/api/v2/alerts": {
            "get": {
                "summary": "List alerts",
                "parameters": _ALERT_FILTERS,
                "responses": {"200": _json({"type": "array", "items": _ref("GettableAlert")}), "400": _ERR},
            },
            "post": {
                "summary": "Create or update alerts; answered after they are durably stored",
                "parameters": [{"name": "X-Tocsin-Tenant", "in": "header", "schema": {"type": "string"}}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "array", "items": _ref("PostableAlert")}}
                    },
                },
                "responses": {"200": {"description": "Stored"}, "400": _ERR, "413": _ERR, "422": _ERR},
            },
        },
        "/api/v2/alerts/groups": {
            "get": {
                "summary": "List aggregation groups",
                "parameters": _ALERT_FILTERS,
                "responses": {"200": _json({"type": "array", "items": _ref("AlertGroup")}), "400": _ERR},
            }
        },
        "/api/v2/silences": {
            "get": {
                "summary": "List silences",
                "parameters": [_ALERT_FILTERS[4]],
                "responses": {"200": _json({"type": "array", "items": _ref("GettableSilence")}), "400": _ERR},
            },
            "post": {
                "summary": "Create a silence, or update one by id",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("PostableSilence")}},
                },
                "responses": {
                    "200": _json({"type": "object", "properties": {"silenceID": {"type": "string"}}}),
                    "400": _ERR,
                    "404": _ERR,
                    "422": _ERR,
                },
            },
        },
        "/api/v2/silence/{silenceID}": {
            "parameters": [
                {
                    "name": "silenceID",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                }
            ],
            "get": {
                "summary": "Get a silence",
                "responses": {"200": _json(_ref("GettableSilence")), "404": {"description": "Not found"}},
            },
            "delete": {
                "summary": "Expire a silence (idempotent)",
                "responses": {"200": {"description": "Expired"}, "404": _ERR},
            },
        },
        "/-/healthy": {"get": {"summary": "Liveness", "responses": {"200": {"description": "OK"}}}},
        "/-/ready": {
            "get": {
                "summary": "Readiness",
                "responses": {"200": {"description": "OK"}, "503": {"description": "Not ready"}},
            }
        },
        "/-/reload": {
            "post": {
                "summary": "Reload the configuration file; a bad file is refused",
                "responses": {"200": {"description": "Reloaded"}, "500": {"description": "Refused"}},
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "tocsin",
            "version": __version__,
            "description": "Alert management compatible with the Prometheus Alertmanager API v2.",
        },
        "servers": [{"url": base or "/"}],
        "paths": paths,
        "components": {"schemas": _SCHEMAS},
    }
