"""Ingest decisions on a real store: stored once, duplicates dropped, hostile input quarantined."""

from __future__ import annotations

import time

import pytest

from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.ingest.handler import Handler
from watertel.cloud.ingest.gateway_keys import GatewayKeys
from watertel.cloud.store.sqlite import SqliteStore
from watertel.crypto import SM2PrivateKey, sm3
from watertel.envelope import ChainState, seal
from watertel.presence import sign_status
from watertel.readings import Reading

KEY = SM2PrivateKey.generate()
TOPIC = "watertel/gw-1/up"
T = int(time.time() * 1000)  # sample times: recent, as a live gateway's (ingest.sample_time)


@pytest.fixture(params=["sqlite", "postgres"])
def setup(request, tmp_path):
    (tmp_path / "gw-1.pub.pem").write_text(KEY.public.to_pem())
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "w.db")
    else:
        from watertel.cloud.store.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("postgres"))
    registry = GatewayKeys([GatewayEntry(id="gw-1", key_id="k1", public_key=tmp_path / "gw-1.pub.pem", stations=["S1"])])
    yield Handler(store, registry, AlarmEngine(store)), store
    store.close()


def chain(n: int, station: str = "S1", key: SM2PrivateKey = KEY, gateway: str = "gw-1") -> list[bytes]:
    """n consecutive envelopes of one reading each."""
    out, state = [], ChainState()
    for i in range(n):
        data, state = seal([Reading(station, "flow", T + 1_000 * (i + 1), 10.0 + i, "m3/h")], key, gateway, "k1", state, T)
        out.append(data)
    return out


def test_each_reading_is_stored_once_even_when_delivered_twice(setup):
    handler, store = setup
    envs = chain(3)
    assert [handler.handle(TOPIC, e) for e in envs] == ["stored"] * 3
    assert handler.handle(TOPIC, envs[1]) == "duplicate"
    assert [r.value for r in store.readings()] == [10.0, 11.0, 12.0]


def test_out_of_order_arrival_is_stored_and_a_lasting_gap_is_reported(setup):
    handler, store = setup
    first, second, third, fourth = chain(4)
    assert handler.handle(TOPIC, first) == "stored"
    assert handler.handle(TOPIC, third) == "stored"
    assert handler.alarms.check_chain_gaps(grace_s=60) == {} and store.alarms() == []  # may still come
    assert handler.alarms.check_chain_gaps(grace_s=0) == {"gw-1": [2]}
    assert [(a["type"], a["station"], a["state"]) for a in store.alarms()] == [("chain_gap", "gw-1", "raised")]
    assert handler.handle(TOPIC, second) == "stored"  # links to both neighbours: the hole is filled
    assert handler.handle(TOPIC, fourth) == "stored"
    assert handler.alarms.check_chain_gaps(grace_s=0) == {}
    assert [a["state"] for a in store.alarms()] == ["cleared"]
    assert len(store.readings()) == 4


@pytest.mark.parametrize("case, reason", [
    ("garbage", "bad_magic"),
    ("forged", "bad_signature"),
    ("other_topic", "topic_mismatch"),
    ("stranger_station", "unknown_station"),
    ("forked_chain", "chain_mismatch"),
])
def test_hostile_or_broken_envelopes_are_quarantined_with_reason(setup, case, reason):
    handler, store = setup
    good = chain(2)
    handler.handle(TOPIC, good[0])
    payload, topic = {
        "garbage": (b"\x00" * 50, TOPIC),
        "forged": (chain(2, key=SM2PrivateKey.generate())[1], TOPIC),
        "other_topic": (good[1], "watertel/gw-2/up"),
        "stranger_station": (chain(2, station="S9")[1], TOPIC),
        # same seq 2 but linked to a different first envelope: a fork in the chain
        "forked_chain": (seal([Reading("S1", "flow", T + 5, 1.0, "m3/h")], KEY, "gw-1", "k1", ChainState(2, b"\x01" * 32), T)[0], TOPIC),
    }[case]
    assert handler.handle(topic, payload) == reason
    counts = store.counts()
    assert counts["refused"] == {reason: 1}
    assert counts["readings"] == 1  # nothing from the refused envelope was stored
    assert any(a["type"] == "refused_envelope" for a in store.alarms())


