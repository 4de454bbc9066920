"""Translate the common subset of Alertmanager's Go templates into Jinja2.

Existing ``alertmanager.yml`` files carry message fields such as ``{{ .CommonLabels.alertname }}``
or ``{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}``. Rather than asking users to rewrite
them, each Go action is translated to the equivalent Jinja2 construct. Supported:

- fields and chains: ``.``, ``.Status``, ``.CommonLabels.alertname``, ``$``, ``$x.Labels.job``;
- ``if`` / ``else if`` / ``else`` / ``end``, ``range`` (also ``range $i, $a := ...`` and
  ``range ... else``), ``with``, variables ``$x := ...``, comments ``{{/* ... */}}``;
- pipelines ``a | f b`` (the piped value is passed last, as in Go) and parenthesised pipelines,
  also followed by fields: ``(index .Alerts 0).Labels.job``;
- methods ``.Labels.Remove <names>`` and ``.StartsAt.Format "2006-01-02 15:04:05 MST"`` (layout
  elements with leading zeros: 2006 01 02 15 03 04 05 06 Jan January Mon Monday MST -0700 PM .000);
- functions: ``len index eq ne lt le gt ge and or not print printf println`` and Alertmanager's
  ``toUpper toLower title trimSpace join match reReplaceAll safeHtml safeUrl urlUnescape
  stringSlice since humanizeDuration toJson trimPrefix trimSuffix date tz``;
- trim markers ``{{-`` and ``-}}``.

Not supported (a clear :class:`GoTemplateError` says so): ``define``, ``block``, ``template``
(except Alertmanager's own names such as ``{{ template "slack.default.title" . }}``, which
render tocsin's default for that part) and ``break``/``continue``. Time layout elements without
leading zeros (``1 2 3 _2``) are not translated and come out as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from markupsafe import Markup

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_GO_HINT = re.compile(
    r"^(?:\.|\$|/\*|(?:range|end|if|else|with|template|define|block)\b)|(?:^|[\s(|])\.[A-Za-z]"
)
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
      | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>:=|=|\||\(|\)|,)
    )""",
    re.X,
)


class GoTemplateError(ValueError):
    """A Go template construct that cannot be translated; the message says which and where."""


def looks_like_go(source: str) -> bool:
    """True when ``source`` uses Go template syntax (Jinja expressions never start with a dot)."""
    for m in _ACTION.finditer(source):
        action = m.group(2).strip()
        if _GO_HINT.search(action) or _GO_CALL.match(action):
            return True
    return False


@dataclass(slots=True)
class _Block:
    kind: str  # "if", "range", "with"
    outer_dot: str
    inner_dot: str


