"""The station list's cache of latest values: read again when an envelope arrives, else after its ttl."""

from __future__ import annotations

from watertel.cloud.api.series import LatestCache
from watertel.cloud.store.sqlite import SqliteStore
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, open_envelope, seal
from watertel.readings import Reading

T0 = 1_700_000_000_000


def test_a_new_envelope_refreshes_the_cache_and_the_ttl_bounds_anything_else(tmp_path):
    key, state = SM2PrivateKey.generate(), ChainState()
    store = SqliteStore(tmp_path / "w.db")

    def arrive(value: float, t_ms: int) -> None:
        nonlocal state
        data, state = seal([Reading("S1", "flow", t_ms, value, "m3/h")], key, "gw-1", "k1", state, t_ms)
        store.accept(open_envelope(data, lambda g, k: key.public))

    try:
        cache = LatestCache(store, ttl_s=3600)
        assert cache.by_station() == {}
        arrive(1.0, T0)
        assert [p["value"] for p in cache.by_station()["S1"]] == [1.0]
        arrive(2.0, T0 + 1000)
        assert [p["value"] for p in cache.by_station()["S1"]] == [2.0]
        with store._write():  # a change without an envelope (retention deleting): only the ttl shows it
            store._execute("DELETE FROM readings WHERE t_ms = ?", (T0 + 1000,))
        assert [p["value"] for p in cache.by_station()["S1"]] == [2.0]
        cache.ttl_s = 0
        assert [p["value"] for p in cache.by_station()["S1"]] == [1.0]
    finally:
        store.close()


def test_the_station_list_and_live_events_share_one_read_per_arrival(tmp_path):
    """The API process reads the latest values once per new envelope, however many of its parts
    ask (the station list, /api/latest and the live events)."""
    from watertel.cloud.api.events import EventHub

    class CountingStore(SqliteStore):
        reads = 0

        def latest(self):
            CountingStore.reads += 1
            return super().latest()

    key, state = SM2PrivateKey.generate(), ChainState()
    store = CountingStore(tmp_path / "w.db")
    try:
        cache = LatestCache(store, ttl_s=3600)
        hub = EventHub(store, lambda station: [], lambda station, t_ms, now: "online", latest=cache)
        hub.poll(fresh=True)
        for i, value in enumerate((1.0, 2.0)):
            data, state = seal([Reading("S1", "flow", T0 + i, value, "m3/h")], key, "gw-1", "k1", state, T0 + i)
            store.accept(open_envelope(data, lambda g, k: key.public))
            before = CountingStore.reads
            events = hub.poll()
            assert [p["value"] for p in cache.by_station()["S1"]] == [value]
            assert cache.rows()[0]["value"] == value
            assert CountingStore.reads == before + 1
            assert [e[2]["points"][0]["value"] for e in events if e[0] == "station"] == [value]
    finally:
        store.close()
