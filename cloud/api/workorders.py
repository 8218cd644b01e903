"""Work order endpoints: list (a crew user sees their own), create from an alarm and assign
(operators, admins), accept and report back (the assigned crew user), close (admins).

Due times follow the response targets (``lifecycle.work_orders``): 72 h for a station that stopped
reporting, 12 h for a serious fault, 4 h for an ordinary one. ``overdue=true`` lists those past due
and not reported yet. Regions scope everything, as for alarms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from watertel.cloud.alarms.lifecycle import WorkOrdersConfig
from watertel.cloud.api.alarms import Ancestry, Note, check_assignee, handling_error, scoped_alarm
from watertel.cloud.api.deps import MAX_ROW_ID, Admin, Principal, Reader, Writer, require
from watertel.cloud.users import Role, UserEntry
from watertel.cloud.store import SqlStore
from watertel.cloud.store.handling import HandlingError

Crew = Annotated[Principal, require(Role.CREW)]
CREW_ONLY = frozenset({Role.CREW})


class OrderState(str, Enum):
    OPEN = "open"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    REPORTED = "reported"
    CLOSED = "closed"


class NewOrder(BaseModel):
    alarm_id: int
    assignee: str | None = Field(None, max_length=128)  # a crew user; none: assign later
    title: str = Field("", max_length=500)


class Assign(BaseModel):
    assignee: str = Field(max_length=128)


class Report(BaseModel):
    notes: str = Field(min_length=1, max_length=4000)


def workorders_router(store: SqlStore, users: dict[str, UserEntry], ancestry: Ancestry, cfg: WorkOrdersConfig,
                      clock: Callable[[], float] = time.time) -> APIRouter:
    router = APIRouter(prefix="/api/workorders", tags=["work orders"])
    now = lambda: int(clock() * 1000)  # noqa: E731

    def visible(user: Principal, order: dict | None) -> bool:
        return order is not None and user.sees(ancestry(order["station"])) and \
            (user.role != Role.CREW or order["assignee"] == user.username)

    def scoped(user: Principal, order_id: int) -> dict:
        order = store.work_order(order_id) if 0 < order_id <= MAX_ROW_ID else None  # the database binds 64 bits
        if not visible(user, order):
            raise HTTPException(404, f"no work order {order_id}")
        return order

    def step(call: Callable[[], dict]) -> dict:
        try:
            return call()
        except HandlingError as err:
            raise handling_error(err) from err

    @router.get("")
    def list_orders(user: Reader, state: Annotated[list[OrderState] | None, Query()] = None,
                    overdue: bool = False, mine: bool = False) -> list[dict]:
        """By due time; crew users see only their own; ``mine``: assigned to me; ``overdue``: past
        due and not reported yet."""
        rows = store.work_orders(states=[s.value for s in state] if state else None,
                                 assignees=[user.username] if mine or user.role == Role.CREW else None,
                                 overdue_at=now() if overdue else None)
        t = now()
        return [{**o, "overdue": o["due_ms"] < t and o["state"] not in ("reported", "closed")}
                for o in rows if visible(user, o)]

    @router.get("/{order_id}", responses={404: {}})
    def get_order(order_id: int, user: Reader) -> dict:
        return scoped(user, order_id)

    @router.post("", status_code=201, responses={404: {}, 409: {}, 422: {}})
    def create(body: NewOrder, user: Writer, request: Request) -> dict:
        """A work order for an alarm (one open per alarm), due by the response targets."""
        request.state.audit_summary = f"work order for alarm {body.alarm_id}"
        alarm = scoped_alarm(store, ancestry, user, body.alarm_id)
        if body.assignee:
            check_assignee(users, ancestry, body.assignee, alarm["station"], CREW_ONLY)
        t = now()
        return step(lambda: store.create_work_order(body.alarm_id, user.username, t, cfg.due_ms(alarm, t),
                                                    body.title, body.assignee))

    @router.post("/{order_id}/assign", responses={404: {}, 409: {}, 422: {}})
    def assign(order_id: int, body: Assign, user: Writer, request: Request) -> dict:
        request.state.audit_summary = f"assign work order {order_id} to {body.assignee}"
        order = scoped(user, order_id)
        check_assignee(users, ancestry, body.assignee, order["station"], CREW_ONLY)
        return step(lambda: store.assign_work_order(order_id, body.assignee, user.username, now()))

    @router.post("/{order_id}/accept", responses={404: {}, 409: {}})
    def accept(order_id: int, user: Crew, request: Request) -> dict:
        """The assigned crew user takes it on."""
        request.state.audit_summary = f"accept work order {order_id}"
        scoped(user, order_id)
        return step(lambda: store.accept_work_order(order_id, user.username, now()))

    @router.post("/{order_id}/report", responses={404: {}, 409: {}})
    def report(order_id: int, body: Report, user: Crew, request: Request) -> dict:
        """The assigned crew user reports back what was done."""
        request.state.audit_summary = f"report on work order {order_id}"
        scoped(user, order_id)
        return step(lambda: store.report_work_order(order_id, user.username, now(), body.notes))

    @router.post("/{order_id}/close", responses={404: {}, 409: {}})
    def close(order_id: int, user: Admin, request: Request, body: Note | None = None) -> dict:
        request.state.audit_summary = f"close work order {order_id}"
        scoped(user, order_id)
        return step(lambda: store.close_work_order(order_id, user.username, now(), body.note if body else ""))

    return router
