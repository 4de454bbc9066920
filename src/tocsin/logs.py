"""Log output in Alertmanager's formats: logfmt (default) or JSON, one line per record."""

from __future__ import annotations

import json
import logging
import sys
import time

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def _logfmt_value(v: str) -> str:
    if v == "" or any(c in v for c in ' ="\n\t'):
        return json.dumps(v, ensure_ascii=False)
    return v


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        level = "warn" if record.levelno == logging.WARNING else record.levelname.lower()
        parts = [
            f"ts={ts}",
            f"level={level}",
            f"caller={record.name}",
            f"msg={_logfmt_value(record.getMessage())}",
        ]
        if record.exc_info:
            parts.append(f"err={_logfmt_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        out = {
            "ts": ts,
            "level": "warn" if record.levelno == logging.WARNING else record.levelname.lower(),
            "caller": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["err"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    if level not in LEVELS:
        raise ValueError(f"invalid --log.level {level!r}: use one of {', '.join(LEVELS)}")
    if fmt not in ("logfmt", "json"):
        raise ValueError(f"invalid --log.format {fmt!r}: use logfmt or json")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogfmtFormatter() if fmt == "logfmt" else JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    # uvicorn's access log would double the cost of every request; errors still show.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
