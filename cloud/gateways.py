"""The registered gateways (the ``gateways:`` section of the cloud config, or the gateways file,
gateways_file.py): each one's signing keys, SM4 payload keys and the stations it may report for.
Ingest verifies envelopes with them (cloud/ingest/gateway_keys.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from watertel.config import PayloadKeyConfig, Strict, resolve
from watertel.ids import ID_PATTERN

NAME = ID_PATTERN  # gateway and key ids


class PreviousKey(Strict):
    """A key being rotated out: still accepted for envelopes created before ``valid_until``."""

    key_id: str = Field(pattern=NAME)
    public_key: Path
    valid_until: dt.datetime  # ISO 8601 with offset, e.g. 2026-12-01T00:00:00+08:00

    @field_validator("valid_until")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-12-01T00:00:00+08:00")
        return value


class PreviousPayloadKey(PayloadKeyConfig):
    """An SM4 payload key being rotated out: still decrypts envelopes created before ``valid_until``."""

    valid_until: dt.datetime  # ISO 8601 with offset

    _aware = field_validator("valid_until")(PreviousKey._aware.__func__)


class GatewayEntry(Strict):
    """A registered gateway: its signing key and the stations it may report for.

    Rotation: the new key becomes ``key_id``/``public_key`` and the old one moves to
    ``previous_keys`` with the end of the overlap. Revocation: its id goes to ``revoked_keys``
    and envelopes signed with it are refused as ``key_revoked`` whenever they were made.
    SM4 payload keys rotate the same way: ``payload_key`` is the current one, the old one moves to
    ``previous_payload_keys`` (refused as ``payload_key_expired`` after ``valid_until``), and a
    key id in ``retired_payload_keys`` is refused as ``payload_key_retired`` whenever used.
    """

    id: str = Field(pattern=NAME)
    key_id: str = Field(pattern=NAME)
    public_key: Path  # SubjectPublicKeyInfo PEM from `watertel keys new`
    stations: list[str] = Field(min_length=1)
    previous_keys: list[PreviousKey] = []
    revoked_keys: list[str] = []

    @model_validator(mode="after")
    def _consistent(self) -> GatewayEntry:
        ids = [self.key_id, *(k.key_id for k in self.previous_keys)]
        if len(set(ids)) != len(ids):
            raise ValueError("a key id may appear only once among key_id and previous_keys")
        if set(ids) & set(self.revoked_keys):
            raise ValueError(f"revoked keys cannot also be valid: {sorted(set(ids) & set(self.revoked_keys))}")
        return self
    payload_key: PayloadKeyConfig | None = None  # set: this gateway's payloads must be SM4-GCM encrypted
    previous_payload_keys: list[PreviousPayloadKey] = []
    retired_payload_keys: list[str] = []

    @model_validator(mode="after")
    def _payload_keys_consistent(self) -> GatewayEntry:
        if self.previous_payload_keys and not self.payload_key:
            raise ValueError("previous_payload_keys needs a current payload_key (the one the gateway encrypts with now)")
        ids = [k.key_id for k in ([self.payload_key] if self.payload_key else []) + self.previous_payload_keys]
        if len(set(ids)) != len(ids):
            raise ValueError("an SM4 key id may appear only once among payload_key and previous_payload_keys")
        if set(ids) & set(self.retired_payload_keys):
            raise ValueError(f"retired payload keys cannot also be valid: {sorted(set(ids) & set(self.retired_payload_keys))}")
        return self

    def resolved(self, base: Path) -> GatewayEntry:
        """Key files relative to ``base`` (the folder of the file that names them)."""
        return self.model_copy(update={
            "public_key": resolve(base, self.public_key),
            "previous_keys": [k.model_copy(update={"public_key": resolve(base, k.public_key)}) for k in self.previous_keys],
            "payload_key": self.payload_key and self.payload_key.resolved(base),
            "previous_payload_keys": [k.resolved(base) for k in self.previous_payload_keys],
        })
