"""The store's tables, and the migrations that bring an older store to this version.

Each schema change raises SCHEMA_VERSION and adds the SQL that takes a store from the version
before to it (SQL both back-ends accept); a new store is created at the latest version directly
(sqlite.py and postgres.py hold the base tables in each one's types).
"""

from __future__ import annotations

from watertel.errors import OperatorError


# The audit log (cloud/audit.py): append-only, each row SM3-chained to the one before; ids are
# given by the writer (1, 2, …) so a deleted row shows as a gap. Hashes are hex text.
AUDIT_TABLE = """CREATE TABLE IF NOT EXISTS audit (
    id BIGINT PRIMARY KEY, t_ms BIGINT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL, client TEXT NOT NULL,
    method TEXT NOT NULL, path TEXT NOT NULL, summary TEXT NOT NULL, status INTEGER NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"""

# Day rollups of the rates (cloud/quality/rollups.py). Ingest marks the 15-minute buckets
# (t_ms // DIRTY_BUCKET_MS: every zone's local midnight falls on one) of each station that got new
# readings, in the transaction that stores them (a mark already there is left alone: no lock, no
# write). A refresh moves marks to rollup_claimed, waits for writers then in flight (``_settle``),
# recomputes the station-days from the raw readings and deletes its claimed marks with the upsert
# of rate_days; a reading stored meanwhile makes a new mark for the next round.
# rate_days holds a station's counts for the local day starting at day_ms, and the basis (hash of
# the registry entry and settings) they were counted with; keyed by day first, as reports read a
# period for many stations.
DIRTY_BUCKET_MS = 900_000
ROLLUP_TABLES = [
    *(f"CREATE TABLE IF NOT EXISTS {name} (station TEXT NOT NULL, bucket BIGINT NOT NULL, PRIMARY KEY (station, bucket))"
      for name in ("rollup_dirty", "rollup_claimed")),
    "CREATE TABLE IF NOT EXISTS rate_days (day_ms BIGINT NOT NULL, station TEXT NOT NULL, basis TEXT NOT NULL,"
    " received INTEGER NOT NULL, on_time INTEGER NOT NULL, future INTEGER NOT NULL, flagged INTEGER NOT NULL,"
    " PRIMARY KEY (day_ms, station))",
]
MARK_DIRTY = "INSERT INTO rollup_dirty (station, bucket) VALUES (?, ?) ON CONFLICT DO NOTHING"
# Hour rollups of each point (cloud/quality/hourly.py), refreshed with rate_days from the same marks:
# per UTC hour starting at hour_ms, the interval slots expected, received, received on time and
# abnormal (received, none of its readings trusted and in the past), ``readings`` (raw rows of
# any quality: a refresh never lowers it, so hours whose raw rows retention removed stay as they
# were), min/max/sum/count of the trusted values (mean = value_sum / value_count) and, for
# ``total`` points, the volume (totaliser steps whose later reading lies in the hour). Day figures
# are sums, min and max over a local day's hours (hourly.day_rollups). Kept ``retention.hourly_days``.
HOURLY_TABLES = [
    "CREATE TABLE IF NOT EXISTS point_hours (station TEXT NOT NULL, point TEXT NOT NULL, hour_ms BIGINT NOT NULL,"
    " expected INTEGER NOT NULL, received INTEGER NOT NULL, on_time INTEGER NOT NULL, abnormal INTEGER NOT NULL,"
    " readings INTEGER NOT NULL, value_count INTEGER NOT NULL, value_min DOUBLE PRECISION,"
    " value_max DOUBLE PRECISION, value_sum DOUBLE PRECISION, volume DOUBLE PRECISION,"
    " PRIMARY KEY (station, point, hour_ms))",
    "CREATE INDEX IF NOT EXISTS point_hours_hour ON point_hours(hour_ms)",  # retention by age
]

# The alarm lifecycle (cloud/alarms/lifecycle.py, cloud/store/handling.py): an alarm is open while
# raised or acknowledged (one per rule and target); its history is append-only; alarm_status holds
# who acknowledged, assigned or closed it, its escalation level, flapping and maintenance flags (a
# row per alarm from version 5 on: older alarms read as defaults); work orders come from alarms; the
# notification outbox is filled from the history (notify_cursor: the last history row routed) and
# emptied by delivery, so a notification survives a crash or an unreachable endpoint. ``{serial}``
# is each back-end's auto-numbered key.
OPEN_STATES = "('raised','acknowledged')"
OPEN_STATES_LIST = ("raised", "acknowledged")
LIFECYCLE_TABLES = [
    "DROP INDEX IF EXISTS alarms_open",
    f"CREATE UNIQUE INDEX IF NOT EXISTS alarms_open ON alarms(station, point, type) WHERE state IN {OPEN_STATES}",
    "CREATE TABLE IF NOT EXISTS alarm_history (id {serial}, alarm_id BIGINT NOT NULL, t_ms BIGINT NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, note TEXT NOT NULL, level INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS alarm_history_alarm ON alarm_history(alarm_id)",
    "CREATE TABLE IF NOT EXISTS alarm_status (alarm_id BIGINT PRIMARY KEY, acked_by TEXT, acked_ms BIGINT,"
    " assignee TEXT, closed_by TEXT, closed_ms BIGINT, level INTEGER NOT NULL DEFAULT 0, escalated_ms BIGINT,"
    " flapping INTEGER NOT NULL DEFAULT 0, calm_since_ms BIGINT, suppressed INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS work_orders (id {serial}, alarm_id BIGINT NOT NULL, station TEXT NOT NULL,"
    " title TEXT NOT NULL, state TEXT NOT NULL, created_ms BIGINT NOT NULL, created_by TEXT NOT NULL,"
    " assignee TEXT, due_ms BIGINT NOT NULL, accepted_ms BIGINT, reported_ms BIGINT, report TEXT NOT NULL DEFAULT '',"
    " closed_ms BIGINT, closed_by TEXT, overdue_ms BIGINT)",
    "CREATE UNIQUE INDEX IF NOT EXISTS work_orders_open ON work_orders(alarm_id) WHERE state != 'closed'",
    "CREATE TABLE IF NOT EXISTS notify_outbox (id {serial}, history_id BIGINT NOT NULL, channel TEXT NOT NULL,"
    " address TEXT NOT NULL, payload TEXT NOT NULL, created_ms BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_ms BIGINT NOT NULL, sent_ms BIGINT, last_error TEXT NOT NULL DEFAULT '', UNIQUE (history_id, channel, address))",
    "CREATE INDEX IF NOT EXISTS notify_outbox_due ON notify_outbox(next_ms) WHERE sent_ms IS NULL",
    "CREATE TABLE IF NOT EXISTS notify_cursor (name TEXT PRIMARY KEY, last_id BIGINT NOT NULL)",
]

