"""SM3 and SM2: the standard's vectors, PEM keys and signatures that interoperate with OpenSSL.

OpenSSL is the reference: it must read our keys and we must read its keys, and each side must
verify the other's signatures (SM3 digest, default user ID 1234567812345678, DER r,s).

Every test runs once per SM2 backend (libcrypto through ctypes, pure-Python gmssl): the
``sm2_backend`` fixture below makes each one the active backend in turn.


This file holds the tests that need no server and start no process; the others are in
tests/integration/crypto/test_sm_crypto.py."""

from __future__ import annotations

import base64
import random

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from gmssl import func as gmssl_func, sm3 as gmssl_sm3

import watertel.crypto.sm2 as sm2_module
from watertel.crypto import SM2PrivateKey, SM2PublicKey, SignatureError, sm3, use_backend
from watertel.crypto.sm2 import _N, decode_signature, default_ecc_table, encode_signature, make_backend

from tests.support.checks import need
from tests.support.sm2 import BACKENDS, backend_available, der, non_canonical

G_POINT = b"\x04" + bytes.fromhex(default_ecc_table["g"])


@pytest.fixture(params=BACKENDS, autouse=True)
def sm2_backend(request):
    """Run the test with this SM2 backend active (libcrypto must load where servers are required)."""
    need(backend_available(request.param), f"the {request.param} SM2 backend")
    with use_backend(request.param) as chosen:
        yield chosen


# --- SM3 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "digest"),
    [
        # GB/T 32905-2016, Appendix A, example 1 and example 2
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
)
def test_sm3_standard_vectors(message, digest):
    assert sm3(message).hex() == digest


def test_sm3_agrees_with_an_independent_implementation_around_block_boundaries():
    """gmssl's pure-Python SM3 shares no code with OpenSSL's: padding edges at 55/56/63/64 bytes."""
    rng = random.Random(32905)
    for size in [*range(0, 130), 1000, 4096 + 3]:
        data = rng.randbytes(size)
        assert sm3(data).hex() == gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(data)), size


# --- SM2 digest: GB/T 32918.2 Annex A -----------------------------------------------------------

# GB/T 32918.2-2016 Annex A.2 (the same example as draft-shen-sm2-ecdsa-02 A.2), "Fp-256". It uses
# an example curve, not the standard SM2 curve, so the curve part of Z_A is swapped in for the test.
ANNEX_A_CURVE = bytes.fromhex(
    "787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498"  # a
    "63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A"  # b
    "421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D"  # xG
    "0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2"  # yG
)
ANNEX_A_PUBLIC = bytes.fromhex(
    "04"
    "0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A"  # xA
    "7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857"  # yA
)
ANNEX_A_ZA = "F4A38489E32B45B6F876E3AC2168CA392362DC8F23459C1D1146FC3DBFB7BC9A"
ANNEX_A_E = "B524F552CD82B8B028476E005C377FB19A87E6FC682D48BB5D42E3D9B9EFFE76"


def test_digest_z_a_and_e_match_gbt_32918_annex_a(monkeypatch):
    hashed: list[bytes] = []

    def recording_sm3(data: bytes) -> bytes:
        hashed.append(sm3(data))
        return hashed[-1]

    monkeypatch.setattr(sm2_module, "_CURVE_Z_PART", ANNEX_A_CURVE)
    monkeypatch.setattr(sm2_module, "sm3", recording_sm3)
    # not an SM2PublicKey: the example point is on the example curve, not on the SM2 curve
    e = sm2_module.digest(ANNEX_A_PUBLIC, b"message digest", user_id=b"ALICE123@YAHOO.COM")
    assert hashed[0].hex().upper() == ANNEX_A_ZA  # Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)
    assert e.hex().upper() == ANNEX_A_E  # e = SM3(Z_A ‖ M)


