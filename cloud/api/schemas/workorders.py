"""Work orders (made from alarms, done by crews) and the bodies that move them along."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field


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


class WorkOrderAssign(BaseModel):
    assignee: str = Field(max_length=128)


class WorkOrderReport(BaseModel):
    notes: str = Field(min_length=1, max_length=4000)


class WorkOrderPublic(BaseModel):
    """One work order as the store keeps it (cloud/store/handling.py ``ORDER_KEYS``)."""

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


class WorkOrderListed(WorkOrderPublic):
    """A work order in a list, with whether it is past due and not reported yet, now."""

    overdue: bool