class _Translator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.dot = "_root"
        self.stack: list[_Block] = []
        self.counter = 0

    def fail(self, action: str, why: str) -> GoTemplateError:
        return GoTemplateError(f"Go template action {{{{{action}}}}}: {why}")

    # --- expressions ---------------------------------------------------------------------------
    def tokens(self, text: str, action: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise self.fail(action, f"cannot read {text[pos:].strip()!r}")
            kind = m.lastgroup or ""
            out.append((kind, m.group(kind)))
            pos = m.end()
        return out

    def operand(self, kind: str, value: str, action: str) -> str:
        if kind == "str":
            if value.startswith("`"):
                return json.dumps(value[1:-1])
            return json.dumps(json.loads(value))
        if kind == "num":
            return value
        if kind == "field":
            return self.dot if value == "." else self.dot + value
        if kind == "var":
            name, _, rest = value.partition(".")
            base = "_root" if name == "$" else "v_" + name[1:]
            return base + ("." + rest if rest else "")
        if kind == "ident":
            if value in ("true", "false"):
                return value
            if value == "nil":
                return "none"
            if value in FUNCTIONS:
                return f"go_{value}()"
            raise self.fail(action, f"unknown function {value!r}")
        raise self.fail(action, f"unexpected {value!r}")

    def pipeline(self, toks: list[tuple[str, str]], action: str) -> str:
        commands: list[list[str]] = [[]]
        depth = 0
        i = 0
        while i < len(toks):
            kind, value = toks[i]
            if kind == "op" and value == "(":
                depth = 1
                j = i + 1
                while j < len(toks) and depth:
                    if toks[j] == ("op", "("):
                        depth += 1
                    elif toks[j] == ("op", ")"):
                        depth -= 1
                    j += 1
                if depth:
                    raise self.fail(action, "unbalanced parentheses")
                group = "(" + self.pipeline(toks[i + 1 : j - 1], action) + ")"
                if j < len(toks) and toks[j][0] == "field" and toks[j][1] != ".":
                    group += toks[j][1]  # ``(index .Alerts 0).Labels.job``
                    j += 1
                commands[-1].append(group)
                i = j
                continue
            if kind == "op" and value == "|":
                commands.append([])
            elif kind == "op":
                raise self.fail(action, f"unexpected {value!r}")
            elif kind == "ident" and value in FUNCTIONS and not commands[-1]:
                commands[-1].append(f"@{value}")
            else:
                commands[-1].append(self.operand(kind, value, action))
            i += 1
        expr: str | None = None
        for cmd in commands:
            if not cmd:
                raise self.fail(action, "empty command in pipeline")
            if cmd[0].startswith("@"):
                args = cmd[1:] + ([expr] if expr is not None else [])
                expr = f"go_{cmd[0][1:]}({', '.join(args)})"
            elif len(cmd) > 1 or expr is not None:
                # A method called with arguments: ``.Labels.Remove .GroupLabels.Names`` or
                # ``.StartsAt.Format "2006-01-02"`` (Go's reference-time layout).
                method = re.search(r"\.(Remove|Format)$", cmd[0])
                if method is None:
                    raise self.fail(action, f"{cmd[0]} is not a function")
                args = cmd[1:] + ([expr] if expr is not None else [])
                if method.group(1) == "Format":
                    target = cmd[0][: method.start()]
                    expr = f"go_timeFormat({target}, {', '.join(args)})"
                else:
                    expr = f"{cmd[0]}({', '.join(args)})"
            else:
                expr = cmd[0]
        assert expr is not None
        return expr

    # --- actions -------------------------------------------------------------------------------
    def new_dot(self) -> str:
        self.counter += 1
        return f"_d{self.counter}"

    def action(self, body: str, lt: str, rt: str) -> str:
        text = body.strip()
        if text.startswith("/*"):
            return ""
        toks = self.tokens(text, text)
        if not toks:
            raise self.fail(text, "empty action")
        head = toks[0][1] if toks[0][0] == "ident" else ""

        def tag(inner: str) -> str:
            return "{%" + lt + " " + inner + " " + rt + "%}"

        if head == "if":
            self.stack.append(_Block("if", self.dot, self.dot))
            return tag("if " + self.pipeline(toks[1:], text))
        if head == "else":
            if not self.stack:
                raise self.fail(text, "else without if, range or with")
            block = self.stack[-1]
            if len(toks) > 2 and toks[1] == ("ident", "if") and block.kind == "if":
                return tag("elif " + self.pipeline(toks[2:], text))
            if len(toks) > 1:
                raise self.fail(text, "only 'else' and 'else if' are supported")
            self.dot = block.outer_dot
            return tag("else")
        if head == "end":
            if not self.stack:
                raise self.fail(text, "end without if, range or with")
            block = self.stack.pop()
            self.dot = block.outer_dot
            if block.kind == "if":
                return tag("endif")
            if block.kind == "range":
                return tag("endfor")
            return tag("endif") + tag("endwith")
        if head == "range":
            rest = toks[1:]
            names: list[str] = []
            if ("op", ":=") in rest:
                at = rest.index(("op", ":="))
                names = ["v_" + v[1:] for k, v in rest[:at] if k == "var"]
                rest = rest[at + 1 :]
            expr = self.pipeline(rest, text)
            outer = self.dot
            if len(names) == 2:
                inner = names[1]
                loop = f"for {names[0]}, {names[1]} in go_pairs({expr})"
            else:
                inner = names[0] if names else self.new_dot()
                loop = f"for {inner} in go_values({expr})"
            self.stack.append(_Block("range", outer, inner))
            self.dot = inner
            return tag(loop)
        if head == "with":
            inner = self.new_dot()
            expr = self.pipeline(toks[1:], text)
            self.stack.append(_Block("with", self.dot, inner))
            self.dot = inner
            return tag(f"with {inner} = {expr}") + tag(f"if {inner}")
        if head == "template" and len(toks) >= 2 and toks[1][0] == "str":
            # Alertmanager's named defaults ("slack.default.title") map to tocsin's defaults.
            arg = self.pipeline(toks[2:], text) if len(toks) > 2 else "none"
            return "{{" + lt + f" go_template({self.operand('str', toks[1][1], text)}, {arg}) " + rt + "}}"
        if head in ("template", "define", "block", "break", "continue"):
            raise self.fail(text, f"'{head}' is not supported; write the template out in full (Jinja2 or Go)")
        if toks[0][0] == "var" and len(toks) > 1 and toks[1] in (("op", ":="), ("op", "=")):
            name = "v_" + toks[0][1][1:]
            return tag(f"set {name} = {self.pipeline(toks[2:], text)}")
        return "{{" + lt + " " + self.pipeline(toks, text) + " " + rt + "}}"

    def run(self) -> str:
        out: list[str] = []
        pos = 0
        for m in _ACTION.finditer(self.source):
            out.append(_literal(self.source[pos : m.start()]))
            lt = "-" if m.group(1) else ""
            rt = "-" if m.group(3) else ""
            out.append(self.action(m.group(2), lt, rt))
            pos = m.end()
        out.append(_literal(self.source[pos:]))
        if self.stack:
            raise GoTemplateError(
                f"Go template: {{{{ {self.stack[-1].kind} }}}} has no matching {{{{ end }}}}"
            )
        return "".join(out)


_JINJA_MARKS = re.compile(r"\{%|%\}|\{#|#\}|\{\{|\}\}")


def _literal(text: str) -> str:
    # Text between Go actions may hold Jinja's delimiters; emit each as a string expression.
    return _JINJA_MARKS.sub(lambda m: '{{ "' + m.group(0) + '" }}', text)


def translate(source: str) -> str:
    """The Jinja2 equivalent of Go template ``source``; raises GoTemplateError when unsupported."""
    return _Translator(source).run()


# --- the functions translated templates call --------------------------------------------------
def _values(x: Any) -> Iterator[Any]:
    if x is None:
        return iter(())
    if isinstance(x, Mapping):
        # Go ranges over maps in key order.
        return iter([x[k] for k in sorted(x)])
    return iter(x)


def _pairs(x: Any) -> Iterator[tuple[Any, Any]]:
    if x is None:
        return iter(())
    if isinstance(x, Mapping):
        return iter([(k, x[k]) for k in sorted(x)])
    return iter(enumerate(x))


def _len(x: Any) -> int:
    return 0 if x is None else len(x)


def _index(x: Any, *keys: Any) -> Any:
    for k in keys:
        if x is None:
            return ""
        x = x.get(k, "") if isinstance(x, Mapping) else x[int(k)]
    return x


def _eq(a: Any, *bs: Any) -> bool:
    return any(a == b for b in bs)


def _and(*xs: Any) -> Any:
    for x in xs:
        if not x:
            return x
    return xs[-1] if xs else True


def _or(*xs: Any) -> Any:
    for x in xs:
        if x:
            return x
    return xs[-1] if xs else False


def _go_str(x: Any) -> str:
    if x is None:
        return "<no value>"
    if isinstance(x, bool):
        return "true" if x else "false"
    return str(x)


_GO_VERB = re.compile(r"%([-+# 0]*\d*(?:\.\d+)?)([vsdqfgxX%])")


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def one(m: re.Match[str]) -> str:
        flags, verb = m.group(1), m.group(2)
        if verb == "%":
            return "%"
        v = next(values, None)
        if verb in "vs":
            return ("%" + flags + "s") % _go_str(v)
        if verb == "q":
            return json.dumps(_go_str(v))
        return ("%" + flags + verb) % v

    return _GO_VERB.sub(one, fmt)


def _title(s: str) -> str:
    return re.sub(r"\b([a-z])", lambda m: m.group(1).upper(), s)


def _go_repl(repl: str) -> str:
    # Go's regexp uses $1 and ${1}; Python's re.sub wants \g<1>.
    return re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl.replace("\\", "\\\\"))


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    return re.sub(pattern, _go_repl(repl), text)


