"""The signed envelope: round trip, hash chain, and every way open_envelope refuses bytes.

Envelopes with a malformed payload are built by hand from the layout in envelope.py's docstring
and signed with the gateway's key, so each refusal is the payload check's and not the signature's.
"""

from __future__ import annotations

import math
import random
import struct

import pytest

from watertel.crypto import SM2PrivateKey, sm3
from watertel.crypto.sm2 import _N, decode_signature, encode_signature
from watertel.envelope import (
    GENESIS_HASH, MAX_ENVELOPE_BYTES, MAX_READINGS, ChainState, Envelope, EnvelopeError, open_envelope, seal,
)
from watertel.readings import Quality, Reading

KEY = SM2PrivateKey.generate()
GATEWAY, KEY_ID = "gw-1", "k1"
T0 = 1_700_000_000_000


def lookup(gateway_id: str, key_id: str):
    return KEY.public if (gateway_id, key_id) == (GATEWAY, KEY_ID) else None


def any_gateway(gateway_id: str, key_id: str):
    return KEY.public


def one_reading() -> list[Reading]:
    return [Reading("S1", "flow", T0, 12.5, "m3/h")]


def a_few_readings() -> list[Reading]:
    return [
        Reading("S1", "flow", T0, 12.5, "m3/h"),
        Reading("S1", "pressure", T0, -0.25, "MPa", Quality.OK),
        Reading("S2", "flow", T0 + 1000, 3.0e6, "m3/h", Quality.OUT_OF_RANGE),
    ]


def sealed(readings: list[Reading] | None = None, state: ChainState = ChainState(), **kw) -> bytes:
    kw = {"key": KEY, "gateway_id": GATEWAY, "key_id": KEY_ID, "created_ms": T0 + 5000, **kw}
    return seal(readings or one_reading(), state=state, **kw)[0]


# --- building envelopes by hand, from the documented layout --------------------------------------


