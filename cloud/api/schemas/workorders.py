"""Work orders (made from alarms, done by crews) and the bodies that move them along."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field

from watertel.cloud.alarms.lifecycle import Severity
from watertel.cloud.registry import Location

MAX_MS = 10**14  # year 5138


class OrderState(str, Enum):
    OPEN = "open"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    REPORTED = "reported"
    CLOSED = "closed"


class WorkOrderCreate(BaseModel):
    alarm_id: int
    assignee: str | None = Field(None, max_length=128)  # a crew user; none: assign later
    title: str = Field("", max_length=500)
    due_ms: int | None = Field(None, ge=0, le=MAX_MS,
                               description="when it must be done (Unix ms, in the future); none: by the rule's target")


class WorkOrderAssign(BaseModel):
    assignee: str = Field(max_length=128)


class WorkOrderReport(BaseModel):
    notes: str = Field(min_length=1, max_length=4000)


class WorkOrderPublic(BaseModel):
    """One work order as the store keeps it (cloud/store/work_orders.py ``ORDER_KEYS``)."""

    id: int
    alarm_id: int
    station: str
    title: str
    state: OrderState
    created_ms: int
    created_by: str
    assignee: str | None
    due_ms: int
    accepted_ms: int | None
    reported_ms: int | None
    report: str
    closed_ms: int | None
    closed_by: str | None
    overdue_ms: int | None = Field(description="when it was first found overdue (null: never)")
    photos: int = Field(0, description="photos the crew attached")


class WorkOrderListed(WorkOrderPublic):
    """A work order in a list, with whether it is past due and not reported yet, now."""

    overdue: bool


class WorkOrderView(WorkOrderListed):
    """A work order with what its crew and the operators' list need beside it: the station's name,
    place and coordinates (registry; null when it does not know them) and its alarm's severity,
    state and escalation level."""

    station_name: str
    region_path: str
    location: Location | None
    alarm_type: str
    severity: Severity
    alarm_state: str
    level: int = Field(description="the alarm's escalation level (0: not escalated)")


class PhotoPublic(BaseModel):
    """A photo kept with a work order (its bytes: ``url``)."""

    id: int
    order_id: int
    t_ms: int
    actor: str
    media_type: str
    size: int = Field(description="bytes")
    sm3: str = Field(description="SM3 hash of the bytes (hex)")
    url: str
