"""What people and timers do with alarms, in the store: acknowledge, assign, comment, close,
escalate, calm a flapping alarm; the notification outbox (work orders: work_orders.py).

A part of ``SqlStore`` (tables in schema.py, ``LIFECYCLE_TABLES``): every change is one write
transaction that also appends the alarm's history, so the history is the full account and the
notifier and the console's live events can follow it (``route_history``, ``alarm_changes``).
Lifecycle::

    raised ──ack──> acknowledged ──(condition ends)──> cleared ──close──> closed
      └───────────(condition ends)──> cleared            (close also ends an alarm no rule clears)

Assignments, comments, escalations and work-order steps are history rows beside these states.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from watertel.cloud.store.database import Database

STATUS = ("acked_by", "acked_ms", "assignee", "closed_by", "closed_ms", "level", "escalated_ms", "flapping",
          "calm_since_ms", "suppressed")
ALARM_KEYS = ("id", "station", "point", "type", "severity", "state", "message", "raised_ms", "cleared_ms", *STATUS,
              "message_code", "message_params")
ALARM_SELECT = ("SELECT a.id, a.station, a.point, a.type, a.severity, a.state, a.message, a.raised_ms, a.cleared_ms,"
                " s.acked_by, s.acked_ms, s.assignee, s.closed_by, s.closed_ms, coalesce(s.level, 0), s.escalated_ms,"
                " coalesce(s.flapping, 0), s.calm_since_ms, coalesce(s.suppressed, 0), a.message_code, a.message_params"
                " FROM alarms a LEFT JOIN alarm_status s ON s.alarm_id = a.id")
HISTORY_KEYS = ("id", "alarm_id", "t_ms", "actor", "action", "note", "level")
OUTBOX_KEYS = ("id", "history_id", "channel", "address", "payload", "created_ms", "attempts", "next_ms", "sent_ms",
               "last_error")


class HandlingError(Exception):
    """An alarm or work order that is not there (``missing``) or not in a state for ``action``."""

    def __init__(self, what: str, id_: int, action: str, state: str | None) -> None:
        self.what, self.id, self.action, self.state, self.missing = what, id_, action, state, state is None
        super().__init__(f"no {what} {id_}" if state is None else f"{what} {id_} is {state}: cannot {action} it")


def params_of(text: str) -> dict:
    """An alarm's message parameters, stored as JSON text ('{}' when it has none)."""
    return json.loads(text) if text else {}


def alarm_dict(row: tuple) -> dict:
    """A row of ``ALARM_SELECT`` as the dict the API and the notifier read."""
    alarm = dict(zip(ALARM_KEYS, row))
    alarm["message_params"] = params_of(alarm["message_params"])
    return alarm


def _where(clauses: list[tuple[str, Iterable | None]]) -> tuple[str, tuple]:
    """`` WHERE a IN (?, ?) AND …`` for the clauses whose values are given."""
    sql, params = [], []
    for column, values in clauses:
        if values is not None:
            values = list(values)
            sql.append(f"{column} IN ({','.join('?' * len(values))})" if values else "1 = 0")
            params += values
    return (" WHERE " + " AND ".join(sql) if sql else ""), tuple(params)


