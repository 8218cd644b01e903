"""SM4-GCM payload encryption: the standards' vectors, the envelope layout with flags bit 0, each
refusal's reason, the no-downgrade rule at ingest, and key files that are checked but never shown."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cloud.alarms.engine import AlarmEngine
from cloud.config import GatewayEntry, load_cloud_config
from cloud.ingest.handler import Handler
from cloud.ingest.registry import Registry
from cloud.store.sqlite import SqliteStore
from watertel.config import ConfigError, PayloadKeyConfig
from watertel.crypto import SM2PrivateKey, sm4
from watertel.crypto.sm4 import PayloadKey, PayloadKeyError
from watertel.envelope import ChainState, EnvelopeError, open_envelope, seal
from watertel.readings import Quality, Reading

KEY = SM2PrivateKey.generate()
PAYLOAD_KEY = PayloadKey.generate("e1")
T0 = 1_700_000_000_000
READINGS = [Reading("S1", "flow", T0, 12.5, "m3/h"), Reading("S1", "turbidity", T0, 0.7, "NTU", Quality.SENSOR_FAULT)]


def lookup(gateway_id: str, key_id: str):
    return KEY.public if (gateway_id, key_id) == ("gw-1", "k1") else None


def payload_keys(gateway_id: str, key_id: str):
    return PAYLOAD_KEY if (gateway_id, key_id) == ("gw-1", "e1") else None


def sealed(payload_key: PayloadKey | None = PAYLOAD_KEY, readings: list[Reading] = READINGS) -> bytes:
    return seal(readings, KEY, "gw-1", "k1", ChainState(), T0 + 5, payload_key)[0]


def header_end(data: bytes) -> int:
    """Offset just past the nonce, by the documented layout (flags bit 0 set)."""
    pos = 4
    pos += 1 + data[pos]  # gateway id
    pos += 1 + data[pos]  # key id
    pos += 8 + 32 + 8  # seq, prev hash, created
    pos += 1 + data[pos]  # SM4 key id
    return pos + 12  # nonce


def resigned(signed: bytes) -> bytes:
    signature = KEY.sign(signed)
    return signed + bytes([len(signature)]) + signature


# --- the algorithm ------------------------------------------------------------------------------


def test_sm4_block_vector_of_gbt_32907():
    """GB/T 32907-2016 Appendix A example 1: one block, key = plaintext."""
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (encryptor.update(key) + encryptor.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_vector_of_rfc_8998():
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plaintext = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                              "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
    expected = ("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
                "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
                "83DE3541E4C2B58177E065A9BF7B62EC")
    assert sm4.encrypt(key, nonce, plaintext, aad).hex().upper() == expected
    assert sm4.decrypt(key, nonce, bytes.fromhex(expected), aad) == plaintext
    with pytest.raises(PayloadKeyError, match="tag mismatch"):
        sm4.decrypt(key, nonce, bytes.fromhex(expected), aad + b"!")


# --- the envelope -------------------------------------------------------------------------------


def test_encrypted_envelope_round_trip_and_readable_header():
    data = sealed()
    assert data[3] == 0x01  # flags bit 0
    assert b"gw-1" in data[:header_end(data)] and b"e1" in data[:header_end(data)]  # routing stays readable
    assert b"flow" not in data and b"NTU" not in data and b"S1" not in data  # the payload does not
    env = open_envelope(data, lookup, payload_keys)
    assert env.readings == tuple(READINGS)
    assert env.payload_key_id == "e1"
    assert open_envelope(sealed(None), lookup, payload_keys).payload_key_id is None


def test_documented_layout_of_an_encrypted_envelope():
    """Decrypt by hand from the docstring's layout: header ‖ E ‖ key id ‖ nonce ‖ P ‖ SM4-GCM."""
    data = sealed()
    end = header_end(data)
    nonce = data[end - 12 : end]
    (size,) = struct.unpack(">I", data[end : end + 4])
    plain = sm4.decrypt(PAYLOAD_KEY.key, nonce, data[end + 4 : end + 4 + size], data[:end])
    clear = sealed(None)
    clear_payload_start = 4 + 1 + 4 + 1 + 2 + 8 + 32 + 8 + 4  # "gw-1", "k1"; no E, key id, nonce
    assert plain == clear[clear_payload_start : clear_payload_start + len(plain)]
    assert KEY.public.verify(data[end + 5 + size :], data[: end + 4 + size])  # signature over the ciphertext


def test_nonces_differ_between_envelopes():
    first, second = sealed(), sealed()
    assert first[header_end(first) - 12 : header_end(first)] != second[header_end(second) - 12 : header_end(second)]


@pytest.mark.parametrize("keys, reason", [
    (None, "no_payload_key"),  # the receiver has no payload keys at all
    (lambda g, k: None, "no_payload_key"),  # none for this gateway / key id
    (lambda g, k: PayloadKey("e1", bytes(16)), "bad_ciphertext"),  # a wrong key under the right id
])
def test_missing_or_wrong_key_is_refused_with_a_reason_that_never_shows_the_key(keys, reason):
    with pytest.raises(EnvelopeError, match=f"^{reason}") as info:
        open_envelope(sealed(), lookup, keys)
    assert info.value.reason == reason
    assert "'e1'" in str(info.value)
    assert PAYLOAD_KEY.key.hex() not in str(info.value) and bytes(16).hex() not in str(info.value)


