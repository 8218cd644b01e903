"""Alarm endpoints: list and filter, one alarm and its history; acknowledge, assign, comment
(operators and admins), close (admins: the manager's decision); the notification outbox (admins).

Every answer is within the user's regions: an alarm outside them is 404, as if it did not exist.
A step the alarm's state does not allow (acknowledging a cleared alarm) is 409.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request

from watertel.cloud.alarms.lifecycle import Severity
from watertel.cloud.api.deps import (MAX_ROW_ID, Admin, AncestryDep, AncestryMap, Principal, Reader, StoreDep, UsersDep,
                                     Writer)
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.alarms import AlarmHistoryPublic, AlarmPublic, AlarmState, Assign, Comment, Note, OutboxPublic
from watertel.cloud.store import SqlStore
from watertel.cloud.store.handling import HandlingError
from watertel.cloud.users import Role, UserEntry

router = APIRouter(prefix="/api", tags=["alarms"], responses=refusals(401, 403))


def now_ms() -> int:
    return int(time.time() * 1000)


def handling_error(err: HandlingError) -> Problem:
    what = err.what.replace(" ", "_")  # alarm | work_order
    if err.missing:
        return Problem(404, f"{what}.unknown", str(err), id=err.id)
    state = {"state" if what == "alarm" else "order_state": err.state}  # their states are named apart (i18n.js)
    return Problem(409, f"{what}.state", str(err), id=err.id, action=err.action, **state)


def scoped_alarm(store: SqlStore, ancestry: AncestryMap, user: Principal, alarm_id: int) -> dict:
    """The alarm if the user sees it, else 404; an id past a 64-bit row id (which the database
    refuses to bind) is just as unknown."""
    alarm = store.alarm(alarm_id) if 0 < alarm_id <= MAX_ROW_ID else None
    if alarm is None or not user.sees(ancestry.get(alarm["station"])):
        raise Problem(404, "alarm.unknown", f"no alarm {alarm_id}", id=alarm_id)
    return alarm


def check_assignee(users: dict[str, UserEntry], ancestry: AncestryMap, name: str, station: str,
                   roles: frozenset[Role]) -> None:
    """The assignee must be a user of one of ``roles`` whose regions hold the station (422)."""
    user = users.get(name)
    if user is None or user.role not in roles:
        wanted = sorted(r.value for r in roles)
        raise Problem(422, "assignee.role", f"assignee {name!r} is not a user of role {' or '.join(wanted)}",
                      name=name, roles=wanted)
    if user.regions and set(user.regions).isdisjoint(ancestry.get(station) or ()):
        raise Problem(422, "assignee.region", f"assignee {name!r} does not cover the region of station {station}",
                      name=name, station=station)


def step(call: Callable[[], dict]) -> AlarmPublic:
    """The alarm after a handling step of the store, or 404/409 as the store refused it."""
    try:
        return AlarmPublic.model_validate(call())
    except HandlingError as err:
        raise handling_error(err) from err


@router.get("/alarms")
def list_alarms(user: Reader, store: StoreDep, ancestry: AncestryDep, open_only: bool = True,
                state: Annotated[list[AlarmState] | None, Query()] = None,
                severity: Annotated[list[Severity] | None, Query()] = None,
                station: Annotated[list[str] | None, Query()] = None,
                region: str | None = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[AlarmPublic]:
    """Alarms newest first: open ones (raised or acknowledged) unless ``open_only=false`` or a
    ``state`` is given; filters by state, severity, station and region (any level), repeatable."""
    states = [s.value for s in state] if state else (("raised", "acknowledged") if open_only else None)
    rows = store.alarm_rows(states=states, severities=[s.value for s in severity] if severity else None,
                            stations=station, limit=None if region or user.regions else limit)
    rows = [a for a in rows if user.sees(ancestry.get(a["station"]))
            and (region is None or region in (ancestry.get(a["station"]) or ()))]
    return [AlarmPublic.model_validate(a) for a in rows[:limit]]


@router.get("/alarms/{alarm_id}", responses=refusals(404))
def get_alarm(alarm_id: int, user: Reader, store: StoreDep, ancestry: AncestryDep) -> AlarmPublic:
    return AlarmPublic.model_validate(scoped_alarm(store, ancestry, user, alarm_id))


@router.get("/alarms/{alarm_id}/history", responses=refusals(404))
def history(alarm_id: int, user: Reader, store: StoreDep, ancestry: AncestryDep) -> list[AlarmHistoryPublic]:
    """Every state change, assignment, comment, escalation and work-order step, oldest first."""
    scoped_alarm(store, ancestry, user, alarm_id)
    return [AlarmHistoryPublic.model_validate(h) for h in store.alarm_history(alarm_id)]


@router.post("/alarms/{alarm_id}/ack", responses=refusals(400, 404, 409))
def acknowledge(alarm_id: int, user: Writer, request: Request, store: StoreDep, ancestry: AncestryDep,
                body: Note | None = None) -> AlarmPublic:
    """Someone is on it: escalation stops. Only a raised alarm."""
    request.state.audit_summary = f"acknowledge alarm {alarm_id}"
    scoped_alarm(store, ancestry, user, alarm_id)
    return step(lambda: store.acknowledge(alarm_id, user.username, now_ms(), body.note if body else ""))


@router.post("/alarms/{alarm_id}/assign", responses=refusals(400, 404, 409, 422))
def assign(alarm_id: int, body: Assign, user: Writer, request: Request, store: StoreDep, users: UsersDep,
           ancestry: AncestryDep) -> AlarmPublic:
    """Make an operator or crew user (whose regions hold the station) responsible for it."""
    request.state.audit_summary = f"assign alarm {alarm_id} to {body.assignee}"
    alarm = scoped_alarm(store, ancestry, user, alarm_id)
    check_assignee(users, ancestry, body.assignee, alarm["station"], frozenset({Role.OPERATOR, Role.CREW, Role.ADMIN}))
    return step(lambda: store.assign_alarm(alarm_id, body.assignee, user.username, now_ms(), body.note))


@router.post("/alarms/{alarm_id}/comment", responses=refusals(400, 404))
def comment(alarm_id: int, body: Comment, user: Writer, request: Request, store: StoreDep,
            ancestry: AncestryDep) -> AlarmPublic:
    request.state.audit_summary = f"comment on alarm {alarm_id}"
    scoped_alarm(store, ancestry, user, alarm_id)
    return step(lambda: store.comment_alarm(alarm_id, user.username, now_ms(), body.text))


@router.post("/alarms/{alarm_id}/close", responses=refusals(400, 404, 409))
def close(alarm_id: int, user: Admin, request: Request, store: StoreDep, ancestry: AncestryDep,
          body: Note | None = None) -> AlarmPublic:
    """Close for good (admins, the managers): a cleared alarm, or one no rule clears by itself."""
    request.state.audit_summary = f"close alarm {alarm_id}"
    scoped_alarm(store, ancestry, user, alarm_id)
    return step(lambda: store.close_alarm(alarm_id, user.username, now_ms(), body.note if body else ""))


@router.get("/notifications")
def notifications(user: Admin, store: StoreDep, pending: bool | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[OutboxPublic]:
    """The notification outbox: ``pending=true`` for deliveries not made yet, with attempts
    and the last error (an unreachable webhook or mail server shows here)."""
    return [OutboxPublic.model_validate(row) for row in store.outbox(pending=pending, limit=limit)]