# GB/T 32918.5-2017 Annex A (= GM/T 0003.5-2012): the recommended SM2 curve, default user ID.
RECOMMENDED_SECRET = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
RECOMMENDED_PUBLIC = bytes.fromhex(
    "04" "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
RECOMMENDED_ZA = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3"
RECOMMENDED_E = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
RECOMMENDED_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
RECOMMENDED_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
RECOMMENDED_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA


def test_recommended_curve_example_of_gbt_32918_5(monkeypatch):
    """Key pair, Z_A, e and (r, s) of the standard's example; the active backend verifies it."""
    key = SM2PrivateKey.from_secret(RECOMMENDED_SECRET)
    assert key.public.point == RECOMMENDED_PUBLIC
    hashed: list[bytes] = []
    monkeypatch.setattr(sm2_module, "sm3", lambda data: hashed.append(sm3(data)) or hashed[-1])
    e = key.public.digest(b"message digest")
    assert (hashed[0].hex().upper(), e.hex().upper()) == (RECOMMENDED_ZA, RECOMMENDED_E)
    monkeypatch.undo()
    signature = encode_signature(RECOMMENDED_R, RECOMMENDED_S)
    assert key.public.verify(signature, b"message digest")
    assert not key.public.verify(signature, b"message digesT")
    assert not key.public.verify(encode_signature(RECOMMENDED_R, RECOMMENDED_S ^ 1), b"message digest")


def test_recommended_curve_example_signature_is_reproduced_with_its_nonce():
    """The pure-Python arithmetic, given the example's k, yields the example's r and s exactly
    (libcrypto draws its own nonce, so only the verification above applies to it)."""
    from watertel.crypto.sm2_python import sign_digest

    e = bytes.fromhex(RECOMMENDED_E)
    assert sign_digest(RECOMMENDED_SECRET, RECOMMENDED_PUBLIC, e, RECOMMENDED_K) == (RECOMMENDED_R, RECOMMENDED_S)


def test_digest_depends_on_user_id_and_key():
    key, other = SM2PrivateKey.generate().public, SM2PrivateKey.generate().public
    assert key.digest(b"m") != key.digest(b"m", user_id=b"another-user-id!")
    assert key.digest(b"m") != other.digest(b"m")
    assert len(key.digest(b"m")) == 32


# --- SM2 keys -----------------------------------------------------------------------------------


def test_private_key_pem_round_trip():
    key = SM2PrivateKey.generate()
    pem = key.to_pem()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----\n") and pem.endswith("-----END PRIVATE KEY-----\n")
    assert all(len(line) <= 64 for line in pem.splitlines())
    again = SM2PrivateKey.from_pem(pem)
    assert again.secret == key.secret and again.public == key.public
    assert SM2PublicKey.from_pem(key.public.to_pem()) == key.public


def test_small_secrets_keep_their_leading_zero_bytes():
    one = SM2PrivateKey.from_secret(1)
    assert one.public.point == G_POINT  # 1·G = G
    for secret in (1, 2, 0xFF, 1 << 200):
        assert SM2PrivateKey.from_pem(SM2PrivateKey.from_secret(secret).to_pem()).secret == secret


@pytest.mark.parametrize("secret", [0, -1, _N - 1, _N, 1 << 256])
def test_secret_out_of_range_is_refused(secret):
    with pytest.raises(SignatureError):
        SM2PrivateKey.from_secret(secret)


def _pem(label: str, der: bytes) -> str:
    return f"-----BEGIN {label}-----\n" + base64.encodebytes(der).decode() + f"-----END {label}-----\n"


def _off_curve(point: bytes) -> list[bytes]:
    x, y = point[1:33], point[33:]
    p_bytes = bytes.fromhex(default_ecc_table["p"])
    y_plus_p = (int.from_bytes(y, "big") + int.from_bytes(p_bytes, "big")).to_bytes(33, "big")
    return [
        b"\x04" + x + bytes([y[0] ^ 1]) + y[1:],  # y changed: not on the curve
        b"\x04" + bytes(64),  # (0, 0)
        b"\x04" + p_bytes + y,  # x = p: a coordinate outside the field
        b"\x04" + x + y_plus_p[1:] if y_plus_p[0] == 0 else b"\x04" + p_bytes + p_bytes,  # y + p
    ]


def test_points_off_the_curve_are_refused_as_keys():
    """An off-curve key would have signatures checked on another (maybe weak) curve."""
    point = SM2PrivateKey.generate().public.point
    for bad in _off_curve(point):
        with pytest.raises(SignatureError, match="not a point on the SM2 curve"):
            SM2PublicKey(bad)
        spki = base64.b64decode("".join(SM2PublicKey(point).to_pem().splitlines()[1:-1]))[:-65] + bad
        with pytest.raises(SignatureError, match="not a point on the SM2 curve"):
            SM2PublicKey.from_pem(_pem("PUBLIC KEY", spki))
    for bad in (point[:64], b"\x02" + point[1:33], b"\x03" + point[1:]):
        with pytest.raises(SignatureError, match="uncompressed"):
            SM2PublicKey(bad)


def test_pem_that_is_not_an_sm2_key_is_refused():
    key = SM2PrivateKey.generate()
    with pytest.raises(SignatureError, match="PEM"):
        SM2PrivateKey.from_pem(key.public.to_pem())  # a public key where a private key belongs
    with pytest.raises(SignatureError, match="PEM"):
        SM2PublicKey.from_pem(key.to_pem())
    p256 = ec.generate_private_key(ec.SECP256R1())
    p256_private = p256.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
    p256_public = p256.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(SignatureError, match="SM2"):
        SM2PrivateKey.from_pem(p256_private)
    with pytest.raises(SignatureError, match="SM2"):
        SM2PublicKey.from_pem(p256_public)


def test_pkcs8_whose_public_key_does_not_match_is_refused():
    key, other = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    der = base64.b64decode("".join(key.to_pem().splitlines()[1:-1]))
    forged = der[: -65] + other.public.point
    with pytest.raises(SignatureError, match="does not match"):
        SM2PrivateKey.from_pem(_pem("PRIVATE KEY", forged))


def test_private_key_repr_does_not_show_the_secret():
    key = SM2PrivateKey.generate()
    secret_hex = f"{key.secret:064x}"
    for text in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert secret_hex not in text.lower()
        assert str(key.secret) not in text
        assert secret_hex[:16] not in text.lower()
    assert "SM2PrivateKey" in repr(key)


# --- SM2 signatures (ours alone) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


def test_sign_and_verify(key):
    for message in (b"", b"x", b"telemetry " * 500):
        signature = key.sign(message)
        assert decode_signature(signature)  # DER SEQUENCE of two INTEGERs
        assert key.public.verify(signature, message)


def test_signatures_use_a_fresh_nonce(key):
    assert key.sign(b"same message") != key.sign(b"same message")


def test_tampered_message_fails(key):
    message = b"station S1 flow 12.5 m3/h"
    signature = key.sign(message)
    assert not key.public.verify(signature, message + b"\x00")
    assert not key.public.verify(signature, message[:-1])
    assert not key.public.verify(signature, b"")
    for i in range(len(message)):
        tampered = bytearray(message)
        tampered[i] ^= 0x01
        assert not key.public.verify(signature, bytes(tampered)), i


def test_tampered_signature_fails(key):
    message = b"station S1 flow 12.5 m3/h"
    signature = key.sign(message)
    for i in range(len(signature)):
        for flip in (0x01, 0x80):
            tampered = bytearray(signature)
            tampered[i] ^= flip
            assert key.public.verify(bytes(tampered), message) is False, (i, flip)


def test_each_backend_verifies_the_other_backends_signatures(key):
    """A gateway on pure Python and a cloud on libcrypto (or the reverse) must agree."""
    backends = {name: make_backend(name) for name in BACKENDS if backend_available(name)}
    need(len(backends) == 2, "both SM2 backends")
    for message in (b"", b"reading", bytes(range(256)) * 20):
        for signer in backends.values():
            signature = signer.sign(key, message)
            for verifier in backends.values():
                assert key.public.verify(signature, message)
                assert verifier.verify(key.public, signature, message), (signer.name, verifier.name)
                assert not verifier.verify(key.public, signature, message + b"!"), (signer.name, verifier.name)


def test_wrong_key_fails(key):
    message = b"reading"
    assert not SM2PrivateKey.generate().public.verify(key.sign(message), message)


def _not_der(signature: bytes) -> list[bytes]:
    """Byte strings that are not a DER SEQUENCE of two INTEGERs."""
    r, s = decode_signature(signature)
    r_raw, s_raw = (v.to_bytes((v.bit_length() + 8) // 8, "big") for v in (r, s))
    return [
        b"", b"\x30", b"\x30\x00", b"\x30\x03\x02\x01\x01",
        signature[:-1], signature + b"\x00", signature[:8],
        b"\x31" + signature[1:],  # SET, not SEQUENCE
        bytes([0x30, signature[1] + 1]) + signature[2:],  # length byte too large
        bytes([0x30, signature[1] - 1]) + signature[2:],  # length byte too small
        b"\x30\x81" + bytes([len(signature) - 2]) + signature[2:],  # long-form length
        der(r_raw), der(r_raw, s_raw, s_raw), der(r_raw, s_raw, tag=0x31),
        der(b"\x00" * 2 + r_raw[-32:] + b"\x00", s_raw),  # 35-byte INTEGER
        der(b"", s_raw),  # empty INTEGER
        b"\x30\x44\x04\x20" + bytes(32) + b"\x02\x20" + bytes(32),  # OCTET STRING in place of r
        b"\x30\x45\x02\x21\x00" + b"\x01" * 32 + b"\x02\x21\x00" + b"\x01" * 31,  # s runs past the end
        bytes(70), b"\xff" * 72,
    ]


def _wrong_values(signature: bytes) -> list[bytes]:
    """Well-formed DER whose values cannot be a signature (or are not this one)."""
    r, s = decode_signature(signature)
    pairs = [(_N, s), (r, _N), (r + _N, s), (r, s + _N), (0, s), (r, 0), (1, 1), (s, r), (r, _N - s), (_N - r, s)]
    return [encode_signature(*pair) for pair in pairs]


def test_malformed_signatures_are_rejected_without_exceptions(key):
    message = b"reading"
    signature = key.sign(message)
    rng = random.Random(7)
    noise = [rng.randbytes(rng.randrange(0, 300)) for _ in range(50)]
    noise += [signature[:2] + rng.randbytes(len(signature) - 2) for _ in range(50)]
    for bad in _not_der(signature) + _wrong_values(signature) + noise:
        assert key.public.verify(bad, message) is False, bad.hex()


def test_decode_signature_refuses_what_is_not_der(key):
    for bad in _not_der(key.sign(b"m")):
        with pytest.raises(SignatureError):
            decode_signature(bad)


def test_encode_decode_signature_round_trip():
    for r, s in [(1, 1), (0x7F, 0x80), (0xFF, 0x100), (_N - 1, 1), (1 << 255, (1 << 255) - 1)]:
        assert decode_signature(encode_signature(r, s)) == (r, s)
    assert encode_signature(0x80, 1) == bytes.fromhex("300702020080020101")


def test_non_canonical_der_is_rejected(key):
    """One (r, s) has one encoding (as in OpenSSL): else anyone on the path can re-encode an
    envelope's signature, giving the same envelope a second hash that breaks the gateway's chain."""
    message = b"reading"
    for variant in non_canonical(key, message):
        with pytest.raises(SignatureError):
            decode_signature(variant)
        assert key.public.verify(variant, message) is False, variant.hex()


def test_sum_at_infinity_is_rejected_without_exception(key):
    """s·G + t·P = O (t = r + s): only the key's holder can craft it, and OpenSSL refuses it
    ("point at infinity"); verify must return False, not raise from inside gmssl."""
    r = 0x1234567890ABCDEF
    s = (-r * key.secret * pow(1 + key.secret, -1, _N)) % _N
    assert key.public.verify(encode_signature(r, s), b"reading") is False
