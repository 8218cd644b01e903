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


# Control characters (C0, DEL, C1) and Unicode line/paragraph separators: a value holding one (a
# topic or user name chosen by whoever sent it) could end the line and forge the next event.
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7f, 0xa0)]} | {
    0x2028: "\\u2028", 0x2029: "\\u2029", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
_ESCAPES = str.maketrans({ord("\\"): "\\\\", ord('"'): '\\"', **_CONTROL})


def logfmt_value(text: str, always_quote: bool = False) -> str:
    """``text`` as one logfmt value: quoted when it holds a space, ``=``, a quote, a backslash or a
    control character (or is empty), with ``\\``, ``\\"``, ``\\n``, ``\\r``, ``\\t`` and
    ``\\xHH`` escapes, so one event is always one line whatever its fields hold."""
    escaped = text.translate(_ESCAPES)
    if always_quote or escaped != text or not text or any(c in text for c in " ="):
        return f'"{escaped}"'
    return text


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{key}={logfmt_value(str(value), key == 'msg')}" for key, value in fields(record).items()]
        if record.exc_info:
            parts.append(f"exc={logfmt_value(self.formatException(record.exc_info), True)}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = fields(record)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        text = json.dumps(out, ensure_ascii=False, default=str)  # escapes C0 controls, not these line breaks:
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")


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
    logging.getLogger("watertel.audit.checkpoints").setLevel(min(level, logging.INFO))  # the service's, always
    if verbosity < 2:  # library chatter only when asked for with -vv
        for name in ("pymodbus", "amqtt", "transitions", "uvicorn", "asyncio"):
            logging.getLogger(name).setLevel(logging.ERROR)
        # pymodbus logs every unanswered request at error, one line a poll; watertel says which device
        # failed and why itself (once, with a hint), so its lines come only with -vv
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
