"""The edge buffer under pressure: size limit and its policies, a full disk, a corrupt file."""

from __future__ import annotations

import sqlite3
import time

import pytest

from watertel.cloud.store.sqlite import SqliteStore
from watertel.edge_agent.buffer import Buffer, BufferFull, read_all
from watertel.crypto import SM2PrivateKey
from watertel.envelope import GENESIS_HASH, ChainState, open_envelope, seal
from watertel.readings import Quality, Reading

KEY = SM2PrivateKey.generate()
LIMIT = 256 * 1024


def sealer(readings: list[Reading], state: ChainState) -> tuple[bytes, ChainState]:
    return seal(readings, KEY, "gw-1", "k1", state, int(time.time() * 1000))


def poll(n: int, start: int = 0) -> list[Reading]:
    """n readings whose value is their running number (so tests can tell which survived)."""
    return [Reading("ST-1", "flow", 1_700_000_000_000 + i * 1000, float(i), "m3/h", Quality.OK)
            for i in range(start, start + n)]


def fill_until_over(buf: Buffer, limit: int) -> int:
    """Add polls of 100 readings until the database is over ``limit``; returns readings added."""
    added = 0
    while buf.used_bytes() <= limit:
        buf.add(poll(100, added))
        added += 100
    return added


def send_all(buf: Buffer) -> None:
    while buf.seal_next(100, sealer):
        pass
    buf.mark_sent([b.seq for b in buf.unsent(10_000)])


def test_sent_history_goes_first_and_unsent_readings_stay(tmp_path):
    buf = Buffer(tmp_path / "b.db", "gw-1", max_bytes=LIMIT)
    fill_until_over(buf, LIMIT // 2)
    send_all(buf)
    fill_until_over(buf, LIMIT)  # the rest arrives unsent, over the limit
    waiting = buf.unsealed()[0]
    buf.make_room()
    assert buf.used_bytes() <= LIMIT * 0.9
    assert buf.unsealed()[0] == waiting, "unsent readings must not be dropped while sent history remains"
    assert buf.counters().get("dropped", 0) == 0
    buf.close()


def test_drop_oldest_keeps_the_newest_unsent_readings_and_counts_the_rest(tmp_path):
    buf = Buffer(tmp_path / "b.db", "gw-1", max_bytes=LIMIT, when_full="drop_oldest")
    added = fill_until_over(buf, LIMIT)
    deleted = buf.make_room()
    assert buf.used_bytes() <= LIMIT * 0.9
    assert deleted > 0 and buf.counters()["dropped"] == deleted
    values = [r.value for r in read_all(tmp_path / "b.db")]
    assert values == [float(i) for i in range(added - len(values), added)], "the newest survive, in order"
    assert buf.stats()["polled"] == added
    buf.close()


def test_drop_oldest_drops_unsent_batches_whole(tmp_path):
    buf = Buffer(tmp_path / "b.db", "gw-1", max_bytes=LIMIT)
    fill_until_over(buf, LIMIT)
    while buf.seal_next(100, sealer):  # everything sealed, nothing sent
        pass
    buf.make_room()
    with sqlite3.connect(tmp_path / "b.db") as db:
        sizes = db.execute("SELECT b.n, count(r.id) FROM batches b LEFT JOIN readings r ON r.seq = b.seq GROUP BY b.seq").fetchall()
    assert sizes and all(n == have for n, have in sizes), "a batch is kept or dropped whole"
    buf.close()


def test_drop_newest_refuses_new_readings_and_keeps_the_old(tmp_path):
    buf = Buffer(tmp_path / "b.db", "gw-1", max_bytes=LIMIT, when_full="drop_newest")
    added = fill_until_over(buf, LIMIT)
    with pytest.raises(BufferFull, match="drop_newest"):
        buf.add(poll(100, added))
    assert buf.counters()["dropped"] == 100
    assert [r.value for r in read_all(tmp_path / "b.db")] == [float(i) for i in range(added)]
    buf.close()


def _cap_file(buf: Buffer, spare_pages: int) -> None:
    """Make SQLite's file limit the current size plus a few pages: a disk that is about to be full."""
    (pages,) = buf.db.execute("PRAGMA page_count").fetchone()
    buf.db.execute(f"PRAGMA max_page_count = {pages + spare_pages}")


def test_a_full_disk_frees_sent_history_and_keeps_recording(tmp_path):
    buf = Buffer(tmp_path / "b.db", "gw-1")
    sent = fill_until_over(buf, LIMIT)
    send_all(buf)
    _cap_file(buf, 2)
    for i in range(20):  # far more than two pages: only the freed history makes room
        buf.add(poll(100, sent + i * 100))
    assert buf.unsealed()[0] == 2000
    assert "unrecorded" not in buf.counters()
    buf.close()


def test_a_full_disk_with_nothing_to_free_is_reported_and_counted(tmp_path):
    buf = Buffer(tmp_path / "b.db", "gw-1", when_full="drop_newest")
    buf.add(poll(100))
    _cap_file(buf, 1)
    with pytest.raises(BufferFull, match="full"):
        for i in range(1, 50):
            buf.add(poll(100, i * 100))
    assert buf.counters()["unrecorded"] == 100
    assert read_all(tmp_path / "b.db")[:100] == poll(100), "what was recorded stays"
    buf.close()


def test_an_unreadable_buffer_is_set_aside_and_a_new_chain_starts(tmp_path):
    path = tmp_path / "b.db"
    path.write_bytes(b"this is not a database, the SD card flipped" * 100)
    before_ms = int(time.time() * 1000)
    buf = Buffer(path, "gw-1")
    assert len(list(tmp_path.glob("b.db.corrupt-*"))) == 1
    buf.add(poll(3))
    batch = buf.seal_next(100, sealer)
    env = open_envelope(batch.data, lambda g, k: KEY.public)
    assert env.seq >= before_ms and env.prev_hash == GENESIS_HASH
    buf.close()


def test_a_damaged_buffer_continues_its_chain_when_the_chain_row_survives(tmp_path):
    path = tmp_path / "b.db"
    buf = Buffer(path, "gw-1")
    buf.add(poll(3000))
    send_all(buf)
    next_seq, prev_hash = buf.db.execute("SELECT next_seq, prev_hash FROM chain").fetchone()
    buf.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    buf.close()
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8192] = b"\xa5" * 8192  # two pages of readings destroyed
    path.write_bytes(bytes(data))
    buf = Buffer(path, "gw-1")
    assert list(tmp_path.glob("b.db.corrupt-*")), "quick_check should have found the damage"
    assert buf.db.execute("SELECT next_seq, prev_hash FROM chain").fetchone() == (next_seq, prev_hash)
    buf.close()


def test_the_cloud_accepts_a_restarted_chain_and_still_refuses_forks(tmp_path):
    store = SqliteStore(tmp_path / "cloud.db")
    lookup = lambda g, k: KEY.public
    state = ChainState()
    for i in range(3):
        data, state = sealer(poll(2, i * 2), state)
        assert store.accept(open_envelope(data, lookup)).status == "stored"
    restart = ChainState(int(time.time() * 1000), GENESIS_HASH)
    data, after_restart = sealer(poll(2, 100), restart)
    assert store.accept(open_envelope(data, lookup)).status == "stored"
    data, _ = sealer(poll(2, 102), after_restart)
    assert store.accept(open_envelope(data, lookup)).status == "stored"
    fork, _ = sealer(poll(2, 200), ChainState(state.seq, b"\x01" * 32))  # claims to follow a seq it does not
    assert store.accept(open_envelope(fork, lookup)).reason == "chain_mismatch"
    store.close()
