"""Issue 21, "Low": gateway id ``..`` wrote a key file outside gateway-keys/, and users.yaml was
rewritten 0644 by the API. Replayed against a real API (uvicorn on a free port, real users,
registry and gateways files, a real SQLite store), the process running under umask 022."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

from watertel.cloud.api.app import create_app
from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import ApiConfig
from watertel.cloud.store.sqlite import SqliteStore
from watertel.keys import write_key_pair

from tests.support.api import PASSWORD, bearer, serve, write_files

NEW_PASSWORD = "a much longer passphrase"


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def files(root) -> set:
    return {p.relative_to(root) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def api(tmp_path):
    old = os.umask(0o022)
    site = tmp_path / "site"
    site.mkdir()
    write_files(site, hash_password(PASSWORD))
    store = SqliteStore(site / "watertel.db")
    app = create_app(store, ApiConfig(users_file=site / "users.yaml"), registry_file=site / "registry.yaml",
                     gateways_file=site / "gateways.yaml")
    base, server, thread = serve(app)
    try:
        yield base, tmp_path, site
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()
        os.umask(old)


@pytest.mark.parametrize("gid, key_id", [("..", "k9"), ("gw-x", ".."), ("../../outside", "k9"), ("gw-x", "../../k9"),
                                         (".", "k9"), ("gw-x/..", "k9")])
def test_a_gateway_id_or_key_id_that_is_a_path_writes_nothing_anywhere(api, gid, key_id):
    base, root, site = api
    write_key_pair(root / "new-keys", "k9")
    pem = (root / "new-keys" / "k9.pub.pem").read_text()
    before = files(root)
    status, body, _ = bearer(base, "admin").call("POST", "/api/admin/gateways", {
        "id": gid, "key_id": key_id, "stations": ["ST-XH"], "public_key_pem": pem})
    assert status == 422, body
    assert files(root) == before  # no key file, here or outside gateway-keys/
    assert gid not in [g["id"] for g in yaml.safe_load((site / "gateways.yaml").read_text())["gateways"]]


def test_a_user_name_that_is_not_an_id_is_refused(api):
    base, _, site = api
    for name in ("..", ".hidden", "a\nb", "eve/../admin"):
        status, body, _ = bearer(base, "admin").call("POST", "/api/admin/users", {"username": name, "password": NEW_PASSWORD})
        assert status == 422, (name, body)
    assert all(u["username"] != ".." for u in yaml.safe_load((site / "users.yaml").read_text())["users"])


def test_what_the_api_writes_is_0600_under_umask_022(api):
    base, root, site = api
    assert mode(site / "users.yaml") == 0o644  # as the operator made it
    admin = bearer(base, "admin")
    status, body, _ = admin.call("POST", "/api/admin/users", {"username": "new-op", "password": NEW_PASSWORD,
                                                              "role": "operator"})
    assert status == 201, body
    assert mode(site / "users.yaml") == mode(site / "users.yaml.bak") == 0o600
    write_key_pair(root / "new-keys", "g1")
    status, body, _ = admin.call("POST", "/api/admin/gateways", {
        "id": "gw-new", "key_id": "g1", "stations": ["ST-BJ"], "public_key_pem": (root / "new-keys" / "g1.pub.pem").read_text()})
    assert status == 201, body
    assert mode(site / "gateways.yaml") == mode(site / "gateway-keys" / "gw-new" / "g1.pub.pem") == 0o600
    for name in ("watertel.db", "watertel.db-wal", "watertel.db-shm"):  # the audit entries were written
        assert mode(site / name) == 0o600, name
