"""Logs: logfmt by default, JSON lines on request, with the envelope id as a field of its own."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

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


def test_the_environment_chooses_json_and_the_cli_refuses_unknown_formats(capsys, restore_logging, monkeypatch):
    monkeypatch.setenv("WATERTEL_LOG_FORMAT", "json")
    logs.setup(1)
    logging.getLogger("watertel.edge").info("uplink connected", extra={"broker": "mqtts://a:8883"})
    assert json.loads(capsys.readouterr().err)["broker"] == "mqtts://a:8883"
    refused = subprocess.run([sys.executable, "-m", "watertel", "--log-format", "xml", "keys", "--help"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "invalid choice: 'xml'" in refused.stderr
