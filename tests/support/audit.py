"""Audit log rows appended as the API appends them (for the audit log tests)."""

from __future__ import annotations

from watertel.cloud import audit
from watertel.cloud.store.sql import SqlStore

T0 = 1_700_000_000_000


def add(store: SqlStore, n: int) -> list[audit.Entry]:
    return [audit.append(store, actor="op", role="operator", client="10.0.0.7", method="POST",
                         path=f"/api/alarms/{i}/ack", summary=f"acknowledge alarm {i} 确认", status=200, t_ms=T0 + i)
            for i in range(n)]
