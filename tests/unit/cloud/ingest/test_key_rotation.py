"""Key rotation and revocation in the cloud registry: during the overlap both keys are valid, after
it the old one is refused as key_expired; a revoked key is refused as key_revoked whenever used."""

from __future__ import annotations

import datetime as dt

import pytest

from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.config import load_cloud_config
from watertel.cloud.ingest.handler import Handler
from watertel.cloud.ingest.gateway_keys import GatewayKeys
from watertel.cloud.store.sqlite import SqliteStore
from watertel.config import ConfigError
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, seal
from watertel.keys import write_key_pair
from watertel.readings import Reading

OVERLAP_END = dt.datetime(2026, 12, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
END_MS = int(OVERLAP_END.timestamp() * 1000)


def cloud_yaml(tmp_path, extra: str) -> str:
    return f"""data_dir: data
gateways:
  - id: gw-1
    key_id: gw-1-k2
    public_key: keys/gw-1-k2.pub.pem
    stations: [S1]
{extra}"""


@pytest.fixture
def setup(tmp_path):
    for key_id in ("gw-1-k0", "gw-1-k1", "gw-1-k2"):
        write_key_pair(tmp_path / "keys", key_id)
    path = tmp_path / "cloud.yaml"
    path.write_text(cloud_yaml(tmp_path, f"""    previous_keys:
      - {{key_id: gw-1-k1, public_key: keys/gw-1-k1.pub.pem, valid_until: "{OVERLAP_END.isoformat()}"}}
    revoked_keys: [gw-1-k0]
"""))
    cfg = load_cloud_config(path)
    store = SqliteStore(tmp_path / "w.db")
    handler = Handler(store, GatewayKeys(cfg.gateways), AlarmEngine(store))
    keys = {k: SM2PrivateKey.from_pem((tmp_path / "keys" / f"{k}.key.pem").read_text()) for k in ("gw-1-k0", "gw-1-k1", "gw-1-k2")}
    yield handler, keys
    store.close()


def send(handler: Handler, key: SM2PrivateKey, key_id: str, seq: int, created_ms: int) -> str:
    data, _ = seal([Reading("S1", "flow", created_ms, 1.0, "m3/h")], key, "gw-1", key_id, ChainState(seq), created_ms)
    return handler.handle("watertel/gw-1/up", data)


def test_both_keys_during_the_overlap_only_the_new_one_after(setup):
    handler, keys = setup
    assert send(handler, keys["gw-1-k1"], "gw-1-k1", 1, END_MS - 1000) == "stored"
    assert send(handler, keys["gw-1-k2"], "gw-1-k2", 2, END_MS - 500) == "stored"
    assert send(handler, keys["gw-1-k2"], "gw-1-k2", 3, END_MS + 1000) == "stored"
    assert send(handler, keys["gw-1-k1"], "gw-1-k1", 4, END_MS + 1000) == "key_expired"


def test_a_revoked_key_is_refused_by_name_and_a_stranger_as_unknown(setup):
    handler, keys = setup
    assert send(handler, keys["gw-1-k0"], "gw-1-k0", 1, END_MS - 10**9) == "key_revoked"
    assert send(handler, SM2PrivateKey.generate(), "gw-1-k9", 1, END_MS) == "unknown_key"
    assert handler.store.counts()["refused"] == {"key_revoked": 1, "unknown_key": 1}


def test_a_wrong_key_under_a_valid_id_is_a_bad_signature(setup):
    handler, keys = setup
    assert send(handler, keys["gw-1-k1"], "gw-1-k2", 1, END_MS) == "bad_signature"


@pytest.mark.parametrize("extra, problem", [
    ("    previous_keys: [{key_id: gw-1-k2, public_key: keys/gw-1-k2.pub.pem, valid_until: '2026-12-01T00:00:00+08:00'}]\n",
     "a key id may appear only once"),
    ("    revoked_keys: [gw-1-k2]\n", "revoked keys cannot also be valid"),
    ("    previous_keys: [{key_id: gw-1-k1, public_key: keys/gw-1-k1.pub.pem, valid_until: '2026-12-01T00:00:00'}]\n",
     "give the time zone"),
])
def test_inconsistent_key_lists_are_config_errors(tmp_path, extra, problem):
    for key_id in ("gw-1-k1", "gw-1-k2"):
        write_key_pair(tmp_path / "keys", key_id)
    (tmp_path / "cloud.yaml").write_text(cloud_yaml(tmp_path, extra))
    with pytest.raises(ConfigError) as err:
        load_cloud_config(tmp_path / "cloud.yaml")
    assert problem in str(err.value) and "cloud.yaml:" in str(err.value)


def test_sm2_and_sm4_keys_rotate_together_from_the_yaml(tmp_path):
    """A gateway rotating both keys at once: old SM2 key + old SM4 key are accepted until the
    overlap ends, then each is refused by its own reason; a retired SM4 key id is refused always."""
    from watertel.crypto.sm4 import PayloadKey

    for key_id in ("gw-1-k1", "gw-1-k2"):
        write_key_pair(tmp_path / "keys", key_id)
    sm4 = {key_id: PayloadKey.generate(key_id) for key_id in ("gw-1-e0", "gw-1-e1", "gw-1-e2")}
    for key in sm4.values():
        key.write(tmp_path / "keys" / f"{key.key_id}.sm4")
    until = f'"{OVERLAP_END.isoformat()}"'
    (tmp_path / "cloud.yaml").write_text(cloud_yaml(tmp_path, f"""    previous_keys:
      - {{key_id: gw-1-k1, public_key: keys/gw-1-k1.pub.pem, valid_until: {until}}}
    payload_key: {{key_id: gw-1-e2, key_file: keys/gw-1-e2.sm4}}
    previous_payload_keys:
      - {{key_id: gw-1-e1, key_file: keys/gw-1-e1.sm4, valid_until: {until}}}
    retired_payload_keys: [gw-1-e0]
"""))
    cfg = load_cloud_config(tmp_path / "cloud.yaml")
    store = SqliteStore(tmp_path / "w.db")
    handler = Handler(store, GatewayKeys(cfg.gateways), AlarmEngine(store))
    keys = {k: SM2PrivateKey.from_pem((tmp_path / "keys" / f"{k}.key.pem").read_text()) for k in ("gw-1-k1", "gw-1-k2")}

    def send(key_id: str, payload_key: str, seq: int, created_ms: int) -> str:
        data, _ = seal([Reading("S1", "flow", created_ms, 1.0, "m3/h")], keys[key_id], "gw-1", key_id, ChainState(seq),
                       created_ms, sm4[payload_key])
        return handler.handle("watertel/gw-1/up", data)

    try:
        assert send("gw-1-k1", "gw-1-e1", 1, END_MS - 1000) == "stored"  # both old keys, inside the overlap
        assert send("gw-1-k2", "gw-1-e2", 2, END_MS + 1000) == "stored"  # both new keys, after it
        assert send("gw-1-k2", "gw-1-e1", 3, END_MS + 1000) == "payload_key_expired"
        assert send("gw-1-k1", "gw-1-e2", 4, END_MS + 1000) == "key_expired"
        assert send("gw-1-k2", "gw-1-e0", 5, END_MS - 10**9) == "payload_key_retired"
        assert store.counts()["refused"] == {"payload_key_expired": 1, "key_expired": 1, "payload_key_retired": 1}
    finally:
        store.close()
