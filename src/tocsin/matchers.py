"""Label matchers in both Alertmanager syntaxes, with RE2 semantics (fully anchored).

Accepted forms:
- a single matcher: ``name="value"``, ``name=~"re"``, ``name != value`` (bare or Go-quoted value);
- a brace list: ``{a="b", c=~"d|e"}`` (what amtool and ``matchers:`` strings use);
- the API form: ``{"name", "value", "isRegex", "isEqual"}``.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class MatcherError(ValueError):
    """A matcher that cannot be parsed or compiled; the message names the offending text."""


class MatchType(enum.StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@functools.cache
def _re2() -> tuple[Any, Any]:
    """The re2 module and the options to compile with, loaded at the first regular expression:
    a server whose configuration and silences have none never loads RE2 (2.5 MiB resident)."""
    import re2

    options = re2.Options()
    options.log_errors = False
    return re2, options


def compile_anchored(pattern: str) -> Any:
    """Compile ``pattern`` as Alertmanager does: RE2, anchored at both ends, ``.`` matches newline."""
    re2, options = _re2()
    try:
        return re2.compile(f"^(?s:{pattern})$", options)
    except re2.error as e:
        raise MatcherError(f"invalid regular expression {pattern!r}: {e}") from None


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: MatchType
    value: str
    _re: Any = field(default=None, compare=False, hash=False, repr=False)

    @classmethod
    def create(cls, name: str, op: MatchType | str, value: str) -> Matcher:
        op = MatchType(op)
        if not name:
            raise MatcherError("matcher has an empty label name")
        rx = compile_anchored(value) if op in (MatchType.REGEX, MatchType.NOT_REGEX) else None
        return cls(name, op, value, rx)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Matcher:
        """Build from the API v2 form ``{name, value, isRegex, isEqual}`` (isEqual defaults true)."""
        name = data.get("name")
        value = data.get("value")
        if not isinstance(name, str) or not name:
            raise MatcherError("matcher needs a non-empty 'name'")
        if not isinstance(value, str):
            raise MatcherError(f"matcher {name!r} needs a string 'value'")
        is_regex = bool(data.get("isRegex", False))
        is_equal = data.get("isEqual", True)
        is_equal = True if is_equal is None else bool(is_equal)
        if is_regex:
            op = MatchType.REGEX if is_equal else MatchType.NOT_REGEX
        else:
            op = MatchType.EQUAL if is_equal else MatchType.NOT_EQUAL
        return cls.create(name, op, value)

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.op in (MatchType.REGEX, MatchType.NOT_REGEX),
            "isEqual": self.op in (MatchType.EQUAL, MatchType.REGEX),
        }

    def matches_value(self, v: str) -> bool:
        op = self.op
        if op is MatchType.EQUAL:
            return v == self.value
        if op is MatchType.NOT_EQUAL:
            return v != self.value
        if op is MatchType.REGEX:
            return self._re.match(v) is not None
        return self._re.match(v) is None

    def matches(self, labels: Mapping[str, str]) -> bool:
        # A missing label matches as the empty string, as in Prometheus.
        return self.matches_value(labels.get(self.name, ""))

    def __str__(self) -> str:
        return f"{self.name}{self.op.value}{quote(self.value)}"


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def quote(value: str) -> str:
    """Go-style double-quoted string."""
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "'": "'",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, msg: str) -> MatcherError:
        return MatcherError(f"{msg} at position {self.i} in {self.text!r}")

    def skip_ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i].isspace():
            self.i += 1

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def name(self) -> str:
        self.skip_ws()
        if self.peek() == '"':
            return self.quoted()
        start = self.i
        while self.i < len(self.text) and (self.text[self.i].isalnum() or self.text[self.i] in "_:.-"):
            self.i += 1
        if start == self.i:
            raise self.error("expected a label name")
        return self.text[start : self.i]

    def op(self) -> MatchType:
        self.skip_ws()
        for tok in ("=~", "!~", "!=", "="):
            if self.text.startswith(tok, self.i):
                self.i += len(tok)
                return MatchType(tok)
        raise self.error("expected one of = != =~ !~")

    def quoted(self) -> str:
        quote_char = self.text[self.i]
        self.i += 1
        out: list[str] = []
        while True:
            if self.i >= len(self.text):
                raise self.error("unterminated quoted value")
            ch = self.text[self.i]
            if ch == quote_char:
                self.i += 1
                return "".join(out)
            if ch == "\\":
                self.i += 1
                if self.i >= len(self.text):
                    raise self.error("dangling escape")
                esc = self.text[self.i]
                if esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                    self.i += 1
                elif esc == "u" and self.i + 4 < len(self.text):
                    out.append(chr(int(self.text[self.i + 1 : self.i + 5], 16)))
                    self.i += 5
                else:
                    raise self.error(f"unknown escape \\{esc}")
                continue
            out.append(ch)
            self.i += 1

    def value(self, in_braces: bool) -> str:
        self.skip_ws()
        if self.peek() in ('"', "'"):
            return self.quoted()
        start = self.i
        stop = ",}" if in_braces else ""
        while self.i < len(self.text) and self.text[self.i] not in stop:
            self.i += 1
        return self.text[start : self.i].strip()

    def matcher(self, in_braces: bool) -> Matcher:
        n = self.name()
        op = self.op()
        v = self.value(in_braces)
        return Matcher.create(n, op, v)


def parse_matcher(text: str) -> Matcher:
    """Parse exactly one matcher such as ``severity=~"critical|page"``."""
    p = _Parser(text.strip())
    m = p.matcher(in_braces=False)
    p.skip_ws()
    if p.i != len(p.text):
        raise p.error("unexpected text after matcher")
    return m


def parse_matchers(text: str) -> list[Matcher]:
    """Parse ``{a="b", c=~"d"}`` or ``a="b", c=~"d"`` or a single matcher into a list."""
    s = text.strip()
    if not s:
        return []
    braces = s.startswith("{")
    if braces:
        if not s.endswith("}"):
            raise MatcherError(f"missing closing '}}' in {text!r}")
        s = s[1:-1]
    p = _Parser(s)
    out: list[Matcher] = []
    while True:
        p.skip_ws()
        if p.i >= len(s):
            break
        out.append(p.matcher(in_braces=True))
        p.skip_ws()
        if p.peek() == ",":
            p.i += 1
            continue
        if p.i < len(s):
            raise p.error("expected ',' between matchers")
    return out
