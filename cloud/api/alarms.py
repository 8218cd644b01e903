"""Alarm endpoints: list and filter, one alarm and its history; acknowledge, assign, comment
(operators and admins), close (admins: the manager's decision); the notification outbox (admins).

Every answer is within the user's regions: an alarm outside them is 404, as if it did not exist.
A step the alarm's state does not allow (acknowledging a cleared alarm) is 409.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from watertel.cloud.alarms.lifecycle import Severity
from watertel.cloud.api.deps import MAX_ROW_ID, Admin, Principal, Reader, Writer
from watertel.cloud.users import Role, UserEntry
from watertel.cloud.store import SqlStore
from watertel.cloud.store.handling import HandlingError

Ancestry = Callable[[str], "list[str] | None"]


class AlarmState(str, Enum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"
    CLOSED = "closed"


class Note(BaseModel):
    note: str = Field("", max_length=2000)


class Assign(BaseModel):
    assignee: str = Field(max_length=128)
    note: str = Field("", max_length=2000)


class Comment(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


def handling_error(err: HandlingError) -> HTTPException:
    return HTTPException(404 if err.missing else 409, str(err))


def scoped_alarm(store: SqlStore, ancestry: Ancestry, user: Principal, alarm_id: int) -> dict:
    """The alarm if the user sees it, else 404; an id past a 64-bit row id (which the database
    refuses to bind) is just as unknown."""
    alarm = store.alarm(alarm_id) if 0 < alarm_id <= MAX_ROW_ID else None
    if alarm is None or not user.sees(ancestry(alarm["station"])):
        raise HTTPException(404, f"no alarm {alarm_id}")
    return alarm


def check_assignee(users: dict[str, UserEntry], ancestry: Ancestry, name: str, station: str,
                   roles: frozenset[Role]) -> None:
    """The assignee must be a user of one of ``roles`` whose regions hold the station (422)."""
    user = users.get(name)
    if user is None or user.role not in roles:
        raise HTTPException(422, f"assignee {name!r} is not a {' or '.join(sorted(r.value for r in roles))} user")
    if user.regions and set(user.regions).isdisjoint(ancestry(station) or ()):
        raise HTTPException(422, f"assignee {name!r} does not cover the region of station {station}")


def alarms_router(store: SqlStore, users: dict[str, UserEntry], ancestry: Ancestry,
                  clock: Callable[[], float] = time.time) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["alarms"])
    now = lambda: int(clock() * 1000)  # noqa: E731

    @router.get("/alarms")
    def list_alarms(user: Reader, open_only: bool = True,
                    state: Annotated[list[AlarmState] | None, Query()] = None,
                    severity: Annotated[list[Severity] | None, Query()] = None,
                    station: Annotated[list[str] | None, Query()] = None,
                    region: str | None = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict]:
        """Alarms newest first: open ones (raised or acknowledged) unless ``open_only=false`` or a
        ``state`` is given; filters by state, severity, station and region (any level), repeatable."""
        states = [s.value for s in state] if state else (("raised", "acknowledged") if open_only else None)
        rows = store.alarm_rows(states=states, severities=[s.value for s in severity] if severity else None,
                                stations=station, limit=None if region or user.regions else limit)
        rows = [a for a in rows if user.sees(ancestry(a["station"]))
                and (region is None or region in (ancestry(a["station"]) or ()))]
        return rows[:limit]

    @router.get("/alarms/{alarm_id}", responses={404: {}})
    def get_alarm(alarm_id: int, user: Reader) -> dict:
        return scoped_alarm(store, ancestry, user, alarm_id)

    @router.get("/alarms/{alarm_id}/history", responses={404: {}})
    def history(alarm_id: int, user: Reader) -> list[dict]:
        """Every state change, assignment, comment, escalation and work-order step, oldest first."""
        scoped_alarm(store, ancestry, user, alarm_id)
        return store.alarm_history(alarm_id)

    @router.post("/alarms/{alarm_id}/ack", responses={404: {}, 409: {}})
    def acknowledge(alarm_id: int, user: Writer, request: Request, body: Note | None = None) -> dict:
        """Someone is on it: escalation stops. Only a raised alarm."""
        request.state.audit_summary = f"acknowledge alarm {alarm_id}"
        scoped_alarm(store, ancestry, user, alarm_id)
        try:
            return store.acknowledge(alarm_id, user.username, now(), body.note if body else "")
        except HandlingError as err:
            raise handling_error(err) from err

    @router.post("/alarms/{alarm_id}/assign", responses={404: {}, 409: {}, 422: {}})
    def assign(alarm_id: int, body: Assign, user: Writer, request: Request) -> dict:
        """Make an operator or crew user (whose regions hold the station) responsible for it."""
        request.state.audit_summary = f"assign alarm {alarm_id} to {body.assignee}"
        alarm = scoped_alarm(store, ancestry, user, alarm_id)
        check_assignee(users, ancestry, body.assignee, alarm["station"],
                       frozenset({Role.OPERATOR, Role.CREW, Role.ADMIN}))
        try:
            return store.assign_alarm(alarm_id, body.assignee, user.username, now(), body.note)
        except HandlingError as err:
            raise handling_error(err) from err

    @router.post("/alarms/{alarm_id}/comment", responses={404: {}})
    def comment(alarm_id: int, body: Comment, user: Writer, request: Request) -> dict:
        request.state.audit_summary = f"comment on alarm {alarm_id}"
        scoped_alarm(store, ancestry, user, alarm_id)
        try:
            return store.comment_alarm(alarm_id, user.username, now(), body.text)
        except HandlingError as err:
            raise handling_error(err) from err

    @router.post("/alarms/{alarm_id}/close", responses={404: {}, 409: {}})
    def close(alarm_id: int, user: Admin, request: Request, body: Note | None = None) -> dict:
        """Close for good (admins, the managers): a cleared alarm, or one no rule clears by itself."""
        request.state.audit_summary = f"close alarm {alarm_id}"
        scoped_alarm(store, ancestry, user, alarm_id)
        try:
            return store.close_alarm(alarm_id, user.username, now(), body.note if body else "")
        except HandlingError as err:
            raise handling_error(err) from err

    @router.get("/notifications")
    def notifications(user: Admin, pending: bool | None = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
        """The notification outbox: ``pending=true`` for deliveries not made yet, with attempts
        and the last error (an unreachable webhook or mail server shows here)."""
        return [{k: v for k, v in row.items() if k != "payload"} for row in store.outbox(pending=pending, limit=limit)]

    return router
