"""Alarms raised and cleared by the rules (cloud/alarms), and read back; what people and timers do
with them afterwards is ``AlarmHandling`` (handling.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from watertel.cloud.store.handling import AlarmHandling, params_of
from watertel.cloud.store.schema import OPEN_STATES, OPEN_STATES_LIST


class AlarmRecord(NamedTuple):
    """An alarm's own row (``alarms``), without its handling."""

    id: int
    station: str
    point: str
    type: str
    severity: str
    state: str
    message: str
    raised_ms: int
    cleared_ms: int | None
    message_code: str  # '' for alarms raised before messages had codes
    message_params: dict[str, Any]


class Alarms(AlarmHandling):
    def raise_alarm(self, station: str, point: str, type_: str, severity: str, message: str, t_ms: int,
                    suppressed: bool = False, *, code: str = "", params: Mapping[str, Any] | None = None) -> bool:
        """Open an alarm unless one of the same kind is already open; True if a new one opened.

        ``suppressed``: raised during the station's maintenance window (kept, never notified or
        escalated). An open alarm held because it flapped learns that its condition is back.
        ``code`` and ``params``: the message as data (cloud/alarms/messages.py), for the console.
        """
        with self._write():
            rows = self._rows(
                "INSERT INTO alarms (station, point, type, severity, state, message, raised_ms, message_code, message_params)"
                " VALUES (?,?,?,?,'raised',?,?,?,?) ON CONFLICT DO NOTHING RETURNING id",
                (station, point, type_, severity, message, t_ms, code,
                 json.dumps(dict(params or {}), ensure_ascii=False, allow_nan=False)))
            if not rows:
                self._execute("UPDATE alarm_status SET calm_since_ms = NULL WHERE calm_since_ms IS NOT NULL AND alarm_id ="
                              f" (SELECT id FROM alarms WHERE station=? AND point=? AND type=? AND state IN {OPEN_STATES})",
                              (station, point, type_))
                return False
            self._execute("INSERT INTO alarm_status (alarm_id, suppressed) VALUES (?, ?)", (rows[0][0], int(suppressed)))
            self._history(rows[0][0], t_ms, "system", "raised", "suppressed: maintenance window" if suppressed else message)
            return True

    def clear_alarm(self, station: str, point: str, type_: str, t_ms: int,
                    flapping: tuple[int, int] | None = None) -> bool:
        """Clear the open alarm of this kind; True if one was cleared.

        ``flapping``: (N, window ms): an alarm raised more than N times in the window before
        ``t_ms`` is held raised and marked flapping instead (``Lifecycle.tick`` clears it once its
        condition has stayed away for the window).
        """
        with self._write():
            found = self._rows(
                "SELECT a.id, coalesce(s.flapping, 0) FROM alarms a LEFT JOIN alarm_status s ON s.alarm_id = a.id"
                f" WHERE a.station=? AND a.point=? AND a.type=? AND a.state IN {OPEN_STATES}", (station, point, type_))
            if not found:
                return False
            (alarm_id, flapped), = found
            if flapping and not flapped:
                (raises,), = self._rows("SELECT count(*) FROM alarms WHERE station=? AND point=? AND type=? AND raised_ms > ?",
                                        (station, point, type_, t_ms - flapping[1]))
                if raises > flapping[0]:
                    self._execute("INSERT INTO alarm_status (alarm_id) VALUES (?) ON CONFLICT DO NOTHING", (alarm_id,))
                    self._execute("UPDATE alarm_status SET flapping = 1 WHERE alarm_id = ?", (alarm_id,))
                    self._history(alarm_id, t_ms, "system", "flapping",
                                  f"raised {raises} times in {flapping[1] / 60_000:g} min: held raised")
                    flapped = 1
            if flapped:
                self._execute("UPDATE alarm_status SET calm_since_ms = coalesce(calm_since_ms, ?) WHERE alarm_id = ?",
                              (t_ms, alarm_id))
                return False
            self._execute("UPDATE alarms SET state='cleared', cleared_ms=? WHERE id=?", (t_ms, alarm_id))
            self._history(alarm_id, t_ms, "system", "cleared", "")
            return True

    def alarms(self, open_only: bool = False) -> list[dict]:
        """Alarms newest first with their handling (cloud/store/handling.py); open: raised or acknowledged."""
        return self.alarm_rows(states=OPEN_STATES_LIST if open_only else None)

    def alarm_records(self, ids: Iterable[int]) -> list[AlarmRecord]:
        """The alarms' own rows (no handling), in no particular order; ids not stored are left out."""
        ids = tuple(ids)
        if not ids:
            return []
        rows = self._rows(f"SELECT {', '.join(AlarmRecord._fields)} FROM alarms WHERE id IN ({','.join('?' * len(ids))})",
                          ids)
        return [AlarmRecord._make((*row[:-1], params_of(row[-1]))) for row in rows]
