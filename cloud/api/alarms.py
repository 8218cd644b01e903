"""Alarm endpoints: list and filter (region, rule, severity, state, time raised), one alarm and
its history; acknowledge (one or many), assign, comment (operators and admins), close (admins: the
manager's decision, one or many); who may be assigned and the due time a work order would get;
the notification outbox (admins: a region admin, their regions' notifications).

Every answer is within the user's regions: an alarm outside them is 404, as if it did not exist.
A step the alarm's state does not allow (acknowledging a cleared alarm) is 409. Refusals a console
shows carry a catalogue code (cloud/api/errors.py): an unknown assignee, one of the wrong role or
one whose regions do not hold the station are three different messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request

from watertel.cloud.alarms.lifecycle import Severity
from watertel.cloud.api.deps import (MAX_ROW_ID, Admin, AncestryDep, AncestryMap, Principal, Reader, StoreDep, UsersDep,
                                     WorkOrdersDep, Writer)
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.alarms import (AlarmHistoryPublic, AlarmPublic, AlarmState, AssigneePublic, Assign, Bulk,
                                               BulkOutcome, BulkRefused, Comment, DispatchPublic, Note, OutboxPublic)
from watertel.cloud.store import SqlStore
from watertel.cloud.store.handling import HandlingError
from watertel.cloud.users import Role, UserEntry

router = APIRouter(prefix="/api", tags=["alarms"], responses=refusals(401, 403))


def now_ms() -> int:
    return int(time.time() * 1000)


MAX_MS = 10**14  # year 5138
STEPPERS = frozenset({Role.OPERATOR, Role.CREW, Role.ADMIN})  # who may be made responsible for an alarm


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


def covers(user: UserEntry, ancestry: AncestryMap, station: str) -> bool:
    """Whether the user's regions hold the station (no regions: every station)."""
    return not user.regions or not set(user.regions).isdisjoint(ancestry.get(station) or ())


def check_assignee(users: dict[str, UserEntry], ancestry: AncestryMap, name: str, station: str,
                   roles: frozenset[Role]) -> None:
    """The assignee must be a user of one of ``roles`` whose regions hold the station (422, coded)."""
    user = users.get(name)
    names = sorted(r.value for r in roles)
    wanted = " or ".join(names)
    if user is None:
        raise Problem(422, "assignee.unknown", f"there is no user {name!r}: choose a user of role {wanted}", name=name, roles=names)
    if user.role not in roles:
        raise Problem(422, "assignee.role", f"{name!r} is a {user.role.value} user: only a user of role {wanted} can be assigned this",
                      name=name, role=user.role.value, roles=names)
    if not covers(user, ancestry, station):
        raise Problem(422, "assignee.region", f"{name!r} does not cover the region of station {station}",
                      name=name, station=station)


def candidates(store: SqlStore, users: dict[str, UserEntry], ancestry: AncestryMap, station: str,
               roles: frozenset[Role]) -> list[AssigneePublic]:
    """Users of ``roles`` whose regions hold the station, least busy first."""
    busy: dict[str, int] = {}
    for order in store.work_orders(states=["assigned", "accepted"]):
        busy[order["assignee"]] = busy.get(order["assignee"], 0) + 1
    found = [AssigneePublic(username=u.username, role=u.role.value, regions=u.regions, open_orders=busy.get(u.username, 0))
             for u in users.values() if u.role in roles and covers(u, ancestry, station)]
    return sorted(found, key=lambda a: (a.open_orders, a.username))


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
                types: Annotated[list[str] | None, Query(alias="type", description="the rule (alarm type)")] = None,
                raised_from: Annotated[int | None, Query(ge=0, le=MAX_MS, description="Unix ms, inclusive")] = None,
                raised_to: Annotated[int | None, Query(ge=0, le=MAX_MS, description="Unix ms, exclusive")] = None,
                region: str | None = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[AlarmPublic]:
    """Alarms newest first: open ones (raised or acknowledged) unless ``open_only=false`` or a
    ``state`` is given (the board asks for raised, acknowledged and cleared: an alarm stays there
    until a manager closes it); filters by state, severity, station, rule (``type``), region (any
    level) and time raised, repeatable."""
    states = [s.value for s in state] if state else (("raised", "acknowledged") if open_only else None)
    stations = station
    if region is not None or user.regions:  # the stations in scope, so the database applies the limit
        scoped = [s for s, above in ancestry.items() if user.sees(above) and (region is None or region in above)]
        stations = scoped if station is None else [s for s in station if s in set(scoped)]
    rows = store.alarm_rows(states=states, severities=[s.value for s in severity] if severity else None,
                            stations=stations, types=types, raised_from=raised_from, raised_to=raised_to, limit=limit)
    return [AlarmPublic.model_validate(a) for a in rows]


