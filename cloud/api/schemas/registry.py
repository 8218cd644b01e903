"""The station registry as the API shows it, and the gateways with their key ids (never a key)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, computed_field

from watertel.cloud.gateways import NAME
from watertel.cloud.permits import Permit
from watertel.cloud.registry import Station


class RegionPublic(BaseModel):
    id: str
    name: str
    level: str = Field(description="province, city or county")
    parent: str | None


class StationPublic(Station):
    """A station as in the registry file, with the permit its meter counts towards (null: none),
    its region path and its interval in ms (both ignored when sent back in a PUT)."""

    region_path: str
    permit: Permit | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def interval_ms(self) -> int:
        return Station.interval_ms.fget(self)  # type: ignore[attr-defined]


class RegistryPublic(BaseModel):
    regions: list[RegionPublic]
    permits: list[Permit]
    stations: list[StationPublic]


class KeyPublic(BaseModel):
    key_id: str
    state: Literal["current", "previous", "expired", "revoked", "retired"]
    valid_until: str | None = Field(description="ISO 8601 with offset, for previous and expired keys")


class GatewayPublic(BaseModel):
    """A gateway with its stations, its SM2 signing key ids and SM4 payload key ids and their states."""

    id: str
    stations: list[str]
    keys: list[KeyPublic]
    payload_keys: list[KeyPublic]


PEM = Field(min_length=1, max_length=4096)


class GatewayRegister(BaseModel):
    id: str = Field(pattern=NAME, max_length=64)
    stations: list[str] = Field(min_length=1)
    key_id: str = Field(pattern=NAME, max_length=64)
    public_key_pem: str = PEM


class KeyRotate(BaseModel):
    key_id: str = Field(pattern=NAME, max_length=64)
    public_key_pem: str = PEM
    old_valid_until: AwareDatetime | None = None  # the old key's envelopes made before this still count
    revoke_old: bool = False  # a compromised key: refused at once, whenever its envelopes were made


class KeyRevoke(BaseModel):
    key_id: str = Field(pattern=NAME, max_length=64)
