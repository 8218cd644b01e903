"""`watertel envelope seal|inspect` with a key openssl made, checked back with the openssl CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from watertel.crypto import SM2PublicKey
from watertel.envelope import open_envelope

from tests.support.checks import need

OPENSSL = shutil.which("openssl")
READINGS = [
    {"station": "S1", "point": "flow", "ts": "2024-05-01T08:00:00+08:00", "value": 12.5, "unit": "m3/h", "quality": "ok"},
    {"station": "S1", "point": "ph", "ts": "2024-05-01T08:00:10.250+08:00", "value": None, "unit": "pH",
     "quality": "timeout"},
]


def watertel(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watertel", *args], input=stdin, capture_output=True, timeout=120)


@pytest.fixture
def keys(tmp_path):
    need(OPENSSL is not None, "the openssl CLI")
    subprocess.run([OPENSSL, "genpkey", "-algorithm", "SM2", "-out", tmp_path / "k.pem"], check=True, timeout=60)
    subprocess.run([OPENSSL, "pkey", "-in", tmp_path / "k.pem", "-pubout", "-out", tmp_path / "p.pem"], check=True,
                   timeout=60)
    return tmp_path / "k.pem", tmp_path / "p.pem"


def seal_file(tmp_path, key, readings=READINGS, *extra: str):
    out = watertel("envelope", "seal", "--key", str(key), "--gateway", "gw-1", "--seq", "7", *extra,
                   stdin=json.dumps(readings).encode())
    assert out.returncode == 0, out.stderr
    (tmp_path / "e.bin").write_bytes(out.stdout)
    return tmp_path / "e.bin"


def inspect(path, pubkey=None) -> tuple[int, dict]:
    out = watertel("envelope", "inspect", str(path), *(["--pubkey", str(pubkey)] if pubkey else []), "--json")
    return out.returncode, json.loads(out.stdout)


def test_seal_with_an_openssl_key_and_inspect_verifies(tmp_path, keys):
    private, public = keys
    prev = "ab" * 32
    path = seal_file(tmp_path, private, READINGS, "--prev", prev, "--created-ms", "1714521600000")
    env = open_envelope(path.read_bytes(), lambda g, k: SM2PublicKey.from_pem(public.read_text()))
    assert (env.gateway_id, env.seq, env.prev_hash.hex(), env.created_ms) == ("gw-1", 7, prev, 1714521600000)
    assert [r.t_ms for r in env.readings] == [1714521600000, 1714521610250]  # +08:00 honoured
    code, report = inspect(path, public)
    assert code == 0 and report["verified"] is True and report["reason"] is None
    assert [(r["point"], r["value"], r["quality"]) for r in report["readings"]] == [
        ("flow", 12.5, "ok"), ("ph", None, "timeout")]
    assert report["hash"] == env.hash.hex()


def test_signed_data_and_signature_from_inspect_verify_with_openssl(tmp_path, keys):
    private, public = keys
    _, report = inspect(seal_file(tmp_path, private), public)
    (tmp_path / "signed.bin").write_bytes(bytes.fromhex(report["signed_data"]))
    (tmp_path / "sig.der").write_bytes(bytes.fromhex(report["signature"]))

    def openssl_verifies(data: bytes) -> bool:
        (tmp_path / "msg.bin").write_bytes(data)
        out = subprocess.run([OPENSSL, "pkeyutl", "-verify", "-pubin", "-inkey", public, "-rawin", "-digest", "sm3",
                              "-pkeyopt", "distid:1234567812345678", "-in", tmp_path / "msg.bin",
                              "-sigfile", tmp_path / "sig.der"], capture_output=True, text=True, timeout=60)
        return out.returncode == 0 and "Signature Verified Successfully" in out.stdout

    signed = bytes.fromhex(report["signed_data"])
    assert openssl_verifies(signed)
    assert not openssl_verifies(signed[:-1] + bytes([signed[-1] ^ 1]))  # the check can fail


def test_inspect_exits_nonzero_unless_verified(tmp_path, keys):
    private, public = keys
    path = seal_file(tmp_path, private)
    code, report = inspect(path)  # no public key: decoded, not verified
    assert code == 1 and report["verified"] is False and report["reason"] == "no_public_key"
    assert len(report["readings"]) == 2
    data = bytearray(path.read_bytes())
    data[40] ^= 0x01  # inside the previous-hash field
    path.write_bytes(bytes(data))
    code, report = inspect(path, public)
    assert code == 1 and report["reason"] == "bad_signature" and report["verified"] is False
    path.write_bytes(b"WT\x01")
    code, report = inspect(path, public)
    assert code == 1 and report["reason"] == "truncated"


@pytest.mark.parametrize("readings, message", [
    ([{**READINGS[0], "ts": "2024-05-01T08:00:00"}], "reading 0: ts: needs a UTC offset"),
    ([{**READINGS[0], "quality": "great"}], "reading 0: quality: one of ok, timeout"),
    ([READINGS[0], {k: v for k, v in READINGS[1].items() if k != "unit"}], "reading 1: missing unit"),
    ([], "expected a non-empty JSON list"),
])
def test_seal_refuses_bad_readings_naming_the_reading(tmp_path, keys, readings, message):
    out = watertel("envelope", "seal", "--key", str(keys[0]), "--gateway", "gw-1", "--seq", "1",
                   stdin=json.dumps(readings).encode())
    assert out.returncode == 1 and out.stdout == b""
    assert message in out.stderr.decode()