@router.get("/alarms/{alarm_id}", responses=refusals(404))
def get_alarm(alarm_id: int, user: Reader, store: StoreDep, ancestry: AncestryDep) -> AlarmPublic:
    return AlarmPublic.model_validate(scoped_alarm(store, ancestry, user, alarm_id))


@router.get("/alarms/{alarm_id}/history", responses=refusals(404))
def history(alarm_id: int, user: Reader, store: StoreDep, ancestry: AncestryDep) -> list[AlarmHistoryPublic]:
    """Every state change, assignment, comment, escalation and work-order step, oldest first."""
    scoped_alarm(store, ancestry, user, alarm_id)
    return [AlarmHistoryPublic.model_validate(h) for h in store.alarm_history(alarm_id)]


@router.get("/alarms/{alarm_id}/dispatch", responses=refusals(404))
def dispatch(alarm_id: int, user: Writer, store: StoreDep, users: UsersDep, ancestry: AncestryDep,
             cfg: WorkOrdersDep) -> DispatchPublic:
    """Who may take this alarm's work order (crews covering the station) or the alarm itself
    (operators and admins covering it), and the due time a work order made now would get."""
    alarm = scoped_alarm(store, ancestry, user, alarm_id)
    station, t = alarm["station"], now_ms()
    return DispatchPublic(alarm_id=alarm_id, station=station, due_hours=cfg.due_hours_for(alarm), due_ms=cfg.due_ms(alarm, t),
                          crews=candidates(store, users, ancestry, station, frozenset({Role.CREW})),
                          operators=candidates(store, users, ancestry, station, frozenset({Role.OPERATOR, Role.ADMIN})))


def bulk(ids: list[int], user: Principal, store: SqlStore, ancestry: AncestryMap,
         do: Callable[[int], dict]) -> BulkOutcome:
    """``do`` for each alarm in scope; those refused are listed with the answer their own route gives."""
    done, refused = [], []
    for alarm_id in dict.fromkeys(ids):
        try:
            scoped_alarm(store, ancestry, user, alarm_id)
            done.append(AlarmPublic.model_validate(do(alarm_id)))
        except (Problem, HandlingError) as err:
            why = handling_error(err) if isinstance(err, HandlingError) else err
            refused.append(BulkRefused(id=alarm_id, status=why.status_code, detail=str(why.detail), code=why.code,
                                       params=why.params))
    return BulkOutcome(done=done, refused=refused)


@router.post("/alarms/ack", responses=refusals(400))
def acknowledge_many(body: Bulk, user: Writer, request: Request, store: StoreDep, ancestry: AncestryDep) -> BulkOutcome:
    """Acknowledge several raised alarms at once (the board's bulk acknowledge): each as its own
    route would; the others are listed as refused, with why."""
    request.state.audit_summary = f"acknowledge alarms {', '.join(map(str, body.ids[:50]))}"[:500]
    t = now_ms()
    return bulk(body.ids, user, store, ancestry, lambda i: store.acknowledge(i, user.username, t, body.note))


@router.post("/alarms/close", responses=refusals(400))
def close_many(body: Bulk, user: Admin, request: Request, store: StoreDep, ancestry: AncestryDep) -> BulkOutcome:
    """Close several alarms at once (admins: e.g. the cleared ones after a storm)."""
    request.state.audit_summary = f"close alarms {', '.join(map(str, body.ids[:50]))}"[:500]
    t = now_ms()
    return bulk(body.ids, user, store, ancestry, lambda i: store.close_alarm(i, user.username, t, body.note))


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
    check_assignee(users, ancestry, body.assignee, alarm["station"], STEPPERS)
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
def notifications(user: Admin, store: StoreDep, ancestry: AncestryDep, pending: bool | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[OutboxPublic]:
    """The notification outbox: ``pending=true`` for deliveries not made yet, with attempts
    and the last error (an unreachable webhook or mail server shows here); an admin scoped to
    regions sees the notifications of their regions' alarms only."""
    subjects = [s for s, above in ancestry.items() if user.sees(above)] if user.regions else None
    return [OutboxPublic.model_validate(row) for row in store.outbox(pending=pending, limit=limit, subjects=subjects)]
