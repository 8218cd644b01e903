"""Structured logs, quiet by default: warnings and errors unless -v is given.

Two formats of the same fields: logfmt (``ts=… level=… logger=… msg="…"``, easy to read and to
grep) and JSON lines (``--log-format json`` or ``WATERTEL_LOG_FORMAT=json``) for a log shipper.
Context passed with ``extra=`` — an envelope id ``gateway/seq``, a gateway, a reason — becomes
fields of its own, so "everything about envelope gw-0001/42" is one query, not a regex.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time

FORMATS = ("logfmt", "json")
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def fields(record: logging.LogRecord) -> dict[str, object]:
    """The record as ordered fields: time, level, logger, message, then the ``extra=`` context."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
    out: dict[str, object] = {"ts": ts, "level": record.levelname.lower(), "logger": record.name,
                              "msg": record.getMessage()}
    out.update((k, v) for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_"))
    return out


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for key, value in fields(record).items():
            text = str(value)
            quoted = key == "msg" or any(c in text for c in ' ="') or not text
            parts.append(f'{key}="{text.replace(chr(34), chr(39))}"' if quoted else f"{key}={text}")
        if record.exc_info:
            parts.append(f'exc="{self.formatException(record.exc_info)!r}"')
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = fields(record)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup(verbosity: int = 0, fmt: str | None = None) -> None:
    """Log to stderr in ``fmt`` (default: $WATERTEL_LOG_FORMAT, else logfmt)."""
    fmt = fmt or os.environ.get("WATERTEL_LOG_FORMAT") or "logfmt"
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use logfmt or json")
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if verbosity < 2:  # library chatter only when asked for with -vv
        for name in ("pymodbus", "amqtt", "transitions", "uvicorn", "asyncio"):
            logging.getLogger(name).setLevel(logging.ERROR)
        # pymodbus logs every unanswered request at error, one line a poll; watertel says which device
        # failed and why itself (once, with a hint), so its lines come only with -vv
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
