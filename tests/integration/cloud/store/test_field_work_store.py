"""The store's part of field work on both back-ends (SQLite, PostgreSQL): photos kept with their
work order (once per content), idempotency keys (a repeat gets the first answer, a key reused for
another request is refused, old keys forgotten), migration 8 from an older store, and the arrival
signal (in-process listeners after a commit, none for a rollback; other connections' commits seen
through NOTIFY or SQLite's data_version)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from watertel.cloud.store import StoreError, changes
from watertel.cloud.store.handling import HandlingError
from watertel.cloud.store.idempotency import IdempotencyConflict, Once
from watertel.cloud.store.sqlite import SqliteStore
from watertel.cloud.store.work_orders import PhotoLimit

from tests.support.stores import UNDO_VERSION_8, UNDO_VERSION_9

HOUR = 3_600_000
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + b"\x00" * 32


def accepted_order(store, t: int = 1_000) -> dict:
    store.raise_alarm("ST-1", "*", "data_stopped", "orange", "no data", t)
    (alarm,) = store.alarm_rows(stations=["ST-1"], types=["data_stopped"])
    order = store.create_work_order(alarm["id"], "op", t, t + 72 * HOUR, "", "crew")
    return store.accept_work_order(order["id"], "crew", t + 1)


def test_photos_are_kept_with_their_order_once_per_content_and_up_to_the_limit(open_store):
    store = open_store()
    order = accepted_order(store)
    first = store.add_photo(order["id"], "crew", 10, "image/png", PNG, "aa" * 32, 3)
    again = store.add_photo(order["id"], "crew", 11, "image/png", PNG, "aa" * 32, 3)
    assert again["id"] == first["id"] and (first["size"], first["media_type"]) == (len(PNG), "image/png")
    store.add_photo(order["id"], "crew", 12, "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x01" * 20, "bb" * 32, 3)
    store.add_photo(order["id"], "crew", 13, "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x02" * 20, "cc" * 32, 3)
    with pytest.raises(PhotoLimit):
        store.add_photo(order["id"], "crew", 14, "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x03" * 20, "dd" * 32, 3)
    meta, data = store.photo(first["id"])
    assert data == PNG and meta["order_id"] == order["id"]
    assert [p["sm3"] for p in store.photos(order["id"])] == ["aa" * 32, "bb" * 32, "cc" * 32]
    assert store.work_order(order["id"])["photos"] == 3
    history = [h["action"] for h in store.alarm_history(order["alarm_id"])]
    assert history.count("work_order.photo") == 3, "one history row per photo kept"
    store.close_work_order(order["id"], "admin", 20)
    with pytest.raises(HandlingError):  # a closed order takes no more photos
        store.add_photo(order["id"], "crew", 21, "image/png", PNG + b"x", "ee" * 32, 10)


def test_a_keyed_step_is_done_once_and_a_repeat_gets_the_first_answer(open_store):
    store = open_store()
    order = accepted_order(store)
    once = Once("crew", "k-000001", f"POST /api/workorders/{order['id']}/report sm3:1")
    first = store.report_work_order(order["id"], "crew", 30, "done", once)
    repeat = Once("crew", "k-000001", f"POST /api/workorders/{order['id']}/report sm3:1")
    second = store.report_work_order(order["id"], "crew", 40, "done", repeat)
    assert (once.replayed, repeat.replayed) == (False, True) and second == first
    history = [h["action"] for h in store.alarm_history(order["alarm_id"])]
    assert history.count("work_order.reported") == 1
    with pytest.raises(IdempotencyConflict):
        store.report_work_order(order["id"], "crew", 50, "other", Once("crew", "k-000001", "POST … sm3:2"))
    other_user = Once("crew2", "k-000001", f"POST /api/workorders/{order['id']}/report sm3:1")
    with pytest.raises(HandlingError):  # another user's key is theirs: the step is tried (and refused: reported)
        store.report_work_order(order["id"], "crew2", 60, "done", other_user)
    assert store.forget_idempotency_keys(before_ms=31) == 1
    with pytest.raises(HandlingError):  # forgotten: a late repeat is a new request again
        store.report_work_order(order["id"], "crew", 70, "done", Once("crew", "k-000001", "x"))


def test_a_refused_step_leaves_its_key_unclaimed(open_store):
    store = open_store()
    order = accepted_order(store)
    store.close_work_order(order["id"], "admin", 20)
    once = Once("crew", "k-000002", "POST report")
    with pytest.raises(HandlingError):
        store.report_work_order(order["id"], "crew", 30, "late", once)
    assert store.forget_idempotency_keys(before_ms=10**15) == 0, "rolled back with the step"


def test_a_version_7_store_is_migrated_to_field_work(open_store):
    store = open_store()
    accepted_order(store)
    for sql in UNDO_VERSION_9 + UNDO_VERSION_8:  # what schema version 7 looked like
        store._execute(sql)
    if isinstance(store, SqliteStore):
        store.db.execute("PRAGMA user_version = 7")
    else:
        store._execute("UPDATE schema_version SET version = 7")
    with pytest.raises(StoreError, match="schema version 7, older than this watertel"):
        open_store()
    again = open_store(migrate=True)
    (order,) = again.work_orders()
    assert again.add_photo(order["id"], "crew", 10, "image/png", PNG, "aa" * 32, 3)["size"] == len(PNG)
    assert again.report_work_order(order["id"], "crew", 20, "ok", Once("crew", "k-000003", "r"))["state"] == "reported"


def test_a_commit_calls_this_process_s_listeners_and_a_rollback_does_not(open_store):
    store = open_store()
    heard: list[frozenset[str]] = []
    stop = changes.listen(store.identity, heard.append)
    try:
        store.raise_alarm("ST-1", "flow", "spike", "red", "spike", 1)
        assert heard and "alarms" in heard[-1]
        before = len(heard)
        order = accepted_order(store, 2)
        store.close_work_order(order["id"], "admin", 3)
        with pytest.raises(HandlingError):  # refused: rolled back, nothing to hear
            store.report_work_order(order["id"], "crew", 4, "late")
        count = len(heard)
        assert count > before
        with pytest.raises(HandlingError):
            store.report_work_order(order["id"], "crew", 5, "late")
        assert len(heard) == count
    finally:
        stop()
    store.raise_alarm("ST-2", "flow", "spike", "red", "spike", 6)
    assert len(heard) == count, "stopped"


def test_another_connection_s_commit_is_heard_by_watch_others(open_store):
    """PostgreSQL: LISTEN/NOTIFY; SQLite: the file's data_version read every poll_s (the fallback)."""
    watcher, writer = open_store(), open_store()

    async def scenario() -> float:
        heard = asyncio.Event()
        task = asyncio.create_task(watcher.watch_others(lambda kinds: heard.set(), 0.05))
        await asyncio.sleep(0.5)  # listening
        start = time.monotonic()
        await asyncio.to_thread(writer.raise_alarm, "ST-9", "flow", "spike", "red", "spike", 1)
        await asyncio.wait_for(heard.wait(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return time.monotonic() - start

    assert asyncio.run(scenario()) < 5


def test_cancelling_the_sqlite_watcher_mid_read_closes_it_safely(tmp_path):
    """A cancelled ``await to_thread(read)`` leaves the read running in its thread; the watcher's
    close used to run under it and crashed the process (SIGSEGV, seen when a test's API stopped).
    Cancelled at once and at random points of its polling, many times: the process survives and
    the watcher still hears a commit afterwards."""
    store = SqliteStore(tmp_path / "w.db")

    async def churn() -> None:
        rng = random.Random(5)
        for _ in range(300):
            task = asyncio.create_task(store.watch_others(lambda kinds: None, 0))
            await asyncio.sleep(rng.choice([0, 0, 0.0005, 0.001, 0.003]))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        heard = asyncio.Event()
        task = asyncio.create_task(store.watch_others(lambda kinds: heard.set(), 0.01))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(SqliteStore(tmp_path / "w.db").raise_alarm, "ST-1", "flow", "spike", "red", "spike", 1)
        await asyncio.wait_for(heard.wait(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(churn())
    store.close()