def _match(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


def _since(t: datetime) -> float:
    return (datetime.now(UTC) - t).total_seconds()


def _humanize_duration(seconds: Any) -> str:
    s = float(seconds)
    if s < 1:
        return f"{s * 1000:.4g}ms"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            parts.append(f"{int(s // size)}{unit}")
            s -= (s // size) * size
    parts.append(f"{int(s)}s")
    return " ".join(parts)


#: Go reference-time layout elements → strftime directives, longest first.
_GO_LAYOUT = [
    ("2006", "%Y"), ("January", "%B"), ("Monday", "%A"), ("-07:00", "%:z"), ("-0700", "%z"),
    ("Z07:00", "%:z"), ("MST", "%Z"), ("Jan", "%b"), ("Mon", "%a"), ("01", "%m"), ("02", "%d"),
    ("15", "%H"), ("03", "%I"), ("04", "%M"), ("05", "%S"), ("PM", "%p"), ("06", "%y"),
    (".000000", ".%f"), (".000", ".%f"),
]  # fmt: skip
_GO_LAYOUT_RE = re.compile("|".join(re.escape(k) for k, _ in _GO_LAYOUT))


def _time_format(t: Any, layout: str) -> str:
    """``time.Format`` with a Go layout such as ``2006-01-02 15:04:05 MST``."""
    if not isinstance(t, datetime):
        return ""
    table = dict(_GO_LAYOUT)
    directive = _GO_LAYOUT_RE.sub(lambda m: table[m.group(0)], layout.replace("%", "%%"))
    out = t.strftime(directive)
    if ".000" in layout and ".000000" not in layout:
        # Go's .000 is milliseconds; strftime only knows microseconds.
        out = re.sub(r"\.(\d{3})\d{3}", r".\1", out)
    return out


GO_FUNCTIONS: dict[str, Any] = {
    "go_values": _values,
    "go_timeFormat": _time_format,
    # Alertmanager's ``{{ .StartsAt | tz "Europe/Paris" | date "15:04" }}``
    "go_date": lambda layout, t: _time_format(t, layout),
    "go_tz": lambda name, t: t.astimezone(ZoneInfo(name)) if isinstance(t, datetime) else t,
    "go_pairs": _pairs,
    "go_len": _len,
    "go_index": _index,
    "go_eq": _eq,
    "go_ne": lambda a, b: a != b,
    "go_lt": lambda a, b: a < b,
    "go_le": lambda a, b: a <= b,
    "go_gt": lambda a, b: a > b,
    "go_ge": lambda a, b: a >= b,
    "go_and": _and,
    "go_or": _or,
    "go_not": lambda x: not x,
    "go_print": lambda *xs: "".join(_go_str(x) for x in xs),
    "go_println": lambda *xs: " ".join(_go_str(x) for x in xs) + "\n",
    "go_printf": _printf,
    "go_toUpper": lambda s: str(s).upper(),
    "go_toLower": lambda s: str(s).lower(),
    "go_title": lambda s: _title(str(s)),
    "go_trimSpace": lambda s: str(s).strip(),
    "go_join": lambda sep, xs: str(sep).join(str(x) for x in xs),
    "go_match": _match,
    "go_reReplaceAll": _re_replace_all,
    "go_safeHtml": lambda s: Markup(s),
    "go_safeUrl": lambda s: Markup(s),
    "go_urlUnescape": lambda s: unquote(str(s)),
    "go_stringSlice": lambda *xs: list(xs),
    "go_since": _since,
    "go_humanizeDuration": _humanize_duration,
    "go_toJson": lambda x: json.dumps(x, default=str),
    # Sprig's argument order, so ``{{ .X | trimPrefix "p" }}`` pipes the string in last.
    "go_trimPrefix": lambda p, s: str(s).removeprefix(p),
    "go_trimSuffix": lambda p, s: str(s).removesuffix(p),
}

#: Function names a Go template may call (every go_* helper but the loop helpers).
FUNCTIONS = frozenset(k.removeprefix("go_") for k in GO_FUNCTIONS) - {"values", "pairs", "timeFormat"}
#: A Go function called with space-separated arguments (``{{ toUpper "x" }}``), which is never
#: valid Jinja; ``not``/``and``/``or`` are left out because they are Jinja operators too.
_GO_CALL = re.compile(r"^(?:" + "|".join(sorted(FUNCTIONS - {"not", "and", "or"})) + r")\s+[\"`$.(\w]")
