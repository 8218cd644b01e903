"""The signed envelope: one batch of readings from one gateway, as bytes on the wire.

Version 1 byte layout (all integers big-endian)::

    0      2   magic "WT"
    2      1   version = 1
    3      1   flags (bit 0 reserved for SM4-GCM payload encryption; must be 0 in version 1)
    4      1   G = length of gateway id
    5      G   gateway id, UTF-8
    .      1   K = length of key id
    .      K   key id, UTF-8
    .      8   sequence number (u64), 1 for a gateway's first envelope, +1 each
    .      32  SM3 hash of the previous envelope's full bytes (32 zero bytes before the first)
    .      8   creation time, Unix ms (u64)
    .      4   P = payload length (u32)
    .      P   payload, below
    .      1   S = signature length
    .      S   SM2 signature (SM3 digest, user ID "1234567812345678", DER r,s) over every
               byte from the magic to the end of the payload: exactly the bytes that travel

    payload:
    +--------+-----------------------------+--------+---------------------------------------+
    | u16 n  | n strings: u8 len + UTF-8   | u32 m  | m readings of 23 bytes each:          |
    |        | (station, point, unit names)|        | u16 station idx, u16 point idx,       |
    |        |                             |        | u16 unit idx, i64 sample ms,          |
    |        |                             |        | f64 value (NaN = none), u8 quality    |
    +--------+-----------------------------+--------+---------------------------------------+

The string table keeps a batch of 200 readings of 4 points under 5 kB, which suits 4G links.
Parsing is strict: a wrong length, index, quality code, UTF-8 sequence or trailing byte refuses
the whole envelope with ``EnvelopeError(reason)``; nothing is half-parsed. The verifier checks the
signature over the received bytes before it trusts any field but the key lookup ones.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

from watertel.crypto import SM2PrivateKey, SM2PublicKey, sm3
from watertel.readings import Quality, Reading

MAGIC = b"WT"
VERSION = 1
GENESIS_HASH = bytes(32)
MAX_ENVELOPE_BYTES = 1 << 20
MAX_READINGS = 20_000
_READING = struct.Struct(">HHHqdB")
_QUALITIES = {q.value: q for q in Quality}


class EnvelopeError(ValueError):
    """An envelope refused; ``reason`` is a short stable code for quarantine and metrics."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ChainState:
    """What a gateway must remember between envelopes: its next sequence number and last hash."""

    seq: int = 1
    prev_hash: bytes = GENESIS_HASH


@dataclass(frozen=True)
class Envelope:
    """An opened (verified) envelope."""

    gateway_id: str
    key_id: str
    seq: int
    prev_hash: bytes
    created_ms: int
    readings: tuple[Reading, ...]
    hash: bytes  # SM3 of the full envelope bytes: the next envelope's prev_hash


def _short_str(value: str, what: str) -> bytes:
    raw = value.encode()
    if not 0 < len(raw) < 256:
        raise ValueError(f"{what} must be 1..255 bytes of UTF-8 (got {value!r})")
    return bytes([len(raw)]) + raw


def _encode_payload(readings: list[Reading]) -> bytes:
    table: dict[str, int] = {}
    rows = []
    for r in readings:
        idx = [table.setdefault(s, len(table)) for s in (r.station, r.point, r.unit or "-")]
        rows.append(_READING.pack(*idx, r.t_ms, r.value, int(r.quality)))
    if len(table) > 0xFFFF:
        raise ValueError("too many distinct names in one batch")
    head = struct.pack(">H", len(table)) + b"".join(_short_str(s, "name") for s in table)
    return head + struct.pack(">I", len(rows)) + b"".join(rows)


def seal(readings: list[Reading], key: SM2PrivateKey, gateway_id: str, key_id: str,
         state: ChainState, created_ms: int) -> tuple[bytes, ChainState]:
    """Seal a batch; return the envelope bytes and the chain state for the next one."""
    if not readings or len(readings) > MAX_READINGS:
        raise ValueError(f"a batch holds 1..{MAX_READINGS} readings (got {len(readings)})")
    payload = _encode_payload(readings)
    signed = b"".join([
        MAGIC, bytes([VERSION, 0]), _short_str(gateway_id, "gateway id"), _short_str(key_id, "key id"),
        struct.pack(">Q", state.seq), state.prev_hash, struct.pack(">QI", created_ms, len(payload)), payload,
    ])
    signature = key.sign(signed)
    data = signed + bytes([len(signature)]) + signature
    return data, ChainState(state.seq + 1, sm3(data))


class _Reader:
    """Bounds-checked cursor over the received bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise EnvelopeError("truncated", f"needed {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def short_str(self) -> str:
        raw = self.take(self.take(1)[0])
        try:
            text = raw.decode()
        except UnicodeDecodeError as err:
            raise EnvelopeError("bad_utf8", f"at offset {self.pos - len(raw)}") from err
        if not text:
            raise EnvelopeError("empty_string", f"at offset {self.pos - 1}")
        return text


def _decode_payload(payload: bytes) -> tuple[Reading, ...]:
    cur = _Reader(payload)
    names = [cur.short_str() for _ in range(cur.unpack(">H")[0])]
    (count,) = cur.unpack(">I")
    if count == 0 or count > MAX_READINGS:
        raise EnvelopeError("bad_count", f"{count} readings")
    readings = []
    for _ in range(count):
        s, p, u, t_ms, value, q = _READING.unpack(cur.take(_READING.size))
        if max(s, p, u) >= len(names):
            raise EnvelopeError("bad_index", "reading names a string past the table")
        if q not in _QUALITIES:
            raise EnvelopeError("bad_quality", f"quality code {q}")
        readings.append(Reading(names[s], names[p], t_ms, value, names[u], _QUALITIES[q]))
    if cur.pos != len(payload):
        raise EnvelopeError("trailing_bytes", "after the last reading")
    return tuple(readings)


def open_envelope(data: bytes, lookup_key: Callable[[str, str], SM2PublicKey | None]) -> Envelope:
    """Verify and decode ``data``; ``lookup_key(gateway_id, key_id)`` returns the registered key.

    Raises EnvelopeError with a reason: too_large, bad_magic, bad_version, bad_flags, truncated,
    unknown_key, bad_signature, and the payload reasons above.
    """
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError("too_large", f"{len(data)} bytes")
    cur = _Reader(data)
    if cur.take(2) != MAGIC:
        raise EnvelopeError("bad_magic")
    version, flags = cur.take(2)
    if version != VERSION:
        raise EnvelopeError("bad_version", str(version))
    if flags != 0:
        raise EnvelopeError("bad_flags", f"{flags:#04x}")
    gateway_id, key_id = cur.short_str(), cur.short_str()
    (seq,) = cur.unpack(">Q")
    prev_hash = cur.take(32)
    created_ms, size = cur.unpack(">QI")
    payload = cur.take(size)
    signed_end = cur.pos
    signature = cur.take(cur.take(1)[0])
    if cur.pos != len(data):
        raise EnvelopeError("trailing_bytes", "after the signature")
    public = lookup_key(gateway_id, key_id)
    if public is None:
        raise EnvelopeError("unknown_key", f"gateway {gateway_id!r} key {key_id!r}")
    if not public.verify(signature, data[:signed_end]):
        raise EnvelopeError("bad_signature", f"gateway {gateway_id!r} seq {seq}")
    if seq == 0:
        raise EnvelopeError("bad_seq", "sequence numbers start at 1")
    return Envelope(gateway_id, key_id, seq, prev_hash, created_ms, _decode_payload(payload), sm3(data))
