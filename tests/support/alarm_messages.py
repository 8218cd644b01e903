"""Every alarm the rules raise carries its message as data (cloud/alarms/messages.py): while the
cloud's tests run (an autouse fixture of tests/unit/cloud and tests/integration/cloud), an alarm raised from the alarms package without a known code, or with parameters the
code does not list (or that JSON cannot hold), fails the test that raised it. Alarms a test raises
itself (the store's own tests, fixtures) are left alone."""

from __future__ import annotations

import json
import sys

import pytest

from watertel.cloud.alarms.messages import check
from watertel.cloud.store.alarms import Alarms


@pytest.fixture(autouse=True)
def alarms_raise_codes(monkeypatch):
    original = Alarms.raise_alarm

    def raise_alarm(self, station, point, type_, severity, message, t_ms, suppressed=False, *, code="", params=None):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("watertel.cloud.alarms"):
            assert code, f"{caller} raised {type_} without a message code: {message}"
            check(code, dict(params or {}))
            json.dumps(dict(params or {}), allow_nan=False)
        return original(self, station, point, type_, severity, message, t_ms, suppressed, code=code, params=params)

    monkeypatch.setattr(Alarms, "raise_alarm", raise_alarm)
