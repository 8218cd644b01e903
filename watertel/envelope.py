"""The signed envelope: one batch of readings from one gateway, as bytes on the wire.

docs/envelope.md describes it for third-party verifiers (signature input, chain rule, SM4-GCM,
key ids and rotation, refusal reasons) with a worked example that tests/unit/test_envelope_doc.py
checks; keep the drawing below and the page's in step.

Version 1 byte layout (all integers big-endian)::

    0      2   magic "WT"
    2      1   version = 1
    3      1   flags: bit 0 = payload encrypted with SM4-GCM; the other bits must be 0
    4      1   G = length of gateway id
    5      G   gateway id, UTF-8
    .      1   K = length of key id
    .      K   key id, UTF-8
    .      8   sequence number (u64), 1 for a gateway's first envelope, +1 each
    .      32  SM3 hash of the previous envelope's full bytes (32 zero bytes before the first)
    .      8   creation time, Unix ms (u64)
               -- only when flags bit 0 is set (encrypted payload):
    .      1   E = length of the SM4 key id
    .      E   SM4 key id, UTF-8 (which of the gateway's payload keys)
    .      12  GCM nonce, random per envelope
               -- always:
    .      4   P = payload length (u32)
    .      P   payload, below; when encrypted: SM4-GCM(payload) ‖ 16-byte tag, with every byte
               from the magic to the end of the nonce as associated data (so the readable
               header is authenticated by the key holder too, not only by the signature)
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

Encryption (RFC 8998 SM4-GCM, 128-bit key, 96-bit nonce, 128-bit tag) is encrypt-then-sign:
the SM2 signature covers the ciphertext, so a receiver verifies the gateway before it decrypts,
and routing (gateway id, key ids, sequence, chain) stays readable without the payload key.

Quality codes (``watertel.readings.Quality``; only ever appended): 0 ok, 1 timeout, 2 Modbus
exception, 3 out of range, 4 sensor fault, 5 communication error, 6 totaliser rollover,
7 totaliser reset (meter replaced), 8 sampled with an unsynchronised clock.

The string table keeps a batch of 200 readings of 4 points under 5 kB, which suits 4G links.
Parsing is strict: a wrong length, index, quality code, UTF-8 sequence or trailing byte refuses
the whole envelope with ``EnvelopeError(reason)``; nothing is half-parsed. The verifier checks the
signature over the received bytes before it trusts any field but the key lookup ones.
"""

from __future__ import annotations

import functools
import os
import struct
from dataclasses import dataclass
from itertools import chain, starmap
from operator import itemgetter
from typing import Callable, NamedTuple, Sequence

from watertel.crypto import SM2PrivateKey, SM2PublicKey, sm3, sm4
from watertel.crypto.sm4 import PayloadKey, PayloadKeyError
from watertel.readings import Quality, Reading, make_readings

try:  # the payload rows in C, built at install when a compiler is there (setup.py)
    from watertel import _payload as _accel
except ImportError:  # pragma: no cover - depends on the install
    _accel = None

MAGIC = b"WT"
VERSION = 1
FLAG_ENCRYPTED = 0x01
GENESIS_HASH = bytes(32)
MAX_ENVELOPE_BYTES = 1 << 20
MAX_READINGS = 20_000
_READING = struct.Struct(">HHHqdB")
_U16, _U32, _U64 = struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">Q")
_QUALITY_BY_CODE = tuple(sorted(Quality))  # codes are 0..n-1, only ever appended: index = code


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
    payload_key_id: str | None = None  # the SM4 key id when the payload travelled encrypted


def _short_str(value: str, what: str) -> bytes:
    raw = value.encode()
    if not 0 < len(raw) < 256:
        raise ValueError(f"{what} must be 1..255 bytes of UTF-8 (got {value!r})")
    return bytes([len(raw)]) + raw


def _gather(table: Sequence | dict, indices: tuple) -> tuple:
    """``table[i]`` for each i, in C (``itemgetter``); IndexError/KeyError past the table."""
    return (table[indices[0]],) if len(indices) == 1 else itemgetter(*indices)(table)


def _encode_payload(readings: Sequence[Reading]) -> bytes:
    """The payload's bytes (see ``_payload_pieces``)."""
    return b"".join(_payload_pieces(readings)[0])


def _payload_pieces(readings: Sequence[Reading]) -> tuple[list[bytes], int]:
    """The payload as pieces to join, and its length (so that the clear payload is joined once,
    with the header)."""
    names, rows = _encode_rows(readings)
    table = _table_bytes(tuple(names))
    return [table, _U32.pack(len(readings)), rows], len(table) + 4 + len(rows)


