"""SM3 and SM2: the standard's vectors, PEM keys and signatures that interoperate with OpenSSL.

OpenSSL is the reference: it must read our keys and we must read its keys, and each side must
verify the other's signatures (SM3 digest, default user ID 1234567812345678, DER r,s).

Every test runs once per SM2 backend (libcrypto through ctypes, pure-Python gmssl): the
``sm2_backend`` fixture below makes each one the active backend in turn.


This file holds the tests that need a real server or run a command; the others are in
tests/unit/crypto/test_sm_crypto.py."""

from __future__ import annotations

import re
from pathlib import Path
import functools
import subprocess
import shutil

import pytest

from watertel.crypto import SM2PrivateKey, SM2PublicKey
from watertel.crypto.sm2 import _N, encode_signature, use_backend

from tests.support.checks import need
from tests.support.sm2 import BACKENDS, backend_available, non_canonical

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


DIST_ID = "distid:1234567812345678"


@pytest.fixture(params=BACKENDS, autouse=True)
def sm2_backend(request):
    """Run the test with this SM2 backend active (libcrypto must load where servers are required)."""
    need(backend_available(request.param), f"the {request.param} SM2 backend")
    with use_backend(request.param) as chosen:
        yield chosen


@functools.lru_cache(maxsize=1)
def _openssl_has_sm2() -> bool:
    if not Path(OPENSSL).exists():
        return False
    try:
        out = subprocess.run([OPENSSL, "genpkey", "-algorithm", "SM2"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and b"BEGIN PRIVATE KEY" in out.stdout


class OpenSSL:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run([OPENSSL, *args], capture_output=True, text=True, cwd=self.dir, timeout=60)
        if check:
            assert out.returncode == 0, f"openssl {' '.join(args)}: {out.stderr}"
        return out

    def write(self, name: str, data: bytes | str) -> str:
        path = self.dir / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return str(path)

    def sign(self, private_pem: str, message: bytes) -> bytes:
        self.run("pkeyutl", "-sign", "-inkey", self.write("sign.key.pem", private_pem), "-rawin",
                 "-digest", "sm3", "-pkeyopt", DIST_ID, "-in", self.write("sign.msg", message), "-out", "sign.sig")
        return (self.dir / "sign.sig").read_bytes()

    def verify(self, public_pem: str, message: bytes, signature: bytes) -> bool:
        out = self.run("pkeyutl", "-verify", "-pubin", "-inkey", self.write("verify.pub.pem", public_pem),
                       "-rawin", "-digest", "sm3", "-pkeyopt", DIST_ID, "-in", self.write("verify.msg", message),
                       "-sigfile", self.write("verify.sig", signature), check=False)
        assert ("Signature Verified Successfully" in out.stdout) == (out.returncode == 0), out
        return out.returncode == 0


@pytest.fixture
def openssl(tmp_path) -> OpenSSL:
    need(_openssl_has_sm2(), "the openssl CLI with SM2")
    return OpenSSL(tmp_path)


def test_openssl_reads_our_keys(openssl):
    key = SM2PrivateKey.generate()
    text = openssl.run("pkey", "-in", openssl.write("k.pem", key.to_pem()), "-noout", "-text").stdout
    assert "ASN1 OID: SM2" in text
    priv = re.search(r"priv:\n((?:\s+[0-9a-f:]+\n)+)", text)
    assert priv and int(re.sub(r"[\s:]", "", priv.group(1)), 16) == key.secret
    assert openssl.run("pkey", "-in", "k.pem", "-pubout").stdout == key.public.to_pem()
    public_pem = key.public.to_pem()
    assert openssl.run("pkey", "-pubin", "-in", openssl.write("p.pem", public_pem), "-pubout").stdout == public_pem
    assert "ASN1 OID: SM2" in openssl.run("pkey", "-pubin", "-in", "p.pem", "-noout", "-text").stdout


def test_we_read_keys_openssl_made(openssl):
    for i in range(3):
        openssl.run("genpkey", "-algorithm", "SM2", "-out", f"k{i}.pem")
        private_pem = (openssl.dir / f"k{i}.pem").read_text()
        key = SM2PrivateKey.from_pem(private_pem)
        public = SM2PublicKey.from_pem(openssl.run("pkey", "-in", f"k{i}.pem", "-pubout").stdout)
        assert key.public == public
        assert key.to_pem() == private_pem  # the same DER, byte for byte


@pytest.mark.parametrize("message", [b"", b"abc", bytes(range(256)) * 8], ids=["empty", "abc", "2k-binary"])
def test_our_signatures_verify_with_openssl(openssl, message):
    key = SM2PrivateKey.generate()
    signature = key.sign(message)
    assert openssl.verify(key.public.to_pem(), message, signature)
    assert not openssl.verify(key.public.to_pem(), message + b"!", signature)  # the check can fail
    assert not openssl.verify(SM2PrivateKey.generate().public.to_pem(), message, signature)


@pytest.mark.parametrize("message", [b"", b"abc", bytes(range(256)) * 8], ids=["empty", "abc", "2k-binary"])
def test_openssl_signatures_verify_with_ours(openssl, message):
    openssl.run("genpkey", "-algorithm", "SM2", "-out", "k.pem")
    private_pem = (openssl.dir / "k.pem").read_text()
    public = SM2PublicKey.from_pem(openssl.run("pkey", "-in", "k.pem", "-pubout").stdout)
    for _ in range(3):  # different nonces: r and s of every length (33-byte INTEGERs too) over runs
        signature = openssl.sign(private_pem, message)
        assert public.verify(signature, message)
        assert not public.verify(signature, message + b"!")
        assert not SM2PrivateKey.generate().public.verify(signature, message)


def test_openssl_also_refuses_what_we_refuse(openssl):
    """Our stricter cases agree with the reference: non-canonical DER and a sum at infinity."""
    key = SM2PrivateKey.generate()
    message = b"reading"
    for variant in non_canonical(key, message):
        assert not openssl.verify(key.public.to_pem(), message, variant)
    r = 0x1234567890ABCDEF
    s = (-r * key.secret * pow(1 + key.secret, -1, _N)) % _N
    assert not openssl.verify(key.public.to_pem(), message, encode_signature(r, s))
