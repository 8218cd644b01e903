"""What people and timers do with alarms, in the store: acknowledge, assign, comment, close,
escalate, calm a flapping alarm; work orders; the notification outbox.

A part of ``SqlStore`` (tables in schema.py, ``LIFECYCLE_TABLES``): every change is one write
transaction that also appends the alarm's history, so the history is the full account and the
notifier can follow it (``route_history``). Lifecycle::

    raised ──ack──> acknowledged ──(condition ends)──> cleared ──close──> closed
      └───────────(condition ends)──> cleared            (close also ends an alarm no rule clears)

Work orders::

    open ──assign──> assigned ──accept──> accepted ──report──> reported ──close──> closed
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
ORDER_KEYS = ("id", "alarm_id", "station", "title", "state", "created_ms", "created_by", "assignee", "due_ms",
              "accepted_ms", "reported_ms", "report", "closed_ms", "closed_by", "overdue_ms")
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
        """Append one row to an alarm's history (inside the caller's write transaction)."""
        self._execute("INSERT INTO alarm_history (alarm_id, t_ms, actor, action, note, level) VALUES (?,?,?,?,?,?)",
                      (alarm_id, t_ms, actor, action, note, level))

    # --- alarms ---------------------------------------------------------------------------------
    def alarm_rows(self, states: Iterable[str] | None = None, severities: Iterable[str] | None = None,
                   stations: Iterable[str] | None = None, ids: Iterable[int] | None = None,
                   limit: int | None = None) -> list[dict]:
        """Alarms with their handling, newest first; each filter (None: any) is a set of values."""
        where, params = _where([("a.state", states), ("a.severity", severities), ("a.station", stations),
                                ("a.id", ids)])
        sql = ALARM_SELECT + where + " ORDER BY a.raised_ms DESC, a.id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [alarm_dict(row) for row in self._rows(sql, params)]

    def alarm(self, alarm_id: int) -> dict | None:
        rows = self.alarm_rows(ids=[alarm_id])
        return rows[0] if rows else None

    def alarm_history(self, alarm_id: int) -> list[dict]:
        rows = self._rows(f"SELECT {', '.join(HISTORY_KEYS)} FROM alarm_history WHERE alarm_id = ? ORDER BY id", (alarm_id,))
        return [dict(zip(HISTORY_KEYS, row)) for row in rows]

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

    # --- work orders ----------------------------------------------------------------------------
    def create_work_order(self, alarm_id: int, actor: str, t_ms: int, due_ms: int, title: str = "",
                          assignee: str | None = None) -> dict:
        """A work order for an alarm (one unclosed per alarm): ``assigned`` when given a crew."""
        with self._write():
            alarm = self._rows("SELECT station, type, message, state FROM alarms WHERE id = ?", (alarm_id,))
            if not alarm:
                raise HandlingError("alarm", alarm_id, "make a work order for", None)
            station, type_, message, _ = alarm[0]
            if self._rows("SELECT id FROM work_orders WHERE alarm_id = ? AND state != 'closed'", (alarm_id,)):
                raise HandlingError("alarm", alarm_id, "make a second work order for", "already in a work order")
            (order_id,), = self._rows(
                "INSERT INTO work_orders (alarm_id, station, title, state, created_ms, created_by, assignee, due_ms)"
                " VALUES (?,?,?,?,?,?,?,?) RETURNING id",
                (alarm_id, station, title or f"{type_} {station}: {message}", "assigned" if assignee else "open", t_ms,
                 actor, assignee, due_ms))
            self._history(alarm_id, t_ms, actor, "work_order.created",
                          f"work order {order_id}" + (f" for {assignee}" if assignee else ""))
        return self.work_order(order_id)

    def work_orders(self, states: Iterable[str] | None = None, assignees: Iterable[str] | None = None,
                    ids: Iterable[int] | None = None, overdue_at: int | None = None) -> list[dict]:
        """Work orders by due time; ``overdue_at``: only those due before it and not reported yet."""
        where, params = _where([("state", states), ("assignee", assignees), ("id", ids)])
        if overdue_at is not None:
            where += (" AND " if where else " WHERE ") + "due_ms < ? AND state NOT IN ('reported', 'closed')"
            params += (overdue_at,)
        rows = self._rows(f"SELECT {', '.join(ORDER_KEYS)} FROM work_orders{where} ORDER BY due_ms, id", params)
        return [dict(zip(ORDER_KEYS, row)) for row in rows]

    def work_order(self, order_id: int) -> dict | None:
        rows = self.work_orders(ids=[order_id])
        return rows[0] if rows else None

    def _order_step(self, order_id: int, action: str, allowed: Iterable[str], actor: str, t_ms: int, sets: str,
                    params: tuple, note: str = "") -> dict:
        with self._write():
            rows = self._rows("SELECT state, alarm_id FROM work_orders WHERE id = ?", (order_id,))
            if not rows or rows[0][0] not in allowed:
                raise HandlingError("work order", order_id, action, rows[0][0] if rows else None)
            self._execute(f"UPDATE work_orders SET {sets} WHERE id = ?", (*params, order_id))
            self._history(rows[0][1], t_ms, actor, f"work_order.{action}", f"work order {order_id}" + (f": {note}" if note else ""))
        return self.work_order(order_id)

    def assign_work_order(self, order_id: int, assignee: str, actor: str, t_ms: int) -> dict:
        return self._order_step(order_id, "assigned", ("open", "assigned", "accepted"), actor, t_ms,
                                "state = 'assigned', assignee = ?, accepted_ms = NULL", (assignee,), f"to {assignee}")

    def accept_work_order(self, order_id: int, actor: str, t_ms: int) -> dict:
        return self._order_step(order_id, "accepted", ("assigned",), actor, t_ms, "state = 'accepted', accepted_ms = ?", (t_ms,))

    def report_work_order(self, order_id: int, actor: str, t_ms: int, notes: str) -> dict:
        return self._order_step(order_id, "reported", ("accepted",), actor, t_ms,
                                "state = 'reported', reported_ms = ?, report = ?", (t_ms, notes), notes)

    def close_work_order(self, order_id: int, actor: str, t_ms: int, note: str = "") -> dict:
        return self._order_step(order_id, "closed", ("open", "assigned", "accepted", "reported"), actor, t_ms,
                                "state = 'closed', closed_ms = ?, closed_by = ?", (t_ms, actor), note)

    def mark_overdue(self, t_ms: int) -> list[dict]:
        """Work orders past due and not reported, noted once each in their alarm's history."""
        with self._write():
            rows = self._rows("SELECT id, alarm_id, assignee, due_ms FROM work_orders WHERE due_ms < ? AND overdue_ms IS NULL"
                              " AND state NOT IN ('reported', 'closed')", (t_ms,))
            for order_id, alarm_id, assignee, due_ms in rows:
                self._execute("UPDATE work_orders SET overdue_ms = ? WHERE id = ?", (t_ms, order_id))
                self._history(alarm_id, t_ms, "system", "work_order.overdue",
                              f"work order {order_id} ({assignee or 'unassigned'}) was due {(t_ms - due_ms) // 60_000} min ago", 1)
        return [{"id": r[0], "alarm_id": r[1]} for r in rows]

    def open_alarms_without_work_order(self, type_: str) -> list[dict]:
        """Open, not suppressed alarms of this type with no unclosed work order (automatic orders)."""
        rows = self._rows(ALARM_SELECT + " WHERE a.type = ? AND a.state IN ('raised','acknowledged')"
                          " AND coalesce(s.suppressed, 0) = 0 AND NOT EXISTS (SELECT 1 FROM work_orders w"
                          " WHERE w.alarm_id = a.id AND w.state != 'closed') ORDER BY a.id", (type_,))
        return [alarm_dict(row) for row in rows]

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

    def outbox(self, due_at: int | None = None, pending: bool | None = None, limit: int = 100) -> list[dict]:
        """Outbox rows, oldest first: ``due_at``: unsent and due by then; ``pending``: unsent or sent."""
        where, params = "", ()
        if due_at is not None:
            where, params = " WHERE sent_ms IS NULL AND next_ms <= ?", (due_at,)
        elif pending is not None:
            where = " WHERE sent_ms IS NULL" if pending else " WHERE sent_ms IS NOT NULL"
        rows = self._rows(f"SELECT {', '.join(OUTBOX_KEYS)} FROM notify_outbox{where} ORDER BY next_ms, id LIMIT {int(limit)}",
                          params)
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
