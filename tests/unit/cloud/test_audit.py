"""The audit log: a row for every write through the API, chained so `watertel audit verify`
finds an edited, deleted or inserted row, on both store back-ends; and the store migration that
adds it (schema version 2 → 3). Here also: the keyed chain's legacy prefix (rows from before the
key), rows recomputed without the key, and checkpoint lines that do not verify.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/test_audit.py."""

from __future__ import annotations

import json

import pytest

from watertel.cloud import audit
from watertel.cloud.audit.chain import entry_of
from watertel.cloud.audit.checkpoints import Checkpoint, CheckpointError, parse
from watertel.cloud.audit.config import AuditConfig
from watertel.cloud.audit.trail import AuditTrail
from watertel.cloud.audit.verify import UNKEYED
from watertel.cloud.config import load_cloud_config
from watertel.cloud.store.sqlite import SqliteStore
from watertel.config import ConfigError
from watertel.crypto import SM2PrivateKey

from tests.support.audit import add


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    entries = add(store, 4)
    forged = audit.Entry(**{**entries[1].public(), "summary": "nothing happened", "hash": ""})
    store.db.execute("UPDATE audit SET summary = ?, hash = ? WHERE id = 2", (forged.summary, forged.expected_hash()))
    assert audit.verify(store) == audit.Verdict(2, 3, "its link to the previous row is wrong: rows were removed or put in")
    store.close()


# --- the keyed chain, its legacy prefix and the checkpoints (cloud/audit) ------------------------
def trail_on(tmp_path, store, **settings):
    return AuditTrail.open(store, AuditConfig(**settings), tmp_path / "data", None)


def rechain(store, first: int, key: bytes | None = None) -> None:
    """Recompute the hashes from row ``first`` on (plain SM3 without ``key``), as an intruder would."""
    rows = [entry_of(r) for batch in store.audit_batches() for r in batch]
    prev = rows[first - 2].hash if first > 1 else audit.GENESIS
    for e in rows[first - 1:]:
        fixed = audit.Entry(**{**e.public(), "prev_hash": prev})
        prev = fixed.expected_hash(key)
        store.db.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", (fixed.prev_hash, prev, e.id))


def test_rows_from_before_the_key_stay_a_plain_sm3_prefix_and_keep_verifying(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    add(store, 3)  # written before the key existed
    trail = trail_on(tmp_path, store)
    assert trail.legacy == 3 and (tmp_path / "data" / "audit.key").stat().st_mode & 0o777 == 0o600
    trail.checkpoint()
    for i in range(2):
        trail.append(actor="op", role="operator", client="10.0.0.7", method="POST", path=f"/api/x/{i}", summary="", status=200)
    entries = audit.recent(store)
    assert entries[0].hash == entries[0].expected_hash(trail.key) != entries[0].expected_hash()  # keyed
    verdict = trail.verify()
    assert (verdict.ok, verdict.entries, verdict.legacy, verdict.trusted.seq) == (True, 5, 3, 3)
    again = trail_on(tmp_path, store)  # a second start learns the prefix from the last checkpoint
    assert again.legacy == 3 and again.key == trail.key
    store.close()


def test_a_legacy_row_rewritten_breaks_the_first_keyed_rows_link(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    add(store, 3)
    trail = trail_on(tmp_path, store)
    trail.checkpoint()
    trail.append(actor="op", role="operator", client="", method="POST", path="/api/y", summary="", status=200)
    store.db.execute("UPDATE audit SET actor = 'nobody' WHERE id = 2")
    rechain(store, 2)  # rows 2 and 3 are plain SM3 anyway: recomputable; row 4 is keyed: it cannot be
    verdict = trail.verify()  # plain rows can be recomputed, but the start's checkpoint signed row 3's hash
    assert verdict.broken_id == 3 and verdict.problem.startswith("its hash differs from the checkpoint row 3 signed ")
    unchecked = audit.verify(store, trail.key, legacy=3)  # without the checkpoint, the keyed row 4 shows it
    assert (unchecked.broken_id, unchecked.problem) == (4, UNKEYED)
    store.close()


def test_a_keyed_row_recomputed_without_the_key_is_named_as_such(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    trail = trail_on(tmp_path, store, checkpoint_every_entries=50)
    trail.checkpoint()
    for i in range(4):
        trail.append(actor="op", role="operator", client="", method="POST", path=f"/api/{i}", summary="", status=200)
    store.db.execute("UPDATE audit SET client = '203.0.113.9' WHERE id = 2")
    rechain(store, 2)
    assert (trail.verify().broken_id, trail.verify().problem) == (2, UNKEYED)
    rechain(store, 2, b"a guessed key of 32 bytes length")
    assert trail.verify().broken_id == 2 and "does not match its hash" in trail.verify().problem
    store.close()


def test_a_checkpoint_line_edited_or_signed_by_another_key_is_refused(tmp_path):
    ours, theirs = SM2PrivateKey.generate(), SM2PrivateKey.generate()
    line = Checkpoint("head", 7, "ab" * 32, 1_765_000_000_000, 0).line(ours)
    assert parse(line, ours.public).seq == 7
    with pytest.raises(CheckpointError, match="signature does not verify"):
        parse(json.dumps({**json.loads(line), "seq": 6}), ours.public)
    with pytest.raises(CheckpointError, match="signature does not verify"):
        parse(Checkpoint("head", 7, "ab" * 32, 1_765_000_000_000, 0).line(theirs), ours.public)
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        parse('{"kind": "head"}', ours.public)


def test_the_audit_settings_default_to_the_data_dir_and_a_named_signing_key_must_exist(tmp_path):
    (tmp_path / "cloud.yaml").write_text("data_dir: data\ncommand_key: keys/cloud.key.pem\n")
    cfg = load_cloud_config(tmp_path / "cloud.yaml")
    files = cfg.audit.files(cfg.data_dir, cfg.command_key)
    assert (files.key, files.checkpoints, files.signing_key, files.signing_key_shared) == (
        tmp_path / "data" / "audit.key", tmp_path / "data" / "audit-checkpoints.jsonl", tmp_path / "keys" / "cloud.key.pem", True)
    (tmp_path / "cloud.yaml").write_text("data_dir: data\naudit: {signing_key: keys/audit.pem, key_file: /secret/a.key}\n")
    with pytest.raises(ConfigError, match=r"audit.signing_key: .*keys/audit.pem does not exist \(an SM2 key"):
        load_cloud_config(tmp_path / "cloud.yaml")
    (tmp_path / "cloud.yaml").write_text("data_dir: data\naudit: {checkpoint_every_entries: 0}\n")
    with pytest.raises(ConfigError, match="checkpoint_every_entries"):
        load_cloud_config(tmp_path / "cloud.yaml")
