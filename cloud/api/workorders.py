"""Work order endpoints: list (a crew user sees their own), create from an alarm and assign
(operators, admins), accept and report back (the assigned crew user), close (admins).

Due times follow the response targets (``lifecycle.work_orders``): 72 h for a station that stopped
reporting, 12 h for a serious fault, 4 h for an ordinary one. ``overdue=true`` lists those past due
and not reported yet. Regions scope everything, as for alarms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request

from watertel.cloud.api.alarms import check_assignee, handling_error, now_ms, scoped_alarm
from watertel.cloud.api.deps import (MAX_ROW_ID, Admin, AncestryDep, AncestryMap, Crew, Principal, Reader, StoreDep,
                                     UsersDep, WorkOrdersDep, Writer)
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.alarms import Note
from watertel.cloud.api.schemas.workorders import (OrderState, WorkOrderAssign, WorkOrderCreate, WorkOrderListed,
                                                   WorkOrderPublic, WorkOrderReport)
from watertel.cloud.store import SqlStore
from watertel.cloud.store.handling import HandlingError
from watertel.cloud.users import Role

CREW_ONLY = frozenset({Role.CREW})
router = APIRouter(prefix="/api/workorders", tags=["work orders"], responses=refusals(401, 403))


def visible(user: Principal, order: dict | None, ancestry: AncestryMap) -> bool:
    """In the user's regions, and for a crew user, assigned to them."""
    return order is not None and user.sees(ancestry.get(order["station"])) and \
        (user.role != Role.CREW or order["assignee"] == user.username)


def scoped(store: SqlStore, ancestry: AncestryMap, user: Principal, order_id: int) -> dict:
    order = store.work_order(order_id) if 0 < order_id <= MAX_ROW_ID else None  # the database binds 64 bits
    if not visible(user, order, ancestry):
        raise Problem(404, "work_order.unknown", f"no work order {order_id}", id=order_id)
    return order


def step(call: Callable[[], dict]) -> WorkOrderPublic:
    """The work order after a step of the store, or 404/409 as the store refused it."""
    try:
        return WorkOrderPublic.model_validate(call())
    except HandlingError as err:
        raise handling_error(err) from err


@router.get("")
def list_orders(user: Reader, store: StoreDep, ancestry: AncestryDep,
                state: Annotated[list[OrderState] | None, Query()] = None,
                overdue: bool = False, mine: bool = False) -> list[WorkOrderListed]:
    """By due time; crew users see only their own; ``mine``: assigned to me; ``overdue``: past
    due and not reported yet."""
    rows = store.work_orders(states=[s.value for s in state] if state else None,
                             assignees=[user.username] if mine or user.role == Role.CREW else None,
                             overdue_at=now_ms() if overdue else None)
    t = now_ms()
    return [WorkOrderListed.model_validate({**o, "overdue": o["due_ms"] < t and o["state"] not in ("reported", "closed")})
            for o in rows if visible(user, o, ancestry)]


@router.get("/{order_id}", responses=refusals(404))
def get_order(order_id: int, user: Reader, store: StoreDep, ancestry: AncestryDep) -> WorkOrderPublic:
    return WorkOrderPublic.model_validate(scoped(store, ancestry, user, order_id))


@router.post("", status_code=201, responses=refusals(400, 404, 409, 422))
def create(body: WorkOrderCreate, user: Writer, request: Request, store: StoreDep, users: UsersDep,
           ancestry: AncestryDep, cfg: WorkOrdersDep) -> WorkOrderPublic:
    """A work order for an alarm (one open per alarm), due by the response targets."""
    request.state.audit_summary = f"work order for alarm {body.alarm_id}"
    alarm = scoped_alarm(store, ancestry, user, body.alarm_id)
    if body.assignee:
        check_assignee(users, ancestry, body.assignee, alarm["station"], CREW_ONLY)
    t = now_ms()
    return step(lambda: store.create_work_order(body.alarm_id, user.username, t, cfg.due_ms(alarm, t),
                                                body.title, body.assignee))


@router.post("/{order_id}/assign", responses=refusals(400, 404, 409, 422))
def assign(order_id: int, body: WorkOrderAssign, user: Writer, request: Request, store: StoreDep, users: UsersDep,
           ancestry: AncestryDep) -> WorkOrderPublic:
    request.state.audit_summary = f"assign work order {order_id} to {body.assignee}"
    order = scoped(store, ancestry, user, order_id)
    check_assignee(users, ancestry, body.assignee, order["station"], CREW_ONLY)
    return step(lambda: store.assign_work_order(order_id, body.assignee, user.username, now_ms()))


@router.post("/{order_id}/accept", responses=refusals(404, 409))
def accept(order_id: int, user: Crew, request: Request, store: StoreDep, ancestry: AncestryDep) -> WorkOrderPublic:
    """The assigned crew user takes it on."""
    request.state.audit_summary = f"accept work order {order_id}"
    scoped(store, ancestry, user, order_id)
    return step(lambda: store.accept_work_order(order_id, user.username, now_ms()))


@router.post("/{order_id}/report", responses=refusals(400, 404, 409))
def report(order_id: int, body: WorkOrderReport, user: Crew, request: Request, store: StoreDep,
           ancestry: AncestryDep) -> WorkOrderPublic:
    """The assigned crew user reports back what was done."""
    request.state.audit_summary = f"report on work order {order_id}"
    scoped(store, ancestry, user, order_id)
    return step(lambda: store.report_work_order(order_id, user.username, now_ms(), body.notes))


@router.post("/{order_id}/close", responses=refusals(400, 404, 409))
def close(order_id: int, user: Admin, request: Request, store: StoreDep, ancestry: AncestryDep,
          body: Note | None = None) -> WorkOrderPublic:
    request.state.audit_summary = f"close work order {order_id}"
    scoped(store, ancestry, user, order_id)
    return step(lambda: store.close_work_order(order_id, user.username, now_ms(), body.note if body else ""))
