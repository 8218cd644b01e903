"""Alarms with their handling, their history, the notification outbox; the bodies that handle them."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from watertel.cloud.alarms.lifecycle import Severity


class AlarmState(str, Enum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"
    CLOSED = "closed"


class AlarmPublic(BaseModel):
    """One alarm as the store keeps it (cloud/store/handling.py ``ALARM_KEYS``), with its handling."""

    id: int
    station: str = Field(description="a station id, or a gateway id for gateway alarms")
    point: str = Field(description='the point, or "*" for the whole station or gateway')
    type: str
    severity: Severity
    state: AlarmState
    message: str
    raised_ms: int
    cleared_ms: int | None
    acked_by: str | None
    acked_ms: int | None
    assignee: str | None
    closed_by: str | None
    closed_ms: int | None
    level: int = Field(description="escalation level (0: not escalated)")
    escalated_ms: int | None
    flapping: int = Field(description="1 while the alarm flaps (raised and cleared again and again), else 0")
    calm_since_ms: int | None
    suppressed: int = Field(description="1 if raised in a maintenance window (kept, never notified or escalated), else 0")
    message_code: str = Field("", description="the message as data: a code of cloud/alarms/messages.py, rendered by the"
                                              " console's catalogue (msg.<code>); '' for older alarms (show message)")
    message_params: dict[str, Any] = Field(default_factory=dict, description="the values the message code shows")


class AlarmHistoryPublic(BaseModel):
    """One step in an alarm's life: state changes, assignments, comments, escalations, work orders."""

    id: int
    alarm_id: int
    t_ms: int
    actor: str
    action: str
    note: str
    level: int


class OutboxPublic(BaseModel):
    """One notification delivery (its payload left out): pending while ``sent_ms`` is null."""

    id: int
    history_id: int
    channel: str
    address: str
    created_ms: int
    attempts: int
    next_ms: int
    sent_ms: int | None
    last_error: str


class Note(BaseModel):
    note: str = Field("", max_length=2000)


class Assign(BaseModel):
    assignee: str = Field(max_length=128)
    note: str = Field("", max_length=2000)


class Comment(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
