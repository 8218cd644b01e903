"""SM4-GCM payload encryption: the standards' vectors, the envelope layout with flags bit 0, each
refusal's reason, the no-downgrade rule at ingest, and key files that are checked but never shown.

This file holds the tests that need no server and start no process; the others are in
tests/integration/test_envelope_sm4.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import struct
import time
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.config import load_cloud_config
from watertel.cloud.gateways import GatewayEntry, PreviousPayloadKey
from watertel.cloud.ingest.handler import Handler
from watertel.cloud.ingest.gateway_keys import GatewayKeys
from watertel.cloud.store.sqlite import SqliteStore
from watertel.config import ConfigError, PayloadKeyConfig
from watertel.crypto import SM2PrivateKey, sm4
from watertel.crypto.sm4 import PayloadKey, PayloadKeyError
from watertel.envelope import ChainState, EnvelopeError, open_envelope, seal
from watertel.readings import Quality, Reading

from tests.support.sm4 import key_texts

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
    yield Handler(store, GatewayKeys([entry]), AlarmEngine(store), clock=lambda: T0 / 1000), store  # arrival at T0
    store.close()


def test_ingest_decrypts_and_refuses_a_downgrade_to_clear_text(handler):
    handler, store = handler
    assert handler.handle("watertel/gw-1/up", sealed(None)) == "not_encrypted"
    assert handler.handle("watertel/gw-1/up", sealed()) == "stored"
    assert [r.point for r in store.readings()] == ["flow", "turbidity"]
    other = seal(READINGS, KEY, "gw-1", "k1", ChainState(), T0, PayloadKey("e2", PAYLOAD_KEY.key))[0]
    assert handler.handle("watertel/gw-1/up", other) == "no_payload_key"


# --- payload key rotation (issue 4) -------------------------------------------------------------

OVERLAP_END_MS = T0 + 3_600_000
E0, E1, E2 = PayloadKey.generate("gw-1-e0"), PayloadKey.generate("gw-1-e1"), PayloadKey.generate("gw-1-e2")
ALL_SM4 = (E0, E1, E2)


def rotation_entry(tmp_path, **extra) -> GatewayEntry:
    """gw-1 encrypting with e2 now; e1 rotated out until OVERLAP_END_MS; e0 retired."""
    (tmp_path / "gw-1.pub.pem").write_text(KEY.public.to_pem())
    for key in ALL_SM4:
        if not (tmp_path / f"{key.key_id}.sm4").exists():
            key.write(tmp_path / f"{key.key_id}.sm4")
    fields = dict(
        payload_key=PayloadKeyConfig(key_id="gw-1-e2", key_file=tmp_path / "gw-1-e2.sm4"),
        previous_payload_keys=[PreviousPayloadKey(key_id="gw-1-e1", key_file=tmp_path / "gw-1-e1.sm4",
                                                  valid_until=OVERLAP_END_MS / 1000)],
        retired_payload_keys=["gw-1-e0"],
    )
    return GatewayEntry(id="gw-1", key_id="k1", public_key=tmp_path / "gw-1.pub.pem", stations=["S1"],
                        **{**fields, **extra})


@pytest.fixture
def rotation(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    yield Handler(store, GatewayKeys([rotation_entry(tmp_path)]), AlarmEngine(store), clock=lambda: T0 / 1000), store
    store.close()


def sealed_with(payload_key: PayloadKey, seq: int, created_ms: int) -> bytes:
    readings = [Reading("S1", "flow", created_ms, 1.0 + seq, "m3/h")]
    return seal(readings, KEY, "gw-1", "k1", ChainState(seq), created_ms, payload_key)[0]


def test_current_and_previous_payload_keys_during_the_overlap_only_the_current_after(rotation):
    handler, store = rotation
    assert handler.handle("watertel/gw-1/up", sealed_with(E1, 1, OVERLAP_END_MS - 1000)) == "stored"
    assert handler.handle("watertel/gw-1/up", sealed_with(E2, 2, OVERLAP_END_MS - 500)) == "stored"
    assert handler.handle("watertel/gw-1/up", sealed_with(E1, 3, OVERLAP_END_MS)) == "stored"  # the last valid ms
    assert handler.handle("watertel/gw-1/up", sealed_with(E2, 4, OVERLAP_END_MS + 1000)) == "stored"
    assert handler.handle("watertel/gw-1/up", sealed_with(E1, 5, OVERLAP_END_MS + 1)) == "payload_key_expired"
    assert len(store.readings()) == 4


def test_retired_and_unknown_payload_keys_are_quarantined_with_their_own_reasons(rotation):
    handler, store = rotation
    assert handler.handle("watertel/gw-1/up", sealed_with(E0, 1, T0)) == "payload_key_retired"
    assert handler.handle("watertel/gw-1/up", sealed_with(PayloadKey.generate("gw-1-e9"), 2, T0)) == "no_payload_key"
    assert handler.handle("watertel/gw-1/up", sealed_with(PayloadKey("gw-1-e2", E1.key), 3, T0)) == "bad_ciphertext"
    assert store.counts()["refused"] == {"payload_key_retired": 1, "no_payload_key": 1, "bad_ciphertext": 1}
    assert store.readings() == []


def test_open_envelope_refuses_a_rotated_out_key_by_the_signed_creation_time():
    """The overlap is checked in the envelope layer too, so any receiver (not only the ingest)
    that hands it a key with ``valid_until_ms`` gets the same refusal."""
    old = PayloadKey("e1", PAYLOAD_KEY.key, valid_until_ms=T0)
    data = seal(READINGS, KEY, "gw-1", "k1", ChainState(), T0 + 1, PAYLOAD_KEY)[0]
    with pytest.raises(EnvelopeError, match="^payload_key_expired: gateway 'gw-1' SM4 key 'e1'"):
        open_envelope(data, lookup, lambda g, k: old)
    data = seal(READINGS, KEY, "gw-1", "k1", ChainState(), T0, PAYLOAD_KEY)[0]
    assert open_envelope(data, lookup, lambda g, k: old).readings == tuple(READINGS)


@pytest.mark.parametrize("extra, problem", [
    ({"payload_key": None}, "previous_payload_keys needs a current payload_key"),
    ({"retired_payload_keys": ["gw-1-e1"]}, "retired payload keys cannot also be valid"),
    ({"retired_payload_keys": ["gw-1-e2"]}, "retired payload keys cannot also be valid"),
])
def test_inconsistent_payload_key_lists_are_refused(tmp_path, extra, problem):
    with pytest.raises(ValueError, match=problem):
        rotation_entry(tmp_path, **extra)


def test_a_payload_key_id_only_once(tmp_path):
    rotation_entry(tmp_path)  # writes the key files
    twice = PreviousPayloadKey(key_id="gw-1-e2", key_file=tmp_path / "gw-1-e1.sm4", valid_until=OVERLAP_END_MS / 1000)
    with pytest.raises(ValueError, match="an SM4 key id may appear only once"):
        rotation_entry(tmp_path, previous_payload_keys=[twice])


def _rotation_yaml(tmp_path, previous: str) -> Path:
    rotation_entry(tmp_path)  # writes the key files
    path = tmp_path / "cloud.yaml"
    path.write_text(f"""data_dir: data
