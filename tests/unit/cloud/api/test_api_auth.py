"""Authentication, roles, regions, CSRF and the login rate limit, over real HTTP: a real uvicorn
serving the app on a free loopback port, a real SQLite store, and urllib as the client.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/api/test_api_auth.py."""

from __future__ import annotations

import pytest


def test_user_config_roles_regions_and_hashes_are_checked_on_load(tmp_path, hashes):
    from watertel.cloud.config import load_cloud_config
    from watertel.config import ConfigError

    (tmp_path / "registry.yaml").write_text(
        "provinces:\n  - id: zj\n    name: 浙江\n    cities:\n      - id: zj-hz\n        name: 杭州\n"
        "        counties:\n          - {id: zj-hz-xh, name: 西湖}\nstations: []\n")

    def load(users: str, registry: bool = True):
        (tmp_path / "cloud.yaml").write_text("data_dir: d\n" + ("registry_file: registry.yaml\n" if registry else "")
                                             + "api:\n  users:\n" + users)
        return load_cloud_config(tmp_path / "cloud.yaml")

    cfg = load(f"    - {{username: a, password_hash: '{hashes['argon2']}', role: operator, regions: [zj-hz]}}\n"
               f"    - {{username: b, password_hash: '{hashes['scrypt']}'}}\n")
    assert [(u.role.value, u.regions) for u in cfg.api.users] == [("operator", ["zj-hz"]), ("viewer", [])]
    with pytest.raises(ConfigError, match="'zj-nb' is not a region in registry.yaml"):
        load(f"    - {{username: a, password_hash: '{hashes['argon2']}', regions: [zj-nb]}}\n")
    with pytest.raises(ConfigError, match="regions: needs registry_file"):
        load(f"    - {{username: a, password_hash: '{hashes['argon2']}', regions: [zj-hz]}}\n", registry=False)
    with pytest.raises(ConfigError, match="role"):
        load(f"    - {{username: a, password_hash: '{hashes['argon2']}', role: root}}\n")
    with pytest.raises(ConfigError, match="not a password hash"):
        load("    - {username: a, password_hash: 'hunter2'}\n")