class AlarmHandling(Database):
    """Part of ``SqlStore``: each change in one write transaction with its history row."""

    def _history(self, alarm_id: int, t_ms: int, actor: str, action: str, note: str, level: int = 0) -> None:
        """Append one row to an alarm's history (inside the caller's write transaction); the live
        events follow the history, so this is also their signal (changes.py)."""
        self._changed("alarms")
        self._execute("INSERT INTO alarm_history (alarm_id, t_ms, actor, action, note, level) VALUES (?,?,?,?,?,?)",
                      (alarm_id, t_ms, actor, action, note, level))

    # --- alarms ---------------------------------------------------------------------------------
    def alarm_rows(self, states: Iterable[str] | None = None, severities: Iterable[str] | None = None,
                   stations: Iterable[str] | None = None, ids: Iterable[int] | None = None,
                   limit: int | None = None, types: Iterable[str] | None = None,
                   raised_from: int | None = None, raised_to: int | None = None) -> list[dict]:
        """Alarms with their handling, newest first; each filter (None: any) is a set of values;
        ``raised_from``/``raised_to``: raised in [from, to) (ms)."""
        where, params = _where([("a.state", states), ("a.severity", severities), ("a.station", stations),
                                ("a.id", ids), ("a.type", types)])
        for bound, op in ((raised_from, ">="), (raised_to, "<")):
            if bound is not None:
                where += (" AND " if where else " WHERE ") + f"a.raised_ms {op} ?"
                params += (bound,)
        sql = ALARM_SELECT + where + " ORDER BY a.raised_ms DESC, a.id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [alarm_dict(row) for row in self._rows(sql, params)]

    def alarm(self, alarm_id: int) -> dict | None:
        rows = self.alarm_rows(ids=[alarm_id])
        return rows[0] if rows else None

    def alarm_history(self, alarm_id: int) -> list[dict]:
        rows = self._rows(f"SELECT {', '.join(HISTORY_KEYS)} FROM alarm_history WHERE alarm_id = ? ORDER BY id", (alarm_id,))
        return [dict(zip(HISTORY_KEYS, row)) for row in rows]

    def last_history_id(self) -> int:
        """Where the history ends now (0: empty): the live events start following it there."""
        return self._rows("SELECT coalesce(max(id), 0) FROM alarm_history")[0][0]

    def alarm_changes(self, after_id: int, also: Iterable[int] = (), limit: int = 1000) -> list[tuple[int, int, str]]:
        """(history id, alarm id, action) of the history rows after ``after_id`` and of the ids in
        ``also`` (rows a reader skipped because they were not committed yet), oldest first."""
        also = list(also)
        extra = f" OR id IN ({','.join('?' * len(also))})" if also else ""
        return [tuple(r) for r in self._rows(f"SELECT id, alarm_id, action FROM alarm_history WHERE id > ?{extra}"
                                              f" ORDER BY id LIMIT {int(limit)}", (after_id, *also))]

    def _state(self, alarm_id: int, action: str, allowed: Iterable[str]) -> str:
        rows = self._rows("SELECT state FROM alarms WHERE id = ?", (alarm_id,))
        if not rows or rows[0][0] not in allowed:
            raise HandlingError("alarm", alarm_id, action, rows[0][0] if rows else None)
        self._execute("INSERT INTO alarm_status (alarm_id) VALUES (?) ON CONFLICT DO NOTHING", (alarm_id,))
        return rows[0][0]

    def acknowledge(self, alarm_id: int, actor: str, t_ms: int, note: str = "") -> dict:
        """Someone is on it: stops escalation. Only a raised alarm (409 for the API otherwise)."""
        with self._write():
            self._state(alarm_id, "acknowledge", ("raised",))
            self._execute("UPDATE alarms SET state = 'acknowledged' WHERE id = ?", (alarm_id,))
            self._execute("UPDATE alarm_status SET acked_by = ?, acked_ms = ? WHERE alarm_id = ?", (actor, t_ms, alarm_id))
            self._history(alarm_id, t_ms, actor, "acknowledged", note)
        return self.alarm(alarm_id)

    def assign_alarm(self, alarm_id: int, assignee: str, actor: str, t_ms: int, note: str = "") -> dict:
        with self._write():
            self._state(alarm_id, "assign", ("raised", "acknowledged", "cleared"))
            self._execute("UPDATE alarm_status SET assignee = ? WHERE alarm_id = ?", (assignee, alarm_id))
            self._history(alarm_id, t_ms, actor, "assigned", f"to {assignee}" + (f": {note}" if note else ""))
        return self.alarm(alarm_id)

    def comment_alarm(self, alarm_id: int, actor: str, t_ms: int, text: str) -> dict:
        with self._write():
            self._state(alarm_id, "comment on", ("raised", "acknowledged", "cleared", "closed"))
            self._history(alarm_id, t_ms, actor, "comment", text)
        return self.alarm(alarm_id)

    def close_alarm(self, alarm_id: int, actor: str, t_ms: int, note: str = "") -> dict:
        """Closed for good (a manager's decision); an alarm still open is cleared by it too."""
        with self._write():
            was = self._state(alarm_id, "close", ("raised", "acknowledged", "cleared"))
            self._execute("UPDATE alarms SET state = 'closed', cleared_ms = coalesce(cleared_ms, ?) WHERE id = ?",
                          (t_ms, alarm_id))
            self._execute("UPDATE alarm_status SET closed_by = ?, closed_ms = ?, calm_since_ms = NULL WHERE alarm_id = ?",
                          (actor, t_ms, alarm_id))
            self._history(alarm_id, t_ms, actor, "closed", note if was == "cleared" else f"while {was}" + (f": {note}" if note else ""))
        return self.alarm(alarm_id)

    def escalate(self, ack_within_ms: dict[str, int], max_level: int, t_ms: int) -> list[dict]:
        """Raise the contact level of each raised (unacknowledged, not suppressed) alarm left for
        its severity's time since it was raised or last escalated; return those escalated."""
        done = []
        with self._write():
            for alarm_id, severity, raised_ms, level, since in self._rows(
                    "SELECT a.id, a.severity, a.raised_ms, coalesce(s.level, 0), s.escalated_ms FROM alarms a"
                    " LEFT JOIN alarm_status s ON s.alarm_id = a.id"
                    " WHERE a.state = 'raised' AND coalesce(s.suppressed, 0) = 0 AND coalesce(s.level, 0) < ?", (max_level,)):
                limit = ack_within_ms.get(severity)
                if limit is None or t_ms - (since if since is not None else raised_ms) < limit:
                    continue
                self._execute("INSERT INTO alarm_status (alarm_id) VALUES (?) ON CONFLICT DO NOTHING", (alarm_id,))
                self._execute("UPDATE alarm_status SET level = ?, escalated_ms = ? WHERE alarm_id = ?", (level + 1, t_ms, alarm_id))
                self._history(alarm_id, t_ms, "system", "escalated",
                              f"not acknowledged within {limit / 60_000:g} min: contact level {level + 1}", level + 1)
                done.append({"id": alarm_id, "severity": severity, "level": level + 1})
        return done

    def calm_flapping(self, window_ms: int, t_ms: int) -> list[int]:
        """Clear the flapping alarms whose condition has stayed away for ``window_ms``; their ids."""
        with self._write():
            rows = self._rows("SELECT a.id, s.calm_since_ms FROM alarms a JOIN alarm_status s ON s.alarm_id = a.id"
                              " WHERE a.state IN ('raised','acknowledged') AND s.flapping = 1 AND s.calm_since_ms <= ?",
                              (t_ms - window_ms,))
            for alarm_id, since in rows:
                self._execute("UPDATE alarms SET state = 'cleared', cleared_ms = ? WHERE id = ?", (since, alarm_id))
                self._execute("UPDATE alarm_status SET calm_since_ms = NULL WHERE alarm_id = ?", (alarm_id,))
                self._history(alarm_id, t_ms, "system", "cleared", f"steady for {window_ms / 60_000:g} min after flapping")
        return [alarm_id for alarm_id, _ in rows]

    # --- notification outbox ----------------------------------------------------------------------
    def route_history(self, route: Callable[[dict, dict], list[tuple[str, str, str]]], t_ms: int,
                      cursor: str = "notify", batch: int = 500) -> int:
        """Turn history rows after the cursor into outbox rows, in one transaction with the cursor's
        move (a crash before commit routes them again; the outbox's key makes that harmless).
        ``route(history_row, alarm_row)`` gives (channel, address, payload) triples. Returns rows queued."""
        queued = 0
        with self._write():
            found = self._rows("SELECT last_id FROM notify_cursor WHERE name = ?", (cursor,))
            last = found[0][0] if found else 0
            rows = [dict(zip(HISTORY_KEYS, r)) for r in self._rows(
                f"SELECT {', '.join(HISTORY_KEYS)} FROM alarm_history WHERE id > ? ORDER BY id LIMIT {int(batch)}", (last,))]
            alarms = {a["id"]: a for a in self._alarms_by_id({h["alarm_id"] for h in rows})}
            for h in rows:
                for channel, address, payload in route(h, alarms.get(h["alarm_id"], {})):
                    queued += self._execute(
                        "INSERT INTO notify_outbox (history_id, channel, address, payload, created_ms, next_ms)"
                        " VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING", (h["id"], channel, address, payload, t_ms, t_ms)).rowcount
            if rows:
                self._execute("INSERT INTO notify_cursor (name, last_id) VALUES (?, ?)"
                              " ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id", (cursor, rows[-1]["id"]))
        return queued

    def _alarms_by_id(self, ids: set[int]) -> list[dict]:
        ids_ = sorted(ids)
        return [a for i in range(0, len(ids_), 500) for a in self.alarm_rows(ids=ids_[i:i + 500])]

    def outbox(self, due_at: int | None = None, pending: bool | None = None, limit: int = 100,
               subjects: list[str] | None = None) -> list[dict]:
        """Outbox rows, oldest first: ``due_at``: unsent and due by then; ``pending``: unsent or sent;
        ``subjects``: only notifications of alarms on these stations or gateways (a region admin's)."""
        where, params = [], []
        if due_at is not None:
            where, params = ["sent_ms IS NULL AND next_ms <= ?"], [due_at]
        elif pending is not None:
            where = ["sent_ms IS NULL" if pending else "sent_ms IS NOT NULL"]
        if subjects is not None:
            where.append("history_id IN (SELECT h.id FROM alarm_history h JOIN alarms a ON a.id = h.alarm_id"
                         f" WHERE a.station IN ({', '.join('?' * len(subjects)) or 'NULL'}))")
            params += subjects
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._rows(f"SELECT {', '.join(OUTBOX_KEYS)} FROM notify_outbox{clause} ORDER BY next_ms, id"
                          f" LIMIT {int(limit)}", tuple(params))
        return [dict(zip(OUTBOX_KEYS, row)) for row in rows]

    def outbox_backlog(self) -> tuple[int, int]:
        """(deliveries not made yet, of which have failed at least once): the metrics' gauges."""
        (waiting, failing), = self._rows("SELECT count(*), count(*) FILTER (WHERE attempts > 0) FROM notify_outbox"
                                         " WHERE sent_ms IS NULL")
        return waiting, failing

    def outbox_sent(self, outbox_id: int, t_ms: int) -> None:
        with self._write():
            self._execute("UPDATE notify_outbox SET sent_ms = ?, attempts = attempts + 1, last_error = '' WHERE id = ?",
                          (t_ms, outbox_id))

    def outbox_hold(self, outbox_id: int, until_ms: int, note: str) -> None:
        """Move a notification's send time on without counting an attempt (quiet hours)."""
        with self._write():
            self._execute("UPDATE notify_outbox SET next_ms = ?, last_error = ? WHERE id = ?", (until_ms, note[:500], outbox_id))

    def outbox_failed(self, outbox_id: int, next_ms: int, error: str) -> None:
        with self._write():
            self._execute("UPDATE notify_outbox SET attempts = attempts + 1, next_ms = ?, last_error = ? WHERE id = ?",
                          (next_ms, error[:500], outbox_id))
