"""The console's users (``api.users`` of the cloud config, or the users file, users_file.py): who
they are, their role and the regions they see."""

from __future__ import annotations

import re
from enum import Enum

from pydantic import Field, field_validator

from watertel.config import Strict
from watertel.ids import ID_PATTERN

NAME = ID_PATTERN  # usernames


class Role(str, Enum):
    """What a user may do: admins everything; operators read and write; crews and viewers read
    (crews will get their own work-order writes); the checks are in cloud/api/deps.py."""

    ADMIN = "admin"
    OPERATOR = "operator"
    CREW = "crew"
    VIEWER = "viewer"


PASSWORD_HASH = (r"\$argon2(id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
                 r"|scrypt\$[0-9]+\$[0-9a-f]{32}\$[0-9a-f]{64,}")  # argon2 now; scrypt from before still verifies


class UserEntry(Strict):
    username: str = Field(pattern=NAME)
    password_hash: str  # from `watertel cloud hash-password`; never a clear-text password
    role: Role = Role.VIEWER  # least privilege when not given (users configured before roles existed)
    regions: list[str] = []  # region ids from the registry (province, city or county); empty: all regions

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, value: str) -> str:
        if not re.fullmatch(PASSWORD_HASH, value):
            raise ValueError("not a password hash (paste what `watertel cloud hash-password` prints)")
        return value
