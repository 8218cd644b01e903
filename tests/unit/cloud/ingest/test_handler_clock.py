"""The ingest handler's arrival clock: the store records when an envelope arrived by the handler's
clock (the wall clock unless a replay of past traffic plays the time it arrived then), and the
gateway's last contact goes with it."""

from __future__ import annotations

from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.gateway_status import GatewayStatus
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.ingest.gateway_keys import GatewayKeys
from watertel.cloud.ingest.handler import Handler
from watertel.cloud.store.sqlite import SqliteStore
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, seal
from watertel.keys import write_key_pair
from watertel.readings import Reading

SAMPLED_MS = 1_796_000_000_000  # 2026-11-30


def _handler(tmp_path, clock):
    write_key_pair(tmp_path / "keys", "gw-1")
    gateways = [GatewayEntry(id="gw-1", key_id="gw-1-k1", public_key=tmp_path / "keys" / "gw-1.pub.pem", stations=["S1"])]
    store = SqliteStore(tmp_path / "w.db")
    handler = Handler(store, GatewayKeys(gateways), AlarmEngine(store), GatewayStatus(tmp_path / "fleet"), clock=clock)
    return handler, store, SM2PrivateKey.from_pem((tmp_path / "keys" / "gw-1.key.pem").read_text())


def test_a_replayed_envelope_arrives_at_the_time_the_clock_plays(tmp_path):
    played = {"now": (SAMPLED_MS + 90_000) / 1000}  # 90 s after the sample: on time, as it was then
    handler, store, key = _handler(tmp_path, lambda: played["now"])
    try:
        data, chain = seal([Reading("S1", "flow", SAMPLED_MS, 12.5, "m3/h")], key, "gw-1", "gw-1-k1", ChainState(), SAMPLED_MS)
        assert handler.handle("watertel/gw-1/up", data) == "stored"
        played["now"] = (SAMPLED_MS + 3 * 3_600_000) / 1000  # the next one three hours late
        late, _ = seal([Reading("S1", "flow", SAMPLED_MS + 60_000, 12.7, "m3/h")], key, "gw-1", "gw-1-k1", chain,
                       SAMPLED_MS + 60_000)
        assert handler.handle("watertel/gw-1/up", late) == "stored"

        rows = [row for batch in store.rate_rows(SAMPLED_MS, SAMPLED_MS + 120_000) for row in batch]
        assert sorted((t, received) for _, _, t, received, _ in rows) == [
            (SAMPLED_MS, SAMPLED_MS + 90_000), (SAMPLED_MS + 60_000, SAMPLED_MS + 3 * 3_600_000)]
        assert handler.gateway_status.last_contact_ms("gw-1") == SAMPLED_MS + 90_000  # touched once per 10 s of wall time
    finally:
        store.close()


def test_without_a_clock_the_arrival_is_now(tmp_path):
    import time

    handler, store, key = _handler(tmp_path, time.time)
    try:
        before = int(time.time() * 1000)
        data, _ = seal([Reading("S1", "flow", SAMPLED_MS, 1.0, "m3/h")], key, "gw-1", "gw-1-k1", ChainState(), SAMPLED_MS)
        assert handler.handle("watertel/gw-1/up", data) == "stored"
        ((*_, received, _),) = [row for batch in store.rate_rows(SAMPLED_MS, SAMPLED_MS + 1) for row in batch]
        assert before <= received <= int(time.time() * 1000)
    finally:
        store.close()
