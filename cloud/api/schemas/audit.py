"""The audit log: rows of the HMAC-SM3 chain (cloud/audit) and the chain's check."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AuditEntry(BaseModel):
    """One write through the API: who, from where, what, how it ended; chained to the row before."""

    id: int
    t_ms: int
    actor: str = Field(description='the username ("" when nobody was logged in)')
    role: str
    client: str = Field(description="the client's address as the server saw it")
    method: str
    path: str
    summary: str
    status: int = Field(description="the HTTP status of the answer")
    prev_hash: str
    hash: str


class AuditVerdict(BaseModel):
    ok: bool = Field(description="the chain holds from its first row")
    rows: int = Field(description="rows checked")
    bad_row: int | None = Field(description="the first row that does not fit (null: none)")
    reason: str
    last_checkpoint: str = Field("none", description="the last signed checkpoint the log matched (row and time)")
