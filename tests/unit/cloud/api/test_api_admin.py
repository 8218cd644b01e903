"""``/api/admin`` over real HTTP (uvicorn on a free port, a real SQLite store, real users, registry
and gateways files): users created, changed, reset and deleted by admins only, written atomically,
audited, with sessions ended; gateway keys registered, rotated and revoked into the gateways file
that a worker's ``GatewaysWatcher`` applies; notification routes read without secrets; refusals for
every other role, for a missing CSRF header and for an admin scoped to other regions.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/api/test_api_admin.py."""

from __future__ import annotations

import pytest

from watertel.cloud.gateways_file import load_gateways_file
from watertel.cloud.ingest.gateway_keys import GatewayKeys, GatewaysWatcher

from tests.support.api import write_files


def test_a_broken_gateways_file_is_not_applied(store, tmp_path, hashes, caplog):
    write_files(tmp_path, hashes["argon2"])
    registry = GatewayKeys(load_gateways_file(tmp_path / "gateways.yaml"))
    watcher = GatewaysWatcher(registry, tmp_path / "gateways.yaml")
    assert watcher.check() is False  # the same keys
    text = (tmp_path / "gateways.yaml").read_text()
    (tmp_path / "gateways.yaml").write_text(text.replace("keys/k1.pub.pem", "keys/missing.pub.pem") + "\n")
    assert watcher.check() is False
    assert "gateway keys not reloaded" in caplog.text and "missing.pub.pem" in caplog.text
    assert registry.key("gw-hz", "k1") is not None  # the keys in use stay
    (tmp_path / "gateways.yaml").write_text(text.replace("key_id: k1", "key_id: k1b"))  # fixed: applied
    assert watcher.check() is True and registry.key("gw-hz", "k1") is None and registry.key("gw-hz", "k1b") is not None


def test_the_cloud_config_reads_both_files_and_takes_one_list_of_each(tmp_path, hashes):
    from watertel.cloud.config import load_cloud_config
    from watertel.config import ConfigError

    write_files(tmp_path, hashes["argon2"])
    (tmp_path / "cloud.yaml").write_text("data_dir: data\nregistry_file: registry.yaml\ngateways_file: gateways.yaml\n"
                                         "api: {users_file: users.yaml}\n")
    cfg = load_cloud_config(tmp_path / "cloud.yaml")
    assert [g.id for g in cfg.gateways] == ["gw-hz", "gw-nb"] and cfg.gateways[0].public_key == tmp_path / "keys" / "k2.pub.pem"
    assert len(cfg.api.users) == 6 and cfg.api.users_file == tmp_path / "users.yaml"
    (tmp_path / "cloud.yaml").write_text("data_dir: data\ngateways_file: gateways.yaml\ngateways:\n"
                                         "  - {id: g, key_id: k, public_key: keys/k1.pub.pem, stations: [S]}\n")
    with pytest.raises(ConfigError, match="gateways and gateways_file: give one"):
        load_cloud_config(tmp_path / "cloud.yaml")
    (tmp_path / "gateways.yaml").write_text("gateways:\n  - {id: g, key_id: k, public_key: keys/nope.pem, stations: [S]}\n")
    (tmp_path / "cloud.yaml").write_text("data_dir: data\ngateways_file: gateways.yaml\n")
    with pytest.raises(ConfigError, match=r"gateways.yaml: gateways.0.public_key: cannot read .*nope.pem"):
        load_cloud_config(tmp_path / "cloud.yaml")
