"""Logs: logfmt by default, JSON lines on request, with the envelope id as a field of its own.

This file holds the tests that need no server and start no process; the others are in
tests/integration/test_logs.py."""

from __future__ import annotations

import json
import logging

import pytest

from watertel import logs


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def emit(capsys, fmt: str) -> str:
    logs.setup(1, fmt)
    logging.getLogger("watertel.cloud.ingest").warning(
        "envelope refused on %s: %s", "watertel/gw-1/up", "bad_signature",
        extra={"envelope": "gw-1/42", "gateway": "gw-1", "reason": "bad_signature", "note": "two words"})
    return capsys.readouterr().err.strip()


def test_json_lines_carry_the_context_as_fields(capsys, restore_logging):
    line = json.loads(emit(capsys, "json"))
    assert line["level"] == "warning" and line["logger"] == "watertel.cloud.ingest"
    assert line["msg"] == "envelope refused on watertel/gw-1/up: bad_signature"
    assert (line["envelope"], line["gateway"], line["reason"]) == ("gw-1/42", "gw-1", "bad_signature")
    assert line["ts"].endswith("Z")


def test_logfmt_quotes_only_what_needs_it(capsys, restore_logging):
    line = emit(capsys, "logfmt")
    assert ' level=warning logger=watertel.cloud.ingest msg="envelope refused on watertel/gw-1/up: bad_signature"' in line
    assert line.endswith(' envelope=gw-1/42 gateway=gw-1 reason=bad_signature note="two words"')


FORGED_TOPIC = 'watertel/gw-1/up\nts=2026-12-01T00:00:00.000Z level=error logger=watertel.cloud.api msg="admin deleted"'


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
@pytest.mark.parametrize("breaker", ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
def test_one_event_is_one_line_whatever_a_field_holds(capsys, restore_logging, fmt, breaker):
    """A topic chosen by the sender (issue 21: newlines in an MQTT topic forged log lines)."""
    topic = FORGED_TOPIC.replace("\n", breaker)
    logs.setup(1, fmt)
    logging.getLogger("watertel.cloud.ingest").warning("envelope refused on %s", topic, extra={"topic": topic})
    out = capsys.readouterr().err
    assert out.endswith("\n") and len(out[:-1].splitlines()) == 1, out
    if fmt == "json":
        assert json.loads(out)["topic"] == topic  # escaped, not lost


def test_logfmt_escapes_quotes_backslashes_and_controls():
    assert logs.logfmt_value("gw-1") == "gw-1"
    assert logs.logfmt_value("a\nb") == '"a\\nb"'
    assert logs.logfmt_value('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert logs.logfmt_value("\x00\x1b[31m\x7f") == '"\\x00\\x1b[31m\\x7f"'  # no terminal escape sequences either
    assert logs.logfmt_value("") == '""' and logs.logfmt_value("k=v") == '"k=v"'
    assert logs.logfmt_value("plain", always_quote=True) == '"plain"'


def test_logfmt_exception_text_stays_on_its_line(capsys, restore_logging):
    logs.setup(1, "logfmt")
    try:
        raise ValueError("first\nsecond")
    except ValueError:
        logging.getLogger("watertel").exception("failed")
    out = capsys.readouterr().err
    assert len(out.splitlines()) == 1 and 'exc="Traceback' in out and "first\\nsecond" in out
