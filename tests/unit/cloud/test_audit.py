"""The audit log: a row for every write through the API, SM3-chained so `watertel audit verify`
finds an edited, deleted or inserted row, on both store back-ends; and the store migration that
adds it (schema version 2 → 3).

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/test_audit.py."""

from __future__ import annotations

from watertel.cloud import audit
from watertel.cloud.store.sqlite import SqliteStore

from tests.support.audit import add


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(tmp_path):
    store = SqliteStore(tmp_path / "w.db")
    entries = add(store, 4)
    forged = audit.Entry(**{**entries[1].public(), "summary": "nothing happened", "hash": ""})
    store.db.execute("UPDATE audit SET summary = ?, hash = ? WHERE id = 2", (forged.summary, forged.expected_hash()))
    assert audit.verify(store) == audit.Verdict(2, 3, "its link to the previous row is wrong: rows were removed or put in")
    store.close()
