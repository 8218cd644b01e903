"""docs/envelope.md lets a third party write a verifier: its worked examples must be real.

The hex blocks open with the public key on the page (and the SM4 key it names), the annotated
tables match the bytes at their offsets, the layout drawing is the module's, and the `openssl`
commands on the page verify the first example's signature.


This file holds the tests that need a real server or run a command; the others are in
tests/unit/test_envelope_doc.py."""

from __future__ import annotations

import shutil
import subprocess

from tests.support.checks import need
from tests.support.envelope_doc import blocks, examples


def test_the_openssl_commands_on_the_page_verify_the_first_example(tmp_path):
    need(shutil.which("openssl") is not None and shutil.which("xxd") is not None, "the openssl command line and xxd")
    (commands,) = [b for b in blocks("sh") if "pkeyutl" in b]
    (pem,) = blocks("pem")
    (tmp_path / "envelope.hex").write_text(blocks("hex")[0])
    (tmp_path / "gw-demo-k1.pub.pem").write_text(pem)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Signature Verified Successfully" in done.stdout
    assert "55c9ade3b689d0af9715d5ca07de7f02f8a89859d4674ae0526db8f05b4e9f37" in done.stdout
    # and a changed byte does not verify
    data = bytearray(examples()[0])
    data[130] ^= 1  # reading 0's quality
    (tmp_path / "envelope.hex").write_text(bytes(data).hex())
    tampered = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
    assert tampered.returncode != 0 and "Signature Verified Successfully" not in tampered.stdout