gateways:
  - id: gw-1
    key_id: k1
    public_key: gw-1.pub.pem
    stations: [S1]
    payload_key: {{key_id: gw-1-e2, key_file: gw-1-e2.sm4}}
    previous_payload_keys:
      - {{key_id: gw-1-e1, key_file: {previous}, valid_until: "2026-12-01T00:00:00+08:00"}}
    retired_payload_keys: [gw-1-e0]
""")
    return path


def test_cloud_config_loads_the_rotation_and_checks_every_key_file(tmp_path):
    cfg = load_cloud_config(_rotation_yaml(tmp_path, "gw-1-e1.sm4"))
    entry = cfg.gateways[0]
    assert entry.previous_payload_keys[0].key_file == tmp_path / "gw-1-e1.sm4"  # relative to the YAML
    registry = GatewayKeys(cfg.gateways)
    until = int(dt.datetime(2026, 12, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp() * 1000)
    assert registry.payload_key("gw-1", "gw-1-e1") == PayloadKey("gw-1-e1", E1.key, valid_until_ms=until)
    assert registry.payload_key("gw-1", "gw-1-e2") == E2
    with pytest.raises(EnvelopeError, match="^payload_key_retired"):
        registry.payload_key("gw-1", "gw-1-e0")
    with pytest.raises(ConfigError) as info:
        load_cloud_config(_rotation_yaml(tmp_path, "missing.sm4"))
    assert "gateways.0.previous_payload_keys.0.key_file" in str(info.value) and "cannot read" in str(info.value)
    naive = _rotation_yaml(tmp_path, "gw-1-e1.sm4")
    naive.write_text(naive.read_text().replace("+08:00", ""))
    with pytest.raises(ConfigError, match="give the time zone"):
        load_cloud_config(naive)


# --- the edge switches keys from its configuration ----------------------------------------------


def _edge_yaml(folder: Path, payload_key: PayloadKey) -> Path:
    from tests.support.fleet import edge_config

    cfg = edge_config("gw-1", "mqtt://127.0.0.1:9", 9)
    del cfg["commands"]
    cfg["key"] = {"private_key": "gw-1.key.pem", "key_id": "k1",
                  "payload_key": {"key_id": payload_key.key_id, "key_file": f"{payload_key.key_id}.sm4"}}
    path = folder / "edge.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_edge_encrypts_with_the_key_its_configuration_names(tmp_path):
    """Readings buffered before a switch are sealed with the new key; a batch sealed before it
    stays under the old one, which the cloud accepts until the overlap ends."""
    from watertel.edge_agent.agent import Agent
    from watertel.edge_agent.config import load_edge_config

    folder = tmp_path / "edge"
    folder.mkdir()
    (folder / "gw-1.key.pem").write_text(KEY.to_pem())
    for key in (E1, E2):
        key.write(folder / f"{key.key_id}.sm4")

    async def seal_two_batches() -> list[bytes]:
        agent = Agent(load_edge_config(_edge_yaml(folder, E1)))
        agent._store([Reading("S1", "flow", T0, 1.0, "m3/h")])
        agent.sealing.seal_due(force=True)
        agent._store([Reading("S1", "flow", T0 + 1000, 2.0, "m3/h")])  # buffered, not sealed yet
        agent.buffer.close()
        agent = Agent(load_edge_config(_edge_yaml(folder, E2)))  # the configuration now names e2
        agent.sealing.seal_due(force=True)
        batches = [b.data for b in agent.buffer.unsent(10)]
        agent.buffer.close()
        return batches

    first, second = asyncio.run(seal_two_batches())
    later = PreviousPayloadKey(key_id="gw-1-e1", key_file=folder / "gw-1-e1.sm4", valid_until=time.time() + 3600)
    registry = GatewayKeys([rotation_entry(tmp_path, previous_payload_keys=[later])])  # the agent seals at the time now
    opened = [open_envelope(data, registry.key, registry.payload_key) for data in (first, second)]
    assert [env.payload_key_id for env in opened] == ["gw-1-e1", "gw-1-e2"]
    assert [r.value for env in opened for r in env.readings] == [1.0, 2.0]


# --- keys never shown ---------------------------------------------------------------------------


def test_payload_keys_never_appear_in_logs_or_refusals(rotation, caplog, tmp_path):
    handler, store = rotation
    caplog.set_level(logging.DEBUG)
    outcomes = [handler.handle("watertel/gw-1/up", data) for data in (
        sealed_with(E0, 1, T0), sealed_with(E1, 2, OVERLAP_END_MS + 1), sealed_with(PayloadKey("gw-1-e2", E1.key), 3, T0),
        sealed_with(PayloadKey.generate("gw-1-e9"), 4, T0), sealed(None), sealed_with(E2, 5, T0),
    )]
    assert outcomes == ["payload_key_retired", "payload_key_expired", "bad_ciphertext", "no_payload_key",
                        "not_encrypted", "stored"]
    assert "payload_key_retired" in caplog.text and "'gw-1-e0'" in caplog.text  # the refusals were logged
    quarantined = store._rows("SELECT reason, detail FROM quarantine")
    assert len(quarantined) == 5  # kept raw for audit, each with its reason and a detail naming the key id
    texts = [caplog.text, repr(handler.gateway_keys.payload_keys), *(detail for _, detail in quarantined)]
    for error in (_config_error(tmp_path), _key_file_error(tmp_path)):
        texts.append(str(error))
    for text in texts:
        for secret in key_texts(*ALL_SM4):
            assert secret not in text


def _config_error(tmp_path) -> Exception:
    bad = tmp_path / "bad.sm4"
    bad.write_text(E2.key.hex()[:-1] + "g\n")  # one digit wrong: the rest of the key must not leak
    with pytest.raises(ConfigError) as info:
        load_cloud_config(_rotation_yaml(tmp_path, "bad.sm4"))
    return info.value


def _key_file_error(tmp_path) -> Exception:
    bad = tmp_path / "short.sm4"
    bad.write_text(E1.key.hex()[:30] + "\n")
    with pytest.raises(PayloadKeyError) as info:
        PayloadKey.from_file(bad, "gw-1-e1")
    return info.value