def _encode_rows(readings: Sequence[Reading]) -> tuple[Sequence[str], bytes]:
    """The names (every station, then point, then unit, each in order of first use) and the packed
    rows: in C when the accelerator is built (~8 µs for 100 readings), else column-wise in Python
    (~33 µs; a Python loop per reading cost a fifth of a signature). Both make the same bytes; any
    error in C is left to the Python code to raise in its own words."""
    if _accel is not None:
        try:
            return _accel.encode_rows(readings, "-")
        except (TypeError, ValueError, OverflowError):
            pass
    stations, points, times, values, units, qualities = zip(*readings)
    if "" in units:
        units = tuple(u or "-" for u in units)
    names = tuple(dict.fromkeys(chain(stations, points, units)))
    if len(names) > 0xFFFF:
        raise ValueError("too many distinct names in one batch")
    index = dict(zip(names, range(len(names))))
    columns = (_gather(index, stations), _gather(index, points), _gather(index, units), times, values, qualities)
    return names, _pack_rows(len(times), columns)


def _pack_rows(count: int, columns: tuple[tuple, ...]) -> bytes:
    """The fixed-size rows from the six columns: interleaved by slice assignment and packed by one
    cached Struct (the decoder's), two thirds of the time of one ``pack`` per row."""
    if count > _ROWS_STRUCT_MAX:
        return b"".join(starmap(_READING.pack, zip(*columns)))
    flat: list = [None] * (6 * count)
    for field, column in enumerate(columns):
        flat[field::6] = column
    return _rows_struct(count).pack(*flat)


@functools.lru_cache(maxsize=1024)
def _table_bytes(names: tuple[str, ...]) -> bytes:
    """The string table: a gateway sends the same names in every batch, so encoded once."""
    return b"".join([_U16.pack(len(names)), *(_short_str(name, "name") for name in names)])


def seal(readings: Sequence[Reading], key: SM2PrivateKey, gateway_id: str, key_id: str,
         state: ChainState, created_ms: int, payload_key: PayloadKey | None = None) -> tuple[bytes, ChainState]:
    """Seal a batch; return the envelope bytes and the chain state for the next one.

    With ``payload_key`` the payload is SM4-GCM encrypted (flags bit 0) before it is signed.
    """
    if not readings or len(readings) > MAX_READINGS:
        raise ValueError(f"a batch holds 1..{MAX_READINGS} readings (got {len(readings)})")
    pieces, size = _payload_pieces(readings)
    header = [_header_start(FLAG_ENCRYPTED if payload_key else 0, gateway_id, key_id), _U64.pack(state.seq),
              state.prev_hash, _U64.pack(created_ms)]
    if payload_key:
        nonce = os.urandom(sm4.NONCE_BYTES)
        header += [_short_str(payload_key.key_id, "payload key id"), nonce]
        pieces = [sm4.encrypt(payload_key.key, nonce, b"".join(pieces), b"".join(header))]
        size = len(pieces[0])
    signed = b"".join([*header, _U32.pack(size), *pieces])
    signature = key.sign(signed)
    data = b"".join([signed, bytes([len(signature)]), signature])
    return data, ChainState(state.seq + 1, sm3(data))


@functools.lru_cache(maxsize=256)
def _header_start(flags: int, gateway_id: str, key_id: str) -> bytes:
    """Magic, version, flags and the two ids: the same for every envelope of a gateway's key."""
    return b"".join([MAGIC, bytes([VERSION, flags]), _short_str(gateway_id, "gateway id"), _short_str(key_id, "key id")])


PayloadKeyLookup = Callable[[str, str], PayloadKey | None]


_FIXED = struct.Struct(">Q32sQ")  # sequence, previous hash, creation time
_ROWS_STRUCT_MAX = 512  # batches up to this many readings are unpacked by one cached Struct


@functools.lru_cache(maxsize=32)
def _rows_struct(count: int) -> struct.Struct:
    """All ``count`` rows as one Struct: one C call gives a flat tuple that slices into columns
    (half the time of ``iter_unpack`` + ``zip(*rows)``); ~128 B of codes per row, so cached only
    for the batch sizes a gateway actually sends."""
    return struct.Struct(">" + "3HqdB" * count)


def _truncated(need: int, pos: int) -> EnvelopeError:
    return EnvelopeError("truncated", f"needed {need} bytes at offset {pos}")


def _short_str_at(data: bytes, pos: int) -> tuple[str, int]:
    """The length-prefixed UTF-8 string at ``pos`` and the offset after it."""
    if pos >= len(data):
        raise _truncated(1, pos)
    end = pos + 1 + data[pos]
    if end > len(data):
        raise _truncated(data[pos], pos + 1)
    try:
        text = str(data[pos + 1 : end], "utf-8")  # bytes or memoryview
    except UnicodeDecodeError as err:
        raise EnvelopeError("bad_utf8", f"at offset {pos + 1}") from err
    if not text:
        raise EnvelopeError("empty_string", f"at offset {pos}")
    return text, end


