"""SM4-GCM payload encryption: the standards' vectors, the envelope layout with flags bit 0, each
refusal's reason, the no-downgrade rule at ingest, and key files that are checked but never shown.

This file holds the tests that need a real server or run a command; the others are in
tests/unit/test_envelope_sm4.py."""

from __future__ import annotations

import subprocess
import sys

from watertel.crypto.sm4 import PayloadKey

from tests.support.sm4 import key_texts


def test_keys_new_sm4_writes_a_0600_key_file_and_never_prints_the_key(tmp_path):
    out = tmp_path / "keys" / "gw-1-e3.sm4"
    done = subprocess.run([sys.executable, "-m", "watertel", "keys", "new-sm4", "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    key = PayloadKey.from_file(out, "gw-1-e3")
    assert "gw-1-e3" in done.stdout and str(out) in done.stdout
    assert not any(secret in done.stdout + done.stderr for secret in key_texts(key))
    again = subprocess.run([sys.executable, "-m", "watertel", "keys", "new-sm4", "--out", str(out), "--key-id", "x"],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "exists" in again.stderr
    assert PayloadKey.from_file(out, "gw-1-e3") == key  # not replaced
    bad_id = subprocess.run([sys.executable, "-m", "watertel", "keys", "new-sm4", "--out", str(tmp_path / "a b.sm4")],
                            capture_output=True, text=True, timeout=60)
    assert bad_id.returncode == 2 and "key id 'a b'" in bad_id.stderr
