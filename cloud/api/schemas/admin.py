"""Users and notification routes as admins see and change them (never a hash, a secret or a URL)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from watertel.cloud.alarms.lifecycle import Severity
from watertel.cloud.users import NAME, Role

PASSWORD = Field(max_length=1024, description="at least 10 characters, not the user name, not a common password"
                                              " (cloud/passwords.py; refused as password.*)")
RoleName = Literal["admin", "operator", "crew", "viewer"]


# --- users ---------------------------------------------------------------------------------------
class UserBase(BaseModel):
    username: str
    role: Role = Role.VIEWER
    regions: list[str] = Field([], description="region ids (province, city or county); empty: every region")


class UserCreate(UserBase):
    username: str = Field(pattern=NAME, max_length=64)
    password: str = PASSWORD


class UserUpdate(BaseModel):
    role: Role | None = None
    regions: list[str] | None = None


class PasswordReset(BaseModel):
    password: str = PASSWORD
    current_password: str | None = Field(None, max_length=1024, description="your current password: needed to change"
                                                                            " your own")


class UserPublic(UserBase):
    """A user: name, role and regions (the password hash never leaves the server)."""


class PasswordResetPublic(UserPublic):
    sessions_ended: int = Field(description="the user's sessions ended by the reset (the caller's own is kept)")


class UsersPublic(BaseModel):
    editable: bool = Field(description="false: users are kept in the cloud config's api.users")
    users: list[UserPublic]


# --- notification routes and contacts -----------------------------------------------------------
class ContactPublic(BaseModel):
    """How a contact is reached: addresses and channel ids (webhook, robot), never a URL or secret."""

    id: str
    role: RoleName | None
    email: str | None
    phone: str | None
    webhook: str | None
    robot: str | None
    quiet_hours: str | None = Field(description="HH:MM-HH:MM local time, or null")


class RoutePublic(BaseModel):
    regions: list[str]
    severities: list[Severity]
    level: int = Field(description="the contact level it serves: 0 for a new alarm, 1, 2, … as it escalates")
    contacts: list[str]
    roles: list[RoleName]
    reaches: list[str] = Field(description="the contacts it reaches: named ones and those of its roles")
    quiet_hours: str | None


class ChannelsPublic(BaseModel):
    """The channel ids a contact may name, and whether e-mail and SMS are set up."""

    webhooks: list[str]
    robots: list[str]
    email: bool
    sms: bool


class NotificationsPublic(BaseModel):
    editable: bool = Field(description="false: kept inline in the cloud config, or an admin scoped to regions")
    problems: list[str] = Field(description="what is wrong with the file on disk (the last valid one is shown)")
    contacts: list[ContactPublic]
    routes: list[RoutePublic]
    channels: ChannelsPublic


# --- what the configuration enables --------------------------------------------------------------
class FeatureState(BaseModel):
    """One part of the console as the configuration has it: there at all, and changeable here."""

    enabled: bool = Field(description="the configuration has it (false: its pages say how to enable it)")
    editable: bool = Field(description="admins may change it through the API (false: writes answer 409 with ``code``)")
    setting: str = Field(description="the cloud.yaml key that enables it or makes it editable here")
    code: Literal["feature.off", "feature.read_only", "notifications.scope"] | None = Field(
        description="what a write would answer (cloud/api/errors.py); null when it is editable")


class FeaturesPublic(BaseModel):
    """The admin page's parts, so it can disable the forms of what the configuration leaves off."""

    users: FeatureState
    registry: FeatureState
    gateways: FeatureState
    notifications: FeatureState