def test_header_is_authenticated_as_associated_data():
    """Even re-signed by the gateway's key, a changed header byte fails the GCM tag."""
    data = sealed()
    end = header_end(data)
    (size,) = struct.unpack(">I", data[end : end + 4])
    signed = bytearray(data[: end + 4 + size])
    signed[end - 12 - 2 - 1 - 1] ^= 0x01  # before nonce (12), "e1" (2) and E (1): creation time's last byte
    with pytest.raises(EnvelopeError, match="^bad_ciphertext"):
        open_envelope(resigned(bytes(signed)), lookup, payload_keys)


def test_flag_set_on_a_clear_payload_is_refused():
    """Flags bit 0 with a key id and nonce spliced in before a clear-text payload, re-signed."""
    clear = sealed(None)
    pos = 4 + 1 + 4 + 1 + 2 + 8 + 32 + 8  # magic..created of gateway "gw-1", key id "k1"
    body = clear[pos:]
    (size,) = struct.unpack(">I", body[:4])
    signed = clear[:3] + b"\x01" + clear[4:pos] + b"\x02e1" + bytes(12) + body[: 4 + size]
    with pytest.raises(EnvelopeError, match="^bad_ciphertext"):
        open_envelope(resigned(signed), lookup, payload_keys)


# --- key files, configuration and ingest --------------------------------------------------------


def test_payload_key_repr_and_errors_never_show_the_key(tmp_path):
    assert PAYLOAD_KEY.key.hex() not in repr(PAYLOAD_KEY) and "e1" in repr(PAYLOAD_KEY)
    path = tmp_path / "gw-1.sm4"
    PAYLOAD_KEY.write(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert PayloadKey.from_file(path, "e1") == PAYLOAD_KEY
    with pytest.raises(FileExistsError):
        PAYLOAD_KEY.write(path)
    path.write_text(PAYLOAD_KEY.key.hex()[:-2] + "zz\n")  # one bad digit
    with pytest.raises(PayloadKeyError, match="expected 32 hex digits") as info:
        PayloadKey.from_file(path, "e1")
    assert PAYLOAD_KEY.key.hex()[:-2] not in str(info.value)
    with pytest.raises(PayloadKeyError, match="cannot read"):
        PayloadKey.from_file(tmp_path / "missing.sm4", "e1")


def _cloud_yaml(tmp_path, key_file: str) -> str:
    (tmp_path / "gw-1.pub.pem").write_text(KEY.public.to_pem())
    path = tmp_path / "cloud.yaml"
    path.write_text(f"data_dir: data\ngateways:\n  - id: gw-1\n    key_id: k1\n    public_key: gw-1.pub.pem\n"
                    f"    stations: [S1]\n    payload_key: {{key_id: e1, key_file: {key_file}}}\n")
    return str(path)


def test_cloud_config_checks_the_payload_key_file_at_load(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_cloud_config(_cloud_yaml(tmp_path, "gw-1.sm4"))
    assert "gateways.0.payload_key.key_file" in info.value.problems[0] and "cannot read" in info.value.problems[0]
    PAYLOAD_KEY.write(tmp_path / "gw-1.sm4")
    cfg = load_cloud_config(_cloud_yaml(tmp_path, "gw-1.sm4"))
    assert cfg.gateways[0].payload_key == PayloadKeyConfig(key_id="e1", key_file=tmp_path / "gw-1.sm4")
    assert PAYLOAD_KEY.key.hex() not in repr(cfg)


@pytest.fixture
def handler(tmp_path):
    (tmp_path / "gw-1.pub.pem").write_text(KEY.public.to_pem())
    PAYLOAD_KEY.write(tmp_path / "gw-1.sm4")
    entry = GatewayEntry(id="gw-1", key_id="k1", public_key=tmp_path / "gw-1.pub.pem", stations=["S1"],
                         payload_key=PayloadKeyConfig(key_id="e1", key_file=tmp_path / "gw-1.sm4"))
    store = SqliteStore(tmp_path / "w.db")
    yield Handler(store, Registry([entry]), AlarmEngine(store)), store
    store.close()


def test_ingest_decrypts_and_refuses_a_downgrade_to_clear_text(handler):
    handler, store = handler
    assert handler.handle("watertel/gw-1/up", sealed(None)) == "not_encrypted"
    assert handler.handle("watertel/gw-1/up", sealed()) == "stored"
    assert [r.point for r in store.readings()] == ["flow", "turbidity"]
    other = seal(READINGS, KEY, "gw-1", "k1", ChainState(), T0, PayloadKey("e2", PAYLOAD_KEY.key))[0]
    assert handler.handle("watertel/gw-1/up", other) == "no_payload_key"
