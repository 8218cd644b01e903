"""Logs: logfmt by default, JSON lines on request, with the envelope id as a field of its own.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/test_logs.py."""

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


def test_the_environment_chooses_json_and_the_cli_refuses_unknown_formats(capsys, restore_logging, monkeypatch):
    monkeypatch.setenv("WATERTEL_LOG_FORMAT", "json")
    logs.setup(1)
    logging.getLogger("watertel.edge").info("uplink connected", extra={"broker": "mqtts://a:8883"})
    assert json.loads(capsys.readouterr().err)["broker"] == "mqtts://a:8883"
    refused = subprocess.run([sys.executable, "-m", "watertel", "--log-format", "xml", "keys", "--help"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "invalid choice: 'xml'" in refused.stderr
