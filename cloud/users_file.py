"""The users file (``api.users_file:`` in the cloud config): the console's users kept apart from
the config, so admins can create, change and delete them through the API (cloud/api/admin.py).

Its format is the config's ``api.users`` list under the key ``users``::

    users:
      - {username: admin, password_hash: "$argon2id$v=19$m=65536,t=3,p=4$…", role: admin}
      - {username: hz-ops, password_hash: "$argon2id$…", role: operator, regions: [zj-hz]}

Only password hashes are stored (argon2id, `watertel cloud hash-password`). The API writes the
file atomically (temp file, fsync, rename, previous one kept as ``.bak``); comments are not kept.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import model_validator

from watertel.cloud.users import UserEntry
from watertel.config import ConfigError, Strict, load_model, validate


class UsersFile(Strict):
    users: list[UserEntry] = []

    @model_validator(mode="after")
    def _unique(self) -> UsersFile:
        names = [u.username for u in self.users]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"users: each username only once (twice: {twice})")
        return self


def load_users_file(path: Path) -> list[UserEntry]:
    """The users of the file; a missing file is an error (nobody could log in)."""
    if not path.exists():
        raise ConfigError(path, [f"{path}: does not exist (create it with a users: list, e.g. the api.users of the"
                                 " cloud config moved there)"])
    return load_model(path, UsersFile).users


def checked(path: Path, users: list[dict]) -> list[UserEntry]:
    """Validate users as the file would be (raises ConfigError naming the file)."""
    return validate(path, {"users": users}, None, UsersFile).users


def dump(users: list[UserEntry]) -> str:
    """The file's text: one user a mapping, default role and regions left out."""
    rows = [u.model_dump(mode="json", exclude_defaults=True) for u in users]
    return yaml.safe_dump({"users": rows}, allow_unicode=True, sort_keys=False, width=200)
