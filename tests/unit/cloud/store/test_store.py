"""One store test suite, run against both back-ends: SQLite and a real PostgreSQL server.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/store/test_store.py."""

from __future__ import annotations


def test_the_postgres_password_comes_from_its_file_quoted_for_libpq(tmp_path):
    from watertel.cloud.config import load_cloud_config

    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db").write_text("s3cr'et\\x\n")
    (tmp_path / "cloud.yaml").write_text(
        "data_dir: d\nstore: {kind: postgres, dsn: 'host=db dbname=w', password_file: secrets/db}\n")
    cfg = load_cloud_config(tmp_path / "cloud.yaml")
    assert cfg.store.password_file == tmp_path / "secrets" / "db"
    assert cfg.store.connection() == "host=db dbname=w password='s3cr\\'et\\\\x'"
    assert "s3cr" not in repr(cfg), "the password is read when connecting, never kept in the config"
