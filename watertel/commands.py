"""Signed commands from the cloud to a gateway, and the gateway's signed answers.

Byte layout (both directions)::

    +------+---------+-------------+----------------+------------------------------+
    | "WC" | u8 ver  | u32 length  | UTF-8 JSON body | DER SM2 signature (the rest) |
    +------+---------+-------------+----------------+------------------------------+

The SM2 signature (SM3, user id 1234567812345678, as for envelopes) covers every byte before it.
A command body: ``{"gateway", "id", "nonce", "issued_ms", "expires_ms", "command", "args"}``;
an answer body: ``{"gateway", "command_id", "status": "done"|"refused", "reason", "result", "t_ms"}``.
JSON rather than a packed layout: commands are rare, small and must be easy to audit.

Commands and their args: ``read_now {device}``, ``set_poll_interval {device, seconds}``,
``write_point {device, point, value}``, ``set_config {yaml}`` (a whole edge file, at most
MAX_CONFIG_BYTES; answered once it is proven or rolled back, see edge_agent/reconfig.py),
``check_clock {}`` and ``set_time {}`` (the gateway's offset against ``issued_ms``).
"""

from __future__ import annotations

import json
import os
import struct
import time
import uuid
from dataclasses import dataclass
from typing import Any

from watertel.crypto import SM2PrivateKey, SM2PublicKey

MAGIC, VERSION = b"WC", 1
MAX_BYTES = 64 * 1024  # room for a set_config carrying a whole edge YAML (watertel.commands.MAX_CONFIG_BYTES)
MAX_CONFIG_BYTES = 32 * 1024  # a set_config's YAML; a pump house's config is a few KiB
COMMANDS = ("read_now", "set_poll_interval", "write_point", "set_config", "check_clock", "set_time", "resend")


class CommandError(Exception):
    """A message refused, with a short ``reason`` (answered back, counted, logged)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def pack(body: dict[str, Any], key: SM2PrivateKey, magic: bytes = MAGIC) -> bytes:
    """``body`` signed; ``magic``: another two bytes for a sibling format (watertel/notices.py)."""
    data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    signed = magic + bytes([VERSION]) + struct.pack(">I", len(data)) + data
    return signed + key.sign(signed)


def unpack(message: bytes, key: SM2PublicKey, magic: bytes = MAGIC) -> dict[str, Any]:
    """The body of a message signed by ``key``; CommandError for anything else."""
    if len(message) > MAX_BYTES:
        raise CommandError("oversized", f"{len(message)} bytes")
    if len(message) < 7 or message[:2] != magic or message[2] != VERSION:
        raise CommandError("bad_format", "not a watertel command (magic or version)")
    (length,) = struct.unpack(">I", message[3:7])
    if 7 + length >= len(message):
        raise CommandError("bad_format", "truncated")
    signed, signature = message[: 7 + length], message[7 + length:]
    if not key.verify(signature, signed):
        raise CommandError("bad_signature", "not signed by the expected key")
    try:
        body = json.loads(signed[7:])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CommandError("bad_format", f"body is not JSON ({err})") from err
    if not isinstance(body, dict):
        raise CommandError("bad_format", "body is not an object")
    return body


def command(gateway_id: str, name: str, args: dict[str, Any], key: SM2PrivateKey, ttl_s: float = 300) -> tuple[str, bytes]:
    """A new signed command (its id and bytes), valid for ``ttl_s`` seconds."""
    now = int(time.time() * 1000)
    command_id = str(uuid.uuid4())
    return command_id, pack({"gateway": gateway_id, "id": command_id, "nonce": os.urandom(8).hex(),
                             "issued_ms": now, "expires_ms": now + int(ttl_s * 1000), "command": name,
                             "args": args}, key)


@dataclass(frozen=True)
class Answer:
    gateway: str
    command_id: str
    status: str
    reason: str
    result: dict[str, Any]
    t_ms: int

    def pack(self, key: SM2PrivateKey) -> bytes:
        return pack(self.__dict__, key)

    @classmethod
    def unpack(cls, message: bytes, key: SM2PublicKey) -> Answer:
        body = unpack(message, key)
        try:
            return cls(**{k: body[k] for k in cls.__dataclass_fields__})
        except KeyError as err:
            raise CommandError("bad_format", f"answer without {err}") from err