def short(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return bytes([len(raw)]) + raw


def payload(names: list[str | bytes], rows: list[tuple[int, int, int, int, float, int]],
            count: int | None = None) -> bytes:
    """u16 n, n short strings, u32 m, m rows of (u16 station, u16 point, u16 unit, i64 ms, f64, u8 quality)."""
    return (struct.pack(">H", len(names)) + b"".join(short(n) for n in names)
            + struct.pack(">I", len(rows) if count is None else count)
            + b"".join(struct.pack(">HHHqdB", *row) for row in rows))


def signed_part(body: bytes, seq: int = 1, prev_hash: bytes = GENESIS_HASH, created_ms: int = T0 + 5000,
                gateway: str = GATEWAY, key_id: str = KEY_ID, version: int = 1, flags: int = 0) -> bytes:
    return (b"WT" + bytes([version, flags]) + short(gateway) + short(key_id) + struct.pack(">Q", seq)
            + prev_hash + struct.pack(">QI", created_ms, len(body)) + body)


def with_signature(signed: bytes, key: SM2PrivateKey = KEY) -> bytes:
    signature = key.sign(signed)
    return signed + bytes([len(signature)]) + signature


GOOD_ROWS = [(0, 1, 2, T0, 12.5, 0)]
GOOD_NAMES = ["S1", "flow", "m3/h"]


def refusal(data: bytes, reason: str, lookup_key=lookup) -> EnvelopeError:
    with pytest.raises(EnvelopeError, match=f"^{reason}") as info:
        open_envelope(data, lookup_key)
    assert info.value.reason == reason
    return info.value


def payload_span(data: bytes) -> tuple[int, int]:
    """(start, end) of the payload of a well-formed envelope, read by the documented layout."""
    pos = 4
    pos += 1 + data[pos]  # gateway id
    pos += 1 + data[pos]  # key id
    pos += 8 + 32 + 8  # seq, prev hash, created ms
    (size,) = struct.unpack(">I", data[pos : pos + 4])
    return pos + 4, pos + 4 + size


def signature_start(data: bytes) -> int:
    """Offset of the signature length byte S; the signature runs from there to the end."""
    start = payload_span(data)[1]
    assert data[start] == len(data) - start - 1
    return start


# --- round trip and chain ------------------------------------------------------------------------


def test_documented_layout_is_what_seal_writes():
    data = sealed()
    by_hand = signed_part(payload(GOOD_NAMES, GOOD_ROWS))
    assert data[: len(by_hand)] == by_hand
    assert data[len(by_hand)] == len(data) - len(by_hand) - 1  # S, then S bytes of signature
    assert KEY.public.verify(data[len(by_hand) + 1 :], by_hand)
    assert open_envelope(with_signature(by_hand), lookup).readings == tuple(one_reading())


def test_round_trip_keeps_every_field():
    readings = [
        Reading("泵站一号", "flow", T0, 12.5, "m³/h", Quality.OK),
        Reading("Станция-2", "pressure", T0 + 1, -0.125, "MPa", Quality.TIMEOUT),
        Reading("Station Ωmega 🚰", "ph", T0 + 2, math.nan, "pH", Quality.EXCEPTION),
        Reading("泵站一号", "turbidity", -5, 1e308, "NTU", Quality.OUT_OF_RANGE),
        Reading("泵站一号", "level", 2**62, -0.0, "m", Quality.SENSOR_FAULT),
        Reading("S" * 255, "p" * 255, 0, -math.inf, "u" * 255, Quality.COMM_ERROR),
        Reading("S1", "flow", T0 + 3, math.inf, "m3/h", Quality.OK),
        Reading("S1", "count", T0 + 4, 5e-324, "-", Quality.OK),
        Reading("S1", "total", T0 + 5, 3.0, "m3", Quality.TOTAL_ROLLOVER),
        Reading("S1", "total", T0 + 6, 0.0, "m3", Quality.TOTAL_RESET),
        Reading("S1", "flow", 0, 1.0, "m3/h", Quality.CLOCK_UNSYNCED),
    ]
    assert {r.quality for r in readings} == set(Quality)
    data, state = seal(readings, KEY, "网关-1", "密钥-2", ChainState(), created_ms=T0 + 10)
    env = open_envelope(data, lambda g, k: KEY.public if (g, k) == ("网关-1", "密钥-2") else None)
    assert (env.gateway_id, env.key_id, env.seq) == ("网关-1", "密钥-2", 1)
    assert (env.prev_hash, env.created_ms) == (GENESIS_HASH, T0 + 10)
    assert env.hash == sm3(data) == state.prev_hash
    assert len(env.readings) == len(readings)
    for got, sent in zip(env.readings, readings):
        assert got.same_as(sent), (got, sent)
        assert type(got.quality) is Quality
        assert math.copysign(1, got.value) == math.copysign(1, sent.value) or math.isnan(sent.value)


def test_nan_value_survives_as_nan():
    data = sealed([Reading("S1", "flow", T0, math.nan, "m3/h", Quality.TIMEOUT)])
    (got,) = open_envelope(data, lookup).readings
    assert math.isnan(got.value) and got.quality is Quality.TIMEOUT


def test_string_table_keeps_200_readings_small():
    readings = [Reading("S1", p, T0 + i * 1000, float(i), "u") for i in range(50) for p in ("a", "b", "c", "d")]
    data = sealed(readings)
    assert len(data) < 5000
    assert open_envelope(data, lookup).readings == tuple(readings)


def test_chain_advances_by_one_and_links_hashes():
    state = ChainState()
    assert (state.seq, state.prev_hash) == (1, GENESIS_HASH)
    opened: list[Envelope] = []
    for i in range(4):
        data, new_state = seal(a_few_readings(), KEY, GATEWAY, KEY_ID, state, created_ms=T0 + i)
        assert new_state.seq == state.seq + 1
        assert new_state.prev_hash == sm3(data)
        env = open_envelope(data, lookup)
        assert env.seq == state.seq and env.prev_hash == state.prev_hash and env.hash == sm3(data)
        opened.append(env)
        state = new_state
    assert [e.seq for e in opened] == [1, 2, 3, 4]
    assert opened[0].prev_hash == GENESIS_HASH
    for before, after in zip(opened, opened[1:]):
        assert after.prev_hash == before.hash


def test_seal_refuses_what_it_cannot_write():
    with pytest.raises(ValueError):
        seal([], KEY, GATEWAY, KEY_ID, ChainState(), T0)
    with pytest.raises(ValueError):
        seal(one_reading(), KEY, "", KEY_ID, ChainState(), T0)
    with pytest.raises(ValueError):
        seal(one_reading(), KEY, "g" * 256, KEY_ID, ChainState(), T0)
    with pytest.raises(ValueError):
        seal([Reading("", "flow", T0, 1.0, "m3/h")], KEY, GATEWAY, KEY_ID, ChainState(), T0)
    with pytest.raises(ValueError):
        seal(one_reading() * (MAX_READINGS + 1), KEY, GATEWAY, KEY_ID, ChainState(), T0)


# --- refusals ------------------------------------------------------------------------------------


def test_too_large():
    refusal(b"WT" + bytes(MAX_ENVELOPE_BYTES), "too_large")
    data = sealed()
    at_limit = data + bytes(MAX_ENVELOPE_BYTES - len(data))
    assert open_envelope_reason(at_limit) == "trailing_bytes"  # the limit itself is allowed


def open_envelope_reason(data: bytes) -> str:
    try:
        open_envelope(data, lookup)
    except EnvelopeError as err:
        return err.reason
    return "opened"


def test_bad_magic():
    data = sealed()
    refusal(b"XT" + data[2:], "bad_magic")
    refusal(b"wt" + data[2:], "bad_magic")
    refusal(b"\x00\x00", "bad_magic")


@pytest.mark.parametrize("version", [0, 2, 255])
def test_bad_version(version):
    data = sealed()
    assert refusal(data[:2] + bytes([version]) + data[3:], "bad_version").detail == str(version)


@pytest.mark.parametrize("flags", [0x02, 0x03, 0x80, 0xFF])  # bit 0 (SM4-GCM) is test_envelope_sm4.py's
def test_bad_flags(flags):
    data = sealed()
    refusal(data[:3] + bytes([flags]) + data[4:], "bad_flags")
    refusal(with_signature(signed_part(payload(GOOD_NAMES, GOOD_ROWS), flags=flags)), "bad_flags")


def test_truncated_at_every_offset():
    data = sealed()
    assert len(data) < 200
    for cut in range(len(data)):
        try:
            open_envelope(data[:cut], lookup)
        except EnvelopeError as err:
            assert err.reason == "truncated", (cut, err)
        else:
            pytest.fail(f"opened an envelope truncated to {cut} bytes")


def test_payload_shorter_than_its_declared_size_is_truncated():
    body = payload(GOOD_NAMES, GOOD_ROWS)
    refusal(with_signature(signed_part(body[:-1])), "truncated")  # declares one row, holds 22 bytes
    refusal(with_signature(signed_part(payload(GOOD_NAMES, GOOD_ROWS, count=2))), "truncated")


def test_unknown_key():
    calls = []

    def record(gateway_id, key_id):
        calls.append((gateway_id, key_id))

    err = refusal(sealed(), "unknown_key", record)
    assert calls == [(GATEWAY, KEY_ID)]
    assert GATEWAY in err.detail and KEY_ID in err.detail
    refusal(sealed(gateway_id="gw-2"), "unknown_key")
    refusal(sealed(key_id="k2"), "unknown_key")


def test_bad_signature_when_a_payload_byte_changes():
    data = sealed()
    start, end = payload_span(data)
    assert start == len(signed_part(b"")) and end - start == len(payload(GOOD_NAMES, GOOD_ROWS))
    for i in range(start, end):
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        refusal(bytes(tampered), "bad_signature")


def test_bad_signature_when_a_header_byte_changes():
    data = sealed()
    header = signed_part(b"")
    # every header byte whose change still parses: ids (same key returned), seq, prev hash, created time
    for i in [4 + 1, 4 + 1 + len(GATEWAY) + 1, *range(len(header) - 52, len(header) - 4)]:
        tampered = bytearray(data)
        tampered[i] ^= 0x01
        refusal(bytes(tampered), "bad_signature", any_gateway)


def test_bad_signature_when_a_signature_byte_changes():
    data = sealed()
    for i in range(signature_start(data) + 1, len(data)):
        tampered = bytearray(data)
        tampered[i] ^= 0x04
        refusal(bytes(tampered), "bad_signature")


def test_bad_signature_from_another_key():
    other = SM2PrivateKey.generate()
    refusal(sealed(key=other), "bad_signature")
    refusal(with_signature(signed_part(payload(GOOD_NAMES, GOOD_ROWS)), other), "bad_signature")


def test_signature_reencoding_is_refused():
    """The same (r, s) in non-canonical DER would give the same envelope a second hash, and the
    gateway's genuine next envelope would no longer link to the stored one."""
    while True:  # a signature whose r needs no 00 prefix (about half of them)
        data = sealed()
        start = signature_start(data)
        r, s = decode_signature(data[start + 1 :])
        if r.bit_length() < 256:
            break
    r_raw, s_raw = (v.to_bytes((v.bit_length() + 8) // 8, "big") for v in (r, s))
    body = b"\x02" + bytes([len(r_raw) + 1]) + b"\x00" + r_raw + b"\x02" + bytes([len(s_raw)]) + s_raw
    signature = b"\x30" + bytes([len(body)]) + body
    refusal(data[:start] + bytes([len(signature)]) + signature, "bad_signature")


def test_signature_at_infinity_is_a_bad_signature_not_a_crash():
    """A key holder can craft (r, s) with s·G + t·P = O; open_envelope must refuse it cleanly."""
    data = sealed()
    start = signature_start(data)
    r = 0xC0FFEE
    s = (-r * KEY.secret * pow(1 + KEY.secret, -1, _N)) % _N
    signature = encode_signature(r, s)
    refusal(data[:start] + bytes([len(signature)]) + signature, "bad_signature")


def test_trailing_bytes_after_the_signature():
    data = sealed()
    for extra in (b"\x00", b"WT", bytes(100)):
        assert "signature" in refusal(data + extra, "trailing_bytes").detail


def test_trailing_bytes_after_the_last_reading():
    body = payload(GOOD_NAMES, GOOD_ROWS) + b"\x00"
    assert "reading" in refusal(with_signature(signed_part(body)), "trailing_bytes").detail


@pytest.mark.parametrize("quality", [len(Quality), len(Quality) + 1, 0x80, 255])
def test_bad_quality(quality):
    refusal(with_signature(signed_part(payload(GOOD_NAMES, [(0, 1, 2, T0, 1.0, quality)]))), "bad_quality")


def test_every_quality_code_is_accepted():
    rows = [(0, 1, 2, T0 + q, 1.0, q) for q in range(len(Quality))]
    env = open_envelope(with_signature(signed_part(payload(GOOD_NAMES, rows))), lookup)
    assert [r.quality for r in env.readings] == list(Quality)


@pytest.mark.parametrize("row", [(3, 1, 2), (0, 3, 2), (0, 1, 3), (0xFFFF, 0, 0)],
                         ids=["station", "point", "unit", "max"])
def test_bad_index(row):
    refusal(with_signature(signed_part(payload(GOOD_NAMES, [(*row, T0, 1.0, 0)]))), "bad_index")


def test_bad_index_with_an_empty_table():
    refusal(with_signature(signed_part(payload([], [(0, 0, 0, T0, 1.0, 0)]))), "bad_index")


@pytest.mark.parametrize("count", [0, MAX_READINGS + 1, 0xFFFFFFFF])
def test_bad_count(count):
    refusal(with_signature(signed_part(payload(GOOD_NAMES, [], count=count))), "bad_count")


def test_bad_utf8_and_empty_strings():
    refusal(with_signature(signed_part(payload([b"S\xff", "flow", "m3/h"], GOOD_ROWS))), "bad_utf8")
    refusal(with_signature(signed_part(payload(["S1", b"", "m3/h"], GOOD_ROWS))), "empty_string")
    bad_gateway = bytearray(sealed())
    bad_gateway[5] = 0xFF  # first byte of the gateway id
    refusal(bytes(bad_gateway), "bad_utf8")


def test_bad_seq_zero():
    data, state = seal(one_reading(), KEY, GATEWAY, KEY_ID, ChainState(seq=0), T0)
    refusal(data, "bad_seq")
    assert open_envelope(sealed(state=state), lookup).seq == 1  # the next one is fine


def test_largest_seq_opens():
    data = sealed(state=ChainState(seq=2**64 - 1))
    assert open_envelope(data, lookup).seq == 2**64 - 1


# --- random mutations ----------------------------------------------------------------------------


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(8)
    i = rng.randrange(len(b))
    if kind == 0:
        b[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        b[i] = rng.randrange(256)
    elif kind == 2:
        b.insert(i, rng.randrange(256))
    elif kind == 3:
        del b[i]
    elif kind == 4:
        del b[i:]
    elif kind == 5:
        b += rng.randbytes(rng.randrange(1, 16))
    elif kind == 6:
        j = rng.randrange(len(b))
        b[i], b[j] = b[j], b[i]
    else:
        n = rng.randrange(1, 9)
        b[i : i + n] = rng.randbytes(n)
    return bytes(b)


def test_random_mutations_are_refused_or_harmless():
    data = sealed(a_few_readings())
    original = open_envelope(data, lookup)
    rng = random.Random(20240601)
    refused, unchanged = 0, 0
    for n in range(300):
        mutated = _mutate(rng, data)
        try:
            env = open_envelope(mutated, lookup)
        except EnvelopeError as err:
            assert err.reason, n
            refused += 1
            continue
        assert env == original, (n, mutated.hex())
        unchanged += 1
    assert refused + unchanged == 300 and refused > 250
