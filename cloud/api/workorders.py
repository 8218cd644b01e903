"""Work order endpoints: list (overdue first; a crew user sees their own), create from an alarm and
assign (operators, admins), accept and report back (the assigned crew user), close (admins).
Photos: workorder_photos.py.

Due times follow the response targets (``lifecycle.work_orders``): 72 h for a station that stopped
reporting, 12 h for a serious fault, 4 h for an ordinary one, unless the operator sets another
(in the future). ``overdue=true`` lists those past due and not reported yet. Regions scope
everything, as for alarms. Each order comes with what its crew needs to get there (the station's
name and coordinates from the registry) and what the operators' list shows beside it (its alarm's
severity and escalation level).

The crew's steps and the close take an ``Idempotency-Key`` header: a phone on a weak signal that
sends a report again (it never got the answer) gets the first answer, with
``Idempotent-Replayed: true``, and nothing is done twice (cloud/store/idempotency.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from watertel.cloud.api.alarms import check_assignee, handling_error, now_ms, scoped_alarm
from watertel.cloud.api.deps import (MAX_ROW_ID, Admin, AncestryDep, AncestryMap, Crew, Principal, Reader, RegistryDep,
                                     StoreDep, UsersDep, WorkOrdersDep, Writer)
from watertel.cloud.api.event_sources import overdue
from watertel.cloud.api.errors import Problem
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.alarms import Note
from watertel.cloud.api.schemas.workorders import (OrderState, WorkOrderAssign, WorkOrderCreate, WorkOrderPublic,
                                                   WorkOrderReport, WorkOrderView)
from watertel.cloud.registry import Registry
from watertel.cloud.store import SqlStore
from watertel.cloud.store.handling import HandlingError
from watertel.cloud.store.idempotency import IdempotencyConflict, Once
from watertel.cloud.users import Role
from watertel.crypto import sm3

CREW_ONLY = frozenset({Role.CREW})
MAX_DUE_MS = 90 * 86_400_000  # a deadline further ahead than 90 days is a typo
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
    description="the client's name for this write: a repeat gets the first answer (Idempotent-Replayed: true)")]
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


def once(user: Principal, key: str | None, request: Request, body: object = None) -> Once | None:
    """The idempotency key of this request with what it asks (method, path, SM3 of the body)."""
    if key is None:
        return None
    digest = sm3(body.model_dump_json().encode()).hex() if body is not None else "-"  # type: ignore[attr-defined]
    return Once(user.username, key, f"{request.method} {request.url.path} sm3:{digest}")


def step(call: Callable[[], dict], response: Response | None = None, done: Once | None = None) -> WorkOrderPublic:
    """The work order after a step of the store, or 404/409/422 as the store refused it."""
    try:
        order = WorkOrderPublic.model_validate(call())
    except HandlingError as err:
        raise handling_error(err) from err
    except IdempotencyConflict as err:
        raise Problem(422, "idempotency.reuse", str(err), key=err.key) from err
    if response is not None and done is not None and done.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return order


def views(store: SqlStore, registry: Registry | None, orders: list[dict]) -> list[WorkOrderView]:
    """Orders with their station's registry facts and their alarm's severity and level."""
    stations = {s.id: s for s in registry.stations} if registry is not None else {}
    alarms = {a["id"]: a for a in store.alarm_rows(ids=sorted({o["alarm_id"] for o in orders}))} if orders else {}
    t = now_ms()
    out = []
    for o in orders:
        st, alarm = stations.get(o["station"]), alarms.get(o["alarm_id"], {})
        out.append(WorkOrderView.model_validate({
            **o, "overdue": overdue(o, t), "station_name": st.name if st else "",
            "region_path": " / ".join(registry.names[r] for r in reversed(registry.ancestry(st.region)))
            if st and registry else "", "location": st.location if st else None,
            "alarm_type": alarm.get("type", ""), "severity": alarm.get("severity", "blue"),
            "alarm_state": alarm.get("state", ""), "level": alarm.get("level", 0)}))
    return out


@router.get("")
def list_orders(user: Reader, store: StoreDep, ancestry: AncestryDep, registry: RegistryDep,
                state: Annotated[list[OrderState] | None, Query()] = None,
                overdue_only: Annotated[bool, Query(alias="overdue")] = False, mine: bool = False,
                alarm_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None) -> list[WorkOrderView]:
    """Overdue ones first, then by due time; crew users see only their own; ``mine``: assigned to
    me; ``overdue``: past due and not reported yet; ``alarm_id``: those of one alarm."""
    rows = store.work_orders(states=[s.value for s in state] if state else None,
                             assignees=[user.username] if mine or user.role == Role.CREW else None,
                             overdue_at=now_ms() if overdue_only else None,
                             alarm_ids=[alarm_id] if alarm_id is not None else None)
    shown = views(store, registry, [o for o in rows if visible(user, o, ancestry)])
    return sorted(shown, key=lambda o: (not o.overdue, o.state == "closed", o.due_ms, o.id))


@router.get("/{order_id}", responses=refusals(404))
def get_order(order_id: int, user: Reader, store: StoreDep, ancestry: AncestryDep, registry: RegistryDep) -> WorkOrderView:
    return views(store, registry, [scoped(store, ancestry, user, order_id)])[0]


@router.post("", status_code=201, responses=refusals(400, 404, 409, 422))
def create(body: WorkOrderCreate, user: Writer, request: Request, store: StoreDep, users: UsersDep,
           ancestry: AncestryDep, cfg: WorkOrdersDep) -> WorkOrderPublic:
    """A work order for an alarm (one open per alarm), due by the response targets or ``due_ms``."""
    request.state.audit_summary = f"work order for alarm {body.alarm_id}"
    alarm = scoped_alarm(store, ancestry, user, body.alarm_id)
    if body.assignee:
        check_assignee(users, ancestry, body.assignee, alarm["station"], CREW_ONLY)
    t = now_ms()
    if body.due_ms is not None and not t < body.due_ms <= t + MAX_DUE_MS:
        raise Problem(422, "work_order.due", f"due_ms must lie in the next {MAX_DUE_MS // 86_400_000} days"
                                            f" (got {body.due_ms}, now {t})", days=MAX_DUE_MS // 86_400_000)
    due = body.due_ms if body.due_ms is not None else cfg.due_ms(alarm, t)
    return step(lambda: store.create_work_order(body.alarm_id, user.username, t, due, body.title, body.assignee))


@router.post("/{order_id}/assign", responses=refusals(400, 404, 409, 422))
def assign(order_id: int, body: WorkOrderAssign, user: Writer, request: Request, store: StoreDep, users: UsersDep,
           ancestry: AncestryDep) -> WorkOrderPublic:
    request.state.audit_summary = f"assign work order {order_id} to {body.assignee}"
    order = scoped(store, ancestry, user, order_id)
    check_assignee(users, ancestry, body.assignee, order["station"], CREW_ONLY)
    return step(lambda: store.assign_work_order(order_id, body.assignee, user.username, now_ms()))


@router.post("/{order_id}/accept", responses=refusals(404, 409, 422))
def accept(order_id: int, user: Crew, request: Request, response: Response, store: StoreDep, ancestry: AncestryDep,
           idempotency_key: IdempotencyKey = None) -> WorkOrderPublic:
    """The assigned crew user takes it on."""
    request.state.audit_summary = f"accept work order {order_id}"
    scoped(store, ancestry, user, order_id)
    done = once(user, idempotency_key, request)
    return step(lambda: store.accept_work_order(order_id, user.username, now_ms(), done), response, done)


@router.post("/{order_id}/report", responses=refusals(400, 404, 409, 422))
def report(order_id: int, body: WorkOrderReport, user: Crew, request: Request, response: Response, store: StoreDep,
           ancestry: AncestryDep, idempotency_key: IdempotencyKey = None) -> WorkOrderPublic:
    """The assigned crew user reports back what was done (photos: before, or just after)."""
    request.state.audit_summary = f"report on work order {order_id}"
    scoped(store, ancestry, user, order_id)
    done = once(user, idempotency_key, request, body)
    return step(lambda: store.report_work_order(order_id, user.username, now_ms(), body.notes, done), response, done)


@router.post("/{order_id}/close", responses=refusals(400, 404, 409, 422))
def close(order_id: int, user: Admin, request: Request, response: Response, store: StoreDep, ancestry: AncestryDep,
          body: Note | None = None, idempotency_key: IdempotencyKey = None) -> WorkOrderPublic:
    request.state.audit_summary = f"close work order {order_id}"
    scoped(store, ancestry, user, order_id)
    done = once(user, idempotency_key, request, body)
    return step(lambda: store.close_work_order(order_id, user.username, now_ms(), body.note if body else "", done),
                response, done)
