"""Property tests (hypothesis): any single-bit change to an envelope is refused, and arbitrary
bytes never get further than a refusal with a reason (no other exception, no crash). Bounded in
time so CI stays fast; `HYPOTHESIS_PROFILE=long` runs many more examples."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from watertel.crypto import SM2PrivateKey
from watertel.crypto.sm4 import PayloadKey
from watertel.envelope import ChainState, EnvelopeError, open_envelope, seal
from watertel.readings import Quality, Reading

settings.register_profile("ci", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

KEY = SM2PrivateKey.generate()
SM4 = PayloadKey("p1", bytes(range(16)))
READINGS = [Reading("ST-1", "flow", 1_700_000_000_000 + i * 1000, 12.5 + i, "m3/h", Quality(i % 6)) for i in range(20)]
PLAIN, _ = seal(READINGS, KEY, "gw-1", "k1", ChainState(), 1_700_000_100_000)
SECRET, _ = seal(READINGS, KEY, "gw-1", "k1", ChainState(), 1_700_000_100_000, payload_key=SM4)


def open_(data: bytes):
    return open_envelope(data, lambda g, k: KEY.public if (g, k) == ("gw-1", "k1") else None,
                         lambda g, k: SM4 if (g, k) == ("gw-1", "p1") else None)


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_the_untouched_envelopes_open():
    assert list(open_(PLAIN).readings) == READINGS and list(open_(SECRET).readings) == READINGS


@pytest.mark.parametrize("envelope", [PLAIN, SECRET], ids=["plain", "sm4"])
@given(position=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_any_single_bit_flip_is_refused(envelope, position):
    bit = int(position * len(envelope) * 8)
    try:
        open_(flip(envelope, bit))
    except EnvelopeError as err:
        assert err.reason
    else:
        raise AssertionError(f"bit {bit} flipped and the envelope still opened")


@given(st.binary(max_size=600) | st.builds(lambda n, tail: PLAIN[:n] + tail, st.integers(0, len(PLAIN)), st.binary(max_size=64)))
def test_garbage_and_truncations_are_refused_with_a_reason(data):
    try:
        open_(data)
    except EnvelopeError as err:
        assert err.reason
    else:
        assert data == PLAIN, "only the genuine bytes open"


@pytest.mark.parametrize("envelope", [PLAIN, SECRET], ids=["plain", "sm4"])
def test_every_single_bit_flip_is_refused(envelope):
    """Not a sample: all of them (a few thousand verifications, a second or two)."""
    opened = []
    for bit in range(len(envelope) * 8):
        try:
            open_(flip(envelope, bit))
            opened.append(bit)
        except EnvelopeError:
            pass
    assert opened == []