# Alarm messages as data (cloud/alarms/messages.py): the message code and its parameters (JSON
# text) beside the English message, so the console renders it in its user's language; older rows
# keep '' and '{}' and are shown by their text.
ALARM_MESSAGE_COLUMNS = [
    "ALTER TABLE alarms ADD COLUMN message_code TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE alarms ADD COLUMN message_params TEXT NOT NULL DEFAULT '{}'",
]

# Field work (cloud/store/work_orders.py, idempotency.py): the photos a crew attaches to a work
# order, kept in the store itself (a backup holds them, every API process serves them; one photo
# per order and content, by its SM3 hash), and the idempotency keys of the writes a phone may send
# again after losing the answer on a weak signal: a repeat gets the first answer (``request``: what
# was asked, so the same key for something else is refused). BYTEA is PostgreSQL's byte string;
# SQLite keeps bytes bound as a blob whatever the column's declared type. alarms_raised serves the
# board's time filter.
FIELD_WORK_TABLES = [
    "CREATE TABLE IF NOT EXISTS work_order_photos (id {serial}, order_id BIGINT NOT NULL, t_ms BIGINT NOT NULL,"
    " actor TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL, sm3 TEXT NOT NULL, data BYTEA NOT NULL,"
    " UNIQUE (order_id, sm3))",
    "CREATE TABLE IF NOT EXISTS idempotency_keys (actor TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL,"
    " t_ms BIGINT NOT NULL, status INTEGER NOT NULL, answer TEXT NOT NULL, PRIMARY KEY (actor, key))",
    "CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys(t_ms)",
    "CREATE INDEX IF NOT EXISTS alarms_raised ON alarms(raised_ms)",
]

# Quarantine rows keep a refused message's size and SM3 digest (hex) beside its first bytes
# (``payload``: at most cloud/ingest/config.py QUARANTINE_PREFIX_BYTES since version 9), never the
# whole message: a flood of large messages must not fill the disk. Older rows read as size 0, ''.
QUARANTINE_COLUMNS = [
    "ALTER TABLE quarantine ADD COLUMN size BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE quarantine ADD COLUMN sm3 TEXT NOT NULL DEFAULT ''",
]

# Each schema change raises SCHEMA_VERSION and adds the SQL that takes a store from the version
# before to it (SQL both back-ends accept); a new store is created at the latest version directly.
MIGRATIONS: dict[int, list[str]] = {
    2: ["CREATE INDEX IF NOT EXISTS envelopes_received ON envelopes(received_ms)"],  # chain-gap scans
    3: [AUDIT_TABLE],
    4: ROLLUP_TABLES,
    5: LIFECYCLE_TABLES,
    6: HOURLY_TABLES,
    7: ALARM_MESSAGE_COLUMNS,
    8: FIELD_WORK_TABLES,
    9: QUARANTINE_COLUMNS,
}
SCHEMA_VERSION = max(MIGRATIONS)


class StoreError(OperatorError):
    """A store this code must not use (e.g. made by a newer watertel); the message says what to do."""


def pending_migrations(found: int, where: str, migrate: bool, serial: str = "INTEGER PRIMARY KEY") -> list[str]:
    """The SQL to bring a store at version ``found`` to SCHEMA_VERSION (0: a new store, nothing);
    ``serial``: the back-end's auto-numbered primary key column.

    A newer store is refused (this code could lose data there); an older one is upgraded only when
    asked (`watertel cloud migrate`), so an upgrade is a decision made with a backup at hand.
    """
    if found > SCHEMA_VERSION:
        raise StoreError(f"{where} has schema version {found}, newer than this watertel knows ({SCHEMA_VERSION}):"
                         " upgrade watertel, or restore a backup made with this version")
    if found == 0 or found == SCHEMA_VERSION:
        return []
    if not migrate:
        raise StoreError(f"{where} has schema version {found}, older than this watertel ({SCHEMA_VERSION}):"
                         " back it up (`watertel cloud backup`), then run `watertel cloud migrate`")
    return [sql.replace("{serial}", serial) for version in range(found + 1, SCHEMA_VERSION + 1)
            for sql in MIGRATIONS[version]]
