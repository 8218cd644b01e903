"""``SqlStore``: everything the cloud keeps, behind public methods, in the SQL that SQLite and
PostgreSQL share. Each concern is a part of its own (one module each, all on ``Database``):

- envelopes.py: envelopes in, exactly once, the chain checked, refusals in quarantine;
- readings.py: the latest values, totals, raw rows for the rates and permits, retention;
- alarms.py, handling.py, work_orders.py, idempotency.py: alarms raised and cleared, then handled
  (acknowledged, escalated, the notification outbox), work orders with their photos, and the
  idempotency keys of the writes a phone may repeat;
- audit.py: the API's audit log; rollups.py, hourly.py: the day and hour rollups;
- series.py: one point over a time range, for the console's charts.

A back-end (sqlite.py, postgres.py) supplies the connection, the schema (schema.py), write
transactions, locks, the bulk insert of readings and the way other processes' changes are heard
(changes.py: the arrival signal of the console's live events); no SQL lives outside this package.
"""

from __future__ import annotations

from watertel.cloud.store.alarms import Alarms
from watertel.cloud.store.audit import AuditLog
from watertel.cloud.store.envelopes import Envelopes
from watertel.cloud.store.readings import Readings
from watertel.cloud.store.rollups import Rollups
from watertel.cloud.store.series import Series


class SqlStore(Envelopes, Readings, Alarms, AuditLog, Rollups, Series):
    """The store; open one with ``open_store`` (cloud/store/__init__.py)."""
