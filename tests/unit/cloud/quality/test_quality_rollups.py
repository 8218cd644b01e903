"""Day rollups of the rates (cloud/quality/rollups.py) give the figures the raw readings give, on
SQLite and on a real PostgreSQL: the hand-computed cases of test_quality_rates.py, late data after
a refresh, a registry change, raw retention, and the migration that adds the tables.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/quality/test_quality_rollups.py."""

from __future__ import annotations

from watertel.cloud.store.sqlite import SqliteStore

from tests.support.quality import CFG, local, marks, on_time, rate_days, registry


def test_the_service_refreshes_the_rollups_in_the_background(tmp_path):
    import asyncio
    import contextlib

    from watertel.cloud.service import refresh_rollups

    store = SqliteStore(tmp_path / "w.db")
    reg = registry(tmp_path, "- {id: S, region: xh, interval_minutes: 60, commissioned: 2026-01-01}\n")
    on_time(store, "S", local(1, 8))

    async def run() -> None:
        task = asyncio.create_task(refresh_rollups(lambda: SqliteStore(tmp_path / "w.db"), reg.stations, CFG, 0.05))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if not marks(store):
                break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(run())
        assert marks(store) == [] and rate_days(store, "S")[local(1)][1:3] == (1, 1)
    finally:
        store.close()
