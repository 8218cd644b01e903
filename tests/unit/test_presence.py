"""Signed gateway status (watertel/presence.py): verified with the gateway's key, and believed only
when newer than the last one accepted, so a recorded status published again is stale."""

from __future__ import annotations

import json

import pytest

from watertel.crypto import SM2PrivateKey
from watertel.presence import StatusError, newer, read_status, sign_status, verify_status

KEY = SM2PrivateKey.generate()


def signed(state: str, session: int, n: int, **extra) -> dict:
    body = {"gateway_id": "gw-1", "state": state, "session": session, "n": n, "key_id": "k1", **extra}
    return read_status(sign_status(body, KEY))


def test_a_signed_status_verifies_and_any_change_breaks_it():
    status = signed("online", 5, 1, version="0.1.0")
    assert verify_status(status, KEY.public)["version"] == "0.1.0"
    for field, value in [("state", "offline"), ("version", "6.6.6"), ("session", 6), ("n", 2), ("gateway_id", "gw-2")]:
        with pytest.raises(StatusError, match="bad_signature"):
            verify_status({**status, field: value}, KEY.public)
    with pytest.raises(StatusError, match="bad_signature"):
        verify_status(status, SM2PrivateKey.generate().public)
    with pytest.raises(StatusError, match="unsigned"):
        verify_status({k: v for k, v in status.items() if k != "sig"}, KEY.public)


def test_a_status_is_not_a_command_or_an_envelope_signature():
    body = {"gateway_id": "gw-1", "state": "offline", "session": 1, "n": 0, "key_id": "k1"}
    raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    forged = {**body, "sig": KEY.sign(raw).hex()}  # the same bytes signed without the status prefix
    with pytest.raises(StatusError, match="bad_signature"):
        verify_status(forged, KEY.public)


@pytest.mark.parametrize("payload", [b"\xff", b"[]", b'{"state": "dancing"}', b'"offline"'])
def test_what_is_not_a_status_is_unreadable(payload):
    with pytest.raises(StatusError, match="unreadable"):
        read_status(payload)


def test_only_newer_statuses_are_news():
    birth, refresh = signed("online", 100, 1), signed("online", 100, 2)
    will, stopped = signed("offline", 100, 0, will=True), signed("stopped", 100, 3)
    assert newer(birth, None) and newer(refresh, birth) and not newer(birth, refresh) and not newer(birth, birth)
    assert newer(will, refresh)  # signed first, published last: accepted while the session is open
    assert not newer(will, {**will})  # ... once
    assert not newer(refresh, {**will, "n": 2})  # nothing of a session after its will
    assert newer(stopped, refresh) and not newer(will, stopped)  # a planned stop closes it: its will cannot follow
    assert newer(signed("online", 200, 1), stopped) and not newer(will, signed("online", 200, 1))  # an old will, replayed
