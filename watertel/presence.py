"""A gateway's presence on ``<prefix>/<gateway>/status``, signed with the gateway's SM2 key.

The message stays one JSON object (readable with ``mosquitto_sub``); three fields make it
verifiable and fix its place in time, and one carries the signature::

    {"gateway_id": "gw-1", "state": "online" | "offline" | "stopped", …birth and live fields…,
     "session": 1765152000123, "n": 3, "key_id": "gw-1-k1", "sig": "<hex DER SM2 signature>"}

The SM2 signature (SM3, the default user id, as for envelopes and commands) covers
``b"watertel-status\\n"`` and the canonical JSON (sorted keys, no spaces) of every field but
``sig``: the prefix keeps a status signature from passing for anything else.

``session`` is chosen at each connection, above every session the gateway used before (time
based, kept in its buffer, so a clock set back does not reuse one); ``n`` counts its messages:
the last will is prepared and signed when the connection opens as ``n = 0`` with
``"will": true`` (the broker publishes it when the gateway dies), the birth is 1, each refresh
one more, and a planned stop says ``"stopped"`` with the next number. A receiver accepts a
message only if it is newer than the last one it accepted (``newer``): anything recorded earlier
and published again is stale.
"""

from __future__ import annotations

import json
from typing import Any

from watertel.crypto import SM2PrivateKey, SM2PublicKey

DOMAIN = b"watertel-status\n"
STATES = ("online", "offline", "stopped")
SIGNED_FIELDS = ("gateway_id", "state", "session", "n", "key_id")  # present in every signed status


class StatusError(ValueError):
    """A status message that is not a valid signed status; ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def _signed_bytes(body: dict[str, Any]) -> bytes:
    return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign_status(body: dict[str, Any], key: SM2PrivateKey) -> bytes:
    """The message to publish: ``body`` (with the fields of SIGNED_FIELDS) and its signature."""
    missing = [f for f in SIGNED_FIELDS if f not in body]
    if missing:
        raise ValueError(f"status without {missing}")
    return json.dumps({**body, "sig": key.sign(_signed_bytes(body)).hex()}, sort_keys=True).encode()


def read_status(payload: bytes) -> dict[str, Any]:
    """The message as a dict, unverified; StatusError if it is not a status at all."""
    try:
        status = json.loads(payload)
    except ValueError:
        raise StatusError("unreadable", "not JSON") from None
    if not isinstance(status, dict) or status.get("state") not in STATES:
        raise StatusError("unreadable", "not a status object with a known state")
    return status


def verify_status(status: dict[str, Any], key: SM2PublicKey) -> dict[str, Any]:
    """The fields without ``sig`` if ``key`` signed them; StatusError otherwise."""
    body = {k: v for k, v in status.items() if k != "sig"}
    sig = status.get("sig")
    if not isinstance(sig, str):
        raise StatusError("unsigned", "no signature")
    if not all(isinstance(body.get(f), int) and not isinstance(body.get(f), bool) for f in ("session", "n")):
        raise StatusError("bad_format", "session and n must be integers")
    try:
        ok = key.verify(bytes.fromhex(sig), _signed_bytes(body))
    except ValueError:
        ok = False
    if not ok:
        raise StatusError("bad_signature", "the signature does not verify with the gateway's key")
    return body


def newer(status: dict[str, Any], last: dict[str, Any] | None) -> bool:
    """Whether a verified ``status`` follows ``last`` (the last one accepted from its gateway).

    A later session, or a later message of the same session; or that session's own last will
    while the session is still open (the will is signed first, as n = 0, but comes last)."""
    if last is None or not isinstance(last.get("session"), int) or not isinstance(last.get("n"), int):
        return True
    if status["session"] != last["session"]:
        return status["session"] > last["session"]
    if status.get("will"):
        return last.get("state") == "online"
    return status["n"] > last["n"] and last.get("state") == "online"
