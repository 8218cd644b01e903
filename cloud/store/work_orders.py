"""Work orders, in the store: made from alarms (by people, or by the lifecycle's timer for a
stopped station), assigned to a crew, accepted, reported back with notes and photos, closed by a
manager; noted when overdue.

A part of ``SqlStore`` (tables: schema.py ``LIFECYCLE_TABLES``, ``FIELD_WORK_TABLES``). Every step
is one write transaction that also appends the alarm's history (``work_order.<step>``), so the
alarm's timeline, the notifier and the live events see it. The crew's steps (accept, photo,
report) and the manager's close take an idempotency key (idempotency.py): a phone that sends a
step again gets the first answer. Lifecycle::

    open ──assign──> assigned ──accept──> accepted ──report──> reported ──close──> closed
                        photos: while accepted or reported (one copy per content)
"""

from __future__ import annotations

from collections.abc import Iterable

from watertel.cloud.store.handling import ALARM_SELECT, AlarmHandling, HandlingError, _where, alarm_dict
from watertel.cloud.store.idempotency import Idempotency, Once

ORDER_KEYS = ("id", "alarm_id", "station", "title", "state", "created_ms", "created_by", "assignee", "due_ms",
              "accepted_ms", "reported_ms", "report", "closed_ms", "closed_by", "overdue_ms")
PHOTO_KEYS = ("id", "order_id", "t_ms", "actor", "media_type", "size", "sm3")
PHOTO_STATES = ("accepted", "reported")  # a crew adds photos while working on it, or just after reporting


class PhotoLimit(Exception):
    """A work order that holds as many photos as it may (the API answers 409)."""

    def __init__(self, order_id: int, limit: int) -> None:
        self.order_id, self.limit = order_id, limit
        super().__init__(f"work order {order_id} has {limit} photos, the most one may hold")


class WorkOrders(AlarmHandling, Idempotency):
    """Part of ``SqlStore``: work orders and their photos."""

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
                    ids: Iterable[int] | None = None, overdue_at: int | None = None,
                    alarm_ids: Iterable[int] | None = None) -> list[dict]:
        """Work orders by due time, each with its number of ``photos``; ``overdue_at``: only those
        due before it and not reported yet."""
        where, params = _where([("w.state", states), ("w.assignee", assignees), ("w.id", ids), ("w.alarm_id", alarm_ids)])
        if overdue_at is not None:
            where += (" AND " if where else " WHERE ") + "w.due_ms < ? AND w.state NOT IN ('reported', 'closed')"
            params += (overdue_at,)
        rows = self._rows(f"SELECT {', '.join('w.' + k for k in ORDER_KEYS)}, (SELECT count(*) FROM work_order_photos p"
                          f" WHERE p.order_id = w.id) FROM work_orders w{where} ORDER BY w.due_ms, w.id", params)
        return [dict(zip((*ORDER_KEYS, "photos"), row)) for row in rows]

    def work_order(self, order_id: int) -> dict | None:
        rows = self.work_orders(ids=[order_id])
        return rows[0] if rows else None

    def _order_step(self, order_id: int, action: str, allowed: Iterable[str], actor: str, t_ms: int, sets: str,
                    params: tuple, note: str = "", once: Once | None = None) -> dict:
        with self._write():
            if (first := self._claim(once, t_ms)) is not None:
                return first
            rows = self._rows("SELECT state, alarm_id FROM work_orders WHERE id = ?", (order_id,))
            if not rows or rows[0][0] not in allowed:
                raise HandlingError("work order", order_id, action, rows[0][0] if rows else None)
            self._execute(f"UPDATE work_orders SET {sets} WHERE id = ?", (*params, order_id))
            self._history(rows[0][1], t_ms, actor, f"work_order.{action}", f"work order {order_id}" + (f": {note}" if note else ""))
            return self._remember(once, 200, self.work_order(order_id))

    def assign_work_order(self, order_id: int, assignee: str, actor: str, t_ms: int) -> dict:
        return self._order_step(order_id, "assigned", ("open", "assigned", "accepted"), actor, t_ms,
                                "state = 'assigned', assignee = ?, accepted_ms = NULL", (assignee,), f"to {assignee}")

    def accept_work_order(self, order_id: int, actor: str, t_ms: int, once: Once | None = None) -> dict:
        return self._order_step(order_id, "accepted", ("assigned",), actor, t_ms, "state = 'accepted', accepted_ms = ?",
                                (t_ms,), once=once)

    def report_work_order(self, order_id: int, actor: str, t_ms: int, notes: str, once: Once | None = None) -> dict:
        return self._order_step(order_id, "reported", ("accepted",), actor, t_ms,
                                "state = 'reported', reported_ms = ?, report = ?", (t_ms, notes), notes, once)

    def close_work_order(self, order_id: int, actor: str, t_ms: int, note: str = "", once: Once | None = None) -> dict:
        return self._order_step(order_id, "closed", ("open", "assigned", "accepted", "reported"), actor, t_ms,
                                "state = 'closed', closed_ms = ?, closed_by = ?", (t_ms, actor), note, once)

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

    # --- photos ---------------------------------------------------------------------------------
    def add_photo(self, order_id: int, actor: str, t_ms: int, media_type: str, data: bytes, sm3: str,
                  per_order: int, once: Once | None = None) -> dict:
        """Keep a photo with a work order (checked by the caller: type, size, who); the same content
        twice is kept once (the first copy's row comes back). At most ``per_order`` per order
        (``PhotoLimit``); only while the order is accepted or reported."""
        with self._write():
            if (first := self._claim(once, t_ms)) is not None:
                return first
            rows = self._rows("SELECT state, alarm_id FROM work_orders WHERE id = ?", (order_id,))
            if not rows or rows[0][0] not in PHOTO_STATES:
                raise HandlingError("work order", order_id, "add a photo to", rows[0][0] if rows else None)
            same = self._photo_rows(" WHERE order_id = ? AND sm3 = ?", (order_id, sm3))
            if same:
                return self._remember(once, 201, same[0])
            (held,), = self._rows("SELECT count(*) FROM work_order_photos WHERE order_id = ?", (order_id,))
            if held >= per_order:
                raise PhotoLimit(order_id, per_order)
            (photo_id,), = self._rows(
                "INSERT INTO work_order_photos (order_id, t_ms, actor, media_type, size, sm3, data) VALUES (?,?,?,?,?,?,?)"
                " RETURNING id", (order_id, t_ms, actor, media_type, len(data), sm3, data))
            self._history(rows[0][1], t_ms, actor, "work_order.photo",
                          f"work order {order_id}: photo {photo_id} ({media_type}, {len(data)} bytes, SM3 {sm3[:16]}…)")
            return self._remember(once, 201, self._photo_rows(" WHERE id = ?", (photo_id,))[0])

    def _photo_rows(self, where: str, params: tuple) -> list[dict]:
        rows = self._rows(f"SELECT {', '.join(PHOTO_KEYS)} FROM work_order_photos{where} ORDER BY id", params)
        return [dict(zip(PHOTO_KEYS, row)) for row in rows]

    def photos(self, order_id: int) -> list[dict]:
        """A work order's photos (without their bytes), oldest first."""
        return self._photo_rows(" WHERE order_id = ?", (order_id,))

    def photo(self, photo_id: int) -> tuple[dict, bytes] | None:
        """A photo's row and bytes."""
        rows = self._rows(f"SELECT {', '.join(PHOTO_KEYS)}, data FROM work_order_photos WHERE id = ?", (photo_id,))
        return (dict(zip(PHOTO_KEYS, rows[0][:-1])), bytes(rows[0][-1])) if rows else None