_TABLES: dict[bytes, tuple[str, ...]] = {}  # string table bytes (count included) -> names
_TABLES_MAX = 1024  # distinct tables remembered; a gateway's table changes only with its points
_TABLE_MAX_BYTES = 2048  # larger tables are decoded each time: the cache stays under ~4 MB


def _string_table(payload: bytes | memoryview) -> tuple[tuple[str, ...], int]:
    """The payload's names and the offset after them.

    A gateway sends the same table in every envelope, so a table already checked is looked up by
    its bytes (found by following the length bytes only) instead of decoded string by string.
    """
    pos = 2
    try:
        for _ in range(payload[0] << 8 | payload[1]):
            pos += 1 + payload[pos]
        names = _TABLES.get(payload[:pos]) if pos <= len(payload) else None
    except IndexError:  # truncated: the strict reading below says where
        names = None
    if names is None:
        names, pos = _read_string_table(payload)
        if pos <= _TABLE_MAX_BYTES:
            if len(_TABLES) >= _TABLES_MAX:
                _TABLES.clear()
            _TABLES[bytes(payload[:pos])] = names
    return names, pos


def _read_string_table(payload: bytes | memoryview) -> tuple[tuple[str, ...], int]:
    if len(payload) < 2:
        raise _truncated(2, 0)
    names, pos = [], 2
    for _ in range(payload[0] << 8 | payload[1]):
        name, pos = _short_str_at(payload, pos)
        names.append(name)
    return tuple(names), pos


def _decode_payload(payload: bytes | memoryview) -> tuple[Reading, ...]:
    """The readings, after checking every length. The fixed-size rows are made in C when the
    accelerator is built (~10 µs for 100 readings); otherwise column-wise in Python (one
    ``Struct.unpack_from``, tuple slices, ``itemgetter``, ``map``: ~35 µs, half of it making the
    ``Reading`` tuples; a Python loop per reading cost a third of a verification). A code past its
    table in C is refused by the Python code, with its reason."""
    names, pos = _string_table(payload)
    size = len(payload)
    if pos + 4 > size:
        raise _truncated(4, pos)
    (count,) = _U32.unpack_from(payload, pos)
    pos += 4
    if count == 0 or count > MAX_READINGS:
        raise EnvelopeError("bad_count", f"{count} readings")
    if pos + count * _READING.size > size:
        raise _truncated(count * _READING.size, pos)
    if pos + count * _READING.size != size:
        raise EnvelopeError("trailing_bytes", "after the last reading")
    if _accel is not None:
        try:
            return _accel.decode_rows(payload, pos, count, names, _QUALITY_BY_CODE, Reading)
        except IndexError:
            pass
    if count <= _ROWS_STRUCT_MAX:
        flat = _rows_struct(count).unpack_from(payload, pos)
        stations, points, units = flat[0::6], flat[1::6], flat[2::6]
        times, values, qualities = flat[3::6], flat[4::6], flat[5::6]
    else:
        stations, points, units, times, values, qualities = zip(*_READING.iter_unpack(payload[pos:]))
    try:
        qualities = _gather(_QUALITY_BY_CODE, qualities)
    except IndexError:
        raise EnvelopeError("bad_quality", f"quality code {max(qualities)}") from None
    try:
        stations, points, units = _gather(names, stations), _gather(names, points), _gather(names, units)
    except IndexError:
        raise EnvelopeError("bad_index", "reading names a string past the table") from None
    return make_readings(stations, points, times, values, units, qualities)


class Parts(NamedTuple):
    """The fields of an envelope as read from its bytes, before any check of the signature."""

    gateway_id: str
    key_id: str
    seq: int
    prev_hash: bytes
    created_ms: int
    sm4_key_id: str | None
    nonce: bytes
    header: bytes | memoryview  # magic .. nonce: the SM4-GCM associated data
    payload: bytes | memoryview  # clear or SM4-GCM sealed
    signed: bytes | memoryview  # magic .. end of payload: what the signature covers
    signature: bytes