def test_a_batch_of_messages_gets_one_outcome_each_in_order(setup):
    handler, store = setup
    envs = chain(4)
    outcomes = handler.handle_many([(TOPIC, envs[0]), (TOPIC, b"junk"), (TOPIC, envs[2]), (TOPIC, envs[0]),
                                    (TOPIC, envs[1]), ("watertel/gw-2/up", envs[3]), (TOPIC, envs[3])])
    assert outcomes == ["stored", "bad_magic", "stored", "duplicate", "stored", "topic_mismatch", "stored"]
    assert [r.value for r in store.readings()] == [10.0, 11.0, 12.0, 13.0]
    assert store.counts()["refused"] == {"bad_magic": 1, "topic_mismatch": 1}


def status(state: str, session: int, n: int, key: SM2PrivateKey = KEY, gateway: str = "gw-1", **extra) -> bytes:
    """A status message as the edge agent signs it (watertel/presence.py)."""
    return sign_status({"gateway_id": gateway, "state": state, "session": session, "n": n, "key_id": "k1", **extra}, key)


def test_presence_raises_and_clears_gateway_offline(setup):
    handler, store = setup
    topic = "watertel/gw-1/status"
    will = status("offline", 100, 0, will=True)
    assert handler.handle_status(topic, status("online", 100, 1, version="0.1.0")) == "online"
    assert handler.handle_status(topic, will) == "offline"
    assert handler.handle_status(topic, will) == "stale"  # once
    assert [(a["type"], a["station"], a["state"]) for a in store.alarms()] == [("gateway_offline", "gw-1", "raised")]
    assert handler.handle_status(topic, b"\xff not json") == "unreadable"
    assert handler.handle_status(topic, status("online", 200, 1, version="0.1.0")) == "online"  # a new session
    assert [a["state"] for a in store.alarms()] == ["cleared"]
    assert handler.handle_status(topic, will) == "stale"  # the old session's will, published again
    assert handler.handle_status(topic, status("stopped", 200, 2)) == "stopped"  # a planned stop: no alarm
    assert [a["state"] for a in store.alarms()] == ["cleared"]


@pytest.mark.parametrize("case, outcome", [
    ("unsigned", "unsigned"),
    ("other_key", "bad_signature"),
    ("unregistered", "unregistered"),
    ("other_gateway", "topic_mismatch"),
    ("unknown_key", "unknown_key"),
])
def test_a_status_not_signed_by_the_gateways_key_is_ignored(setup, case, outcome):
    handler, store = setup
    payload, topic = {
        "unsigned": (b'{"gateway_id": "gw-1", "state": "offline"}', "watertel/gw-1/status"),
        "other_key": (status("offline", 100, 0, key=SM2PrivateKey.generate(), will=True), "watertel/gw-1/status"),
        "unregistered": (status("offline", 100, 0, gateway="gw-x", will=True), "watertel/gw-x/status"),
        "other_gateway": (status("offline", 100, 0, gateway="gw-2", will=True), "watertel/gw-1/status"),
        "unknown_key": (sign_status({"gateway_id": "gw-1", "state": "offline", "session": 1, "n": 0, "key_id": "k9"}, KEY),
                        "watertel/gw-1/status"),
    }[case]
    assert handler.handle_status(topic, payload) == outcome
    assert store.alarms() == [] and handler.counts[f"status:{outcome}"] == 1


def test_the_quarantine_keeps_a_digest_and_a_prefix_and_is_capped_and_pruned(setup):
    handler, store = setup
    handler.settings = handler.settings.model_copy(update={"quarantine": handler.settings.quarantine.model_copy(
        update={"max_rows": 100, "keep_days": 1.0})})
    big = b"WT" + bytes(range(256)) * 5000  # 1.28 MB: too_large
    topic = "watertel/gw-1/" + "x" * 5000 + "/up"  # a topic of the sender's choosing, as long as it likes
    assert handler.handle(topic, big) == "too_large"
    (payload, size, digest, kept_topic), = store._rows("SELECT payload, size, sm3, topic FROM quarantine")
    assert bytes(payload) == big[:256] and size == len(big) and digest == sm3(big).hex() and len(kept_topic) == 512
    for i in range(150):
        handler.handle(TOPIC, b"junk %d" % i)
    rows = store._rows("SELECT count(*), min(id) FROM quarantine")[0]
    assert rows[0] == 100 and rows[1] > 1  # the oldest went first
    store._execute("UPDATE quarantine SET received_ms = received_ms - 2 * 86400000 WHERE id < (SELECT max(id) - 9 FROM quarantine)")
    assert handler.prune() == 90 and store._rows("SELECT count(*) FROM quarantine") == [(10,)]
