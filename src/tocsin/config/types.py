"""Building blocks shared by every config section: the strict base model and field types.

Field types carry their YAML behaviour with them (durations print back as ``5m``, matchers as
strings, secrets are marked for masking) so the serialiser and the loader need no per-field rules.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tocsin.config.duration import format_duration, parse_duration
from tocsin.matchers import Matcher, MatcherError, MatchType, parse_matchers
from tocsin.model import LABEL_NAME_RE

#: What Alertmanager prints in place of a secret; accepted back on load so that a masked config
#: (e.g. from GET /api/v2/status) can be parsed again, as Alertmanager allows.
SECRET_TOKEN = "<secret>"


class _SecretMarker:
    """Metadata tag on fields whose value must never be shown (see ``to_yaml``)."""

    def __repr__(self) -> str:
        return "SECRET"


SECRET = _SecretMarker()


class _SecretPathMarker:
    """Metadata tag on URLs whose path and query are secret but whose host is not."""

    def __repr__(self) -> str:
        return "SECRET_PATH"


SECRET_PATH = _SecretPathMarker()


class StrictModel(BaseModel):
    """Base of every config section: unknown keys are errors, YAML nulls mean "not set".

    Numbers are accepted where text is expected because Go's YAML decoder accepts them too
    (``to: 12345``), and configs written for Alertmanager must load unchanged.
    """

    model_config = ConfigDict(
        extra="forbid",
        validate_by_alias=True,
        validate_by_name=True,
        coerce_numbers_to_str=True,
        # A model's validator and serializer are built when it is first used, not when its class
        # is defined: validating a Config builds one for the whole tree, and the sections' own
        # (copies of their parts of it) and incidents.yml's (without --incidents.file) are never
        # built. 3.3 MiB of the idle server; test_config_models_build checks that all can build.
        defer_build=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # Go's YAML decoder treats an explicit null as the zero value; mirroring that keeps
        # "key:" with nothing after it from being a type error.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


def _duration(value: Any) -> float:
    if isinstance(value, bool):
        raise PydanticCustomError("duration", f"invalid duration {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value == 0:
            return 0.0
        raise PydanticCustomError(
            "duration", f"invalid duration {value!r}: a unit is required, e.g. '{value}s'"
        )
    try:
        return parse_duration(value)
    except ValueError as e:
        raise PydanticCustomError("duration", str(e)) from None


#: A Prometheus duration held as float seconds.
Duration = Annotated[float, PlainValidator(_duration), PlainSerializer(format_duration, return_type=str)]


def _check_url(value: str | None, secret: bool) -> str | None:
    if value is None:
        return None
    if secret and value == SECRET_TOKEN:
        return value
    shown = "<secret>" if secret else repr(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise PydanticCustomError("url", f"unsupported scheme {parts.scheme!r} for URL {shown}")
    if not parts.hostname:
        raise PydanticCustomError("url", f"missing host for URL {shown}")
    return value


#: An http(s) URL.
URL = Annotated[str | None, AfterValidator(lambda v: _check_url(v, secret=False))]
#: An http(s) URL that may embed a token (Slack, Teams, Discord webhooks): masked on output.
SecretURL = Annotated[str | None, AfterValidator(lambda v: _check_url(v, secret=True)), SECRET]
#: A generic webhook URL: printed as ``scheme://host/<secret>``. Alertmanager 0.25 (whose amtool
#: parses /api/v2/status) treats it as a plain URL and rejects a bare ``<secret>`` there.
WebhookURL = Annotated[str | None, AfterValidator(lambda v: _check_url(v, secret=True)), SECRET_PATH]
#: A password, key or token: masked on output.
Secret = Annotated[str | None, SECRET]


def check_label_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
        raise PydanticCustomError("label_name", f"invalid label name {name!r} in {what}")
    return name


def _matcher_list(value: Any) -> list[Matcher]:
    """A YAML list of matcher strings; each string may itself hold several (``a="b", c=~"d"``)."""
    if isinstance(value, str):
        raise PydanticCustomError(
            "matchers", "matchers must be a list of strings, e.g. ['severity=\"critical\"']"
        )
    if not isinstance(value, list):
        raise PydanticCustomError(
            "matchers", f"matchers must be a list of strings, got {type(value).__name__}"
        )
    out: list[Matcher] = []
    for item in value:
        if isinstance(item, Matcher):
            out.append(item)
            continue
        if not isinstance(item, str):
            raise PydanticCustomError("matchers", f"matcher must be a string, got {item!r}")
        try:
            out.extend(parse_matchers(item))
        except MatcherError as e:
            raise PydanticCustomError("matchers", f"invalid matcher {item!r}: {e}") from None
    return out


#: Label matchers, given in YAML as strings and printed back the same way.
MatcherList = Annotated[
    list[Matcher],
    PlainValidator(_matcher_list),
    PlainSerializer(lambda ms: [str(m) for m in ms], return_type=list[str]),
]


def _label_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PydanticCustomError("match", "expected a map of label name to value")
    out: dict[str, str] = {}
    for k, v in value.items():
        check_label_name(k, "match")
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise PydanticCustomError("match", f"value for label {k!r} must be a string")
        out[k] = str(v)
    return out


#: The deprecated ``match:`` map (label → exact value).
LabelMap = Annotated[dict[str, str], BeforeValidator(_label_map)]


def _regex_map(value: Any) -> dict[str, str]:
    out = _label_map(value)
    for k, v in out.items():
        try:
            Matcher.create(k, MatchType.REGEX, v)
        except MatcherError as e:
            raise PydanticCustomError("match_re", f"invalid regexp value for {k!r}: {e}") from None
    return out


#: The deprecated ``match_re:`` map (label → regex, anchored at both ends).
RegexMap = Annotated[dict[str, str], BeforeValidator(_regex_map)]


def matchers_from_maps(match: dict[str, str], match_re: dict[str, str]) -> list[Matcher]:
    """Convert deprecated ``match``/``match_re`` maps into matchers.

    A ``match_re`` value becomes ``^(?:value)$``: Alertmanager builds these matchers from the
    compiled, anchored pattern, and that text shows up in route keys and hence in group keys.
    """
    out = [Matcher.create(k, MatchType.EQUAL, v) for k, v in match.items()]
    out.extend(Matcher.create(k, MatchType.REGEX, f"^(?:{v})$") for k, v in match_re.items())
    return out


def _host_port(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("host_port", f"expected 'host:port', got {value!r}")
    if value == "":
        return value
    host, sep, port = value.rpartition(":")
    if not sep:
        raise PydanticCustomError("host_port", f"address {value!r}: missing port in address")
    if not port:
        raise PydanticCustomError("host_port", f"address {value!r}: port cannot be empty")
    if host.startswith("[") != host.endswith("]"):
        raise PydanticCustomError("host_port", f"address {value!r}: bad brackets around host")
    if ":" in host.strip("[]") and not host.startswith("["):
        raise PydanticCustomError("host_port", f"address {value!r}: too many colons in address")
    return value


#: A ``host:port`` address (SMTP smarthost).
HostPort = Annotated[str, BeforeValidator(_host_port)]