def parse(data: bytes | memoryview) -> Parts:
    """Split ``data`` by the layout; EnvelopeError on any framing fault. Trust nothing here yet.

    Given a memoryview, ``header``, ``payload`` and ``signed`` are views into it, not copies."""
    size = len(data)
    if size > MAX_ENVELOPE_BYTES:
        raise EnvelopeError("too_large", f"{size} bytes")
    if size < 4:
        raise _truncated(2, 0) if size < 2 else (
            EnvelopeError("bad_magic") if data[:2] != MAGIC else _truncated(2, 2))
    if data[:2] != MAGIC:
        raise EnvelopeError("bad_magic")
    version, flags = data[2], data[3]
    if version != VERSION:
        raise EnvelopeError("bad_version", str(version))
    if flags & ~FLAG_ENCRYPTED:
        raise EnvelopeError("bad_flags", f"{flags:#04x}")
    gateway_id, pos = _short_str_at(data, 4)
    key_id, pos = _short_str_at(data, pos)
    if pos + _FIXED.size > size:
        raise _truncated(_FIXED.size, pos)
    seq, prev_hash, created_ms = _FIXED.unpack_from(data, pos)
    pos += _FIXED.size
    sm4_key_id, nonce = None, b""
    if flags:
        sm4_key_id, pos = _short_str_at(data, pos)
        nonce = bytes(data[pos : pos + sm4.NONCE_BYTES])
        pos += sm4.NONCE_BYTES
        if pos > size:
            raise _truncated(sm4.NONCE_BYTES, pos - sm4.NONCE_BYTES)
    header_end = pos
    if pos + 4 > size:
        raise _truncated(4, pos)
    signed_end = pos + 4 + _U32.unpack_from(data, pos)[0]
    if signed_end > size:
        raise _truncated(signed_end - pos - 4, pos + 4)
    if signed_end == size:
        raise _truncated(1, signed_end)  # the signature's length
    end = signed_end + 1 + data[signed_end]
    if end != size:
        if end > size:
            raise _truncated(data[signed_end], signed_end + 1)
        raise EnvelopeError("trailing_bytes", "after the signature")
    signature = bytes(data[signed_end + 1 :])
    return Parts(gateway_id, key_id, seq, prev_hash, created_ms, sm4_key_id, nonce, data[:header_end],
                 data[pos + 4 : signed_end], data[:signed_end], signature)


def open_envelope(data: bytes, lookup_key: Callable[[str, str], SM2PublicKey | None],
                  payload_key: PayloadKeyLookup | None = None) -> Envelope:
    """Verify and decode ``data``; ``lookup_key(gateway_id, key_id)`` returns the registered key,
    ``payload_key(gateway_id, sm4_key_id)`` the SM4 key of an encrypted payload.

    Raises EnvelopeError with a reason: too_large, bad_magic, bad_version, bad_flags, truncated,
    unknown_key, bad_signature, no_payload_key, payload_key_expired, bad_ciphertext, and the payload
    reasons above; the lookups may raise their own (key_revoked, payload_key_retired).
    """
    p = parse(data)  # bytes, not a memoryview: copying the 2.5 kB twice costs less than memoryview's slower indexing
    public = lookup_key(p.gateway_id, p.key_id)
    if public is None:
        raise EnvelopeError("unknown_key", f"gateway {p.gateway_id!r} key {p.key_id!r}")
    if not public.verify(p.signature, p.signed):
        raise EnvelopeError("bad_signature", f"gateway {p.gateway_id!r} seq {p.seq}")
    if p.seq == 0:
        raise EnvelopeError("bad_seq", "sequence numbers start at 1")
    payload = p.payload
    if p.sm4_key_id is not None:
        payload = _decrypt(payload, p, payload_key)
    return Envelope(p.gateway_id, p.key_id, p.seq, p.prev_hash, p.created_ms, _decode_payload(payload), sm3(data),
                    p.sm4_key_id)


def decode_payload(payload: bytes) -> tuple[Reading, ...]:
    """The readings of a clear-text payload, unverified (for offline inspection only)."""
    return _decode_payload(payload)


def _decrypt(sealed: bytes, p: Parts, payload_key: PayloadKeyLookup | None) -> bytes:
    """The plaintext payload, or a refusal naming the key id (never the key)."""
    key = payload_key(p.gateway_id, p.sm4_key_id) if payload_key else None
    if key is None:
        raise EnvelopeError("no_payload_key", f"gateway {p.gateway_id!r} SM4 key {p.sm4_key_id!r}")
    if key.valid_until_ms is not None and p.created_ms > key.valid_until_ms:
        raise EnvelopeError("payload_key_expired", f"gateway {p.gateway_id!r} SM4 key {p.sm4_key_id!r} was rotated"
                            " out before this envelope was made")
    try:
        return sm4.decrypt(key.key, p.nonce, bytes(sealed), bytes(p.header))
    except PayloadKeyError as err:
        raise EnvelopeError("bad_ciphertext", f"gateway {p.gateway_id!r} SM4 key {p.sm4_key_id!r}: {err}") from None
