"""Choosing the SM2 backend, and the libcrypto backend's hygiene: no leaked OpenSSL objects.

The signature behaviour of each backend is in test_sm_crypto.py (every test there runs on both).
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from conftest import need
from watertel.crypto import SM2PrivateKey, SM2PublicKey
from watertel.crypto.sm2 import ENV_VAR, BackendError, BackendName, available, make_backend

ACTIVE = "from watertel.crypto.sm2 import backend; print(backend().name)"


def run_python(code: str, choice: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    if choice is not None:
        env[ENV_VAR] = choice
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def openssl_loads() -> bool:
    return BackendName.OPENSSL in available()


@pytest.mark.parametrize("choice", [None, "", "auto", "AUTO"])
def test_automatic_choice_prefers_libcrypto(choice):
    out = run_python(ACTIVE, choice)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("openssl" if openssl_loads() else "python")


@pytest.mark.parametrize("choice", ["python", "openssl"])
def test_environment_forces_a_backend(choice):
    need(choice == "python" or openssl_loads(), "libcrypto with SM2")
    code = (ACTIVE + "\nfrom watertel.crypto import SM2PrivateKey\n"
            "k = SM2PrivateKey.generate(); assert k.public.verify(k.sign(b'm'), b'm')")
    out = run_python(code, choice)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == choice


def test_unknown_backend_name_is_an_error_that_names_it():
    out = run_python(ACTIVE, "fast")
    assert out.returncode != 0
    assert f"{ENV_VAR}: unknown SM2 backend 'fast'" in out.stderr
    with pytest.raises(BackendError, match="choose openssl, python or auto"):
        make_backend("fast")


def test_forced_openssl_without_libcrypto_fails_rather_than_falling_back():
    """A missing libcrypto is reported, not silently replaced by the 40x slower backend."""
    code = ("import ctypes.util; ctypes.util.find_library = lambda name: None\n" + ACTIVE)
    out = run_python(code, "openssl")
    assert out.returncode != 0
    assert "SM2 backend 'openssl' unavailable: libcrypto not found" in out.stderr
    assert run_python(code, None).stdout.strip() == "python"  # auto: falls back, as documented


def _rss_kib() -> int:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024


def test_libcrypto_backend_frees_what_it_allocates():
    """Contexts per operation and one EVP_PKEY per key object: RSS must stay flat over thousands
    of signatures, verifications and key objects. (Leaving out the EVP_MD_CTX_free grows RSS by
    ~7 KiB a round, leaving out the EVP_PKEY_free by ~4 KiB: tens of megabytes here.)
    bench/leak_sm2.py runs 100 000 operations."""
    need(openssl_loads(), "libcrypto with SM2")
    from watertel.crypto.sm2 import use_backend

    base = SM2PrivateKey.generate()

    def churn(rounds: int) -> None:
        for i in range(rounds):
            key = SM2PrivateKey(base.secret, SM2PublicKey(base.public.point))  # new objects: new EVP_PKEYs
            signature = key.sign(b"reading %d" % i)
            assert key.public.verify(signature, b"reading %d" % i)
            assert not key.public.verify(signature, b"other")

    with use_backend("openssl"):
        churn(500)  # warm up: allocator arenas, OpenSSL's method caches
        before = _rss_kib()
        churn(3_000)
        grown = _rss_kib() - before
    assert grown < 2_048, f"RSS grew by {grown} KiB over 3 000 rounds"
