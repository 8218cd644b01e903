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
