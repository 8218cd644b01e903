"""Choosing the SM2 backend, and the libcrypto backend's hygiene: no leaked OpenSSL objects.

The signature behaviour of each backend is in test_sm_crypto.py (every test there runs on both).


This file holds the tests that need a real server or run a command; the others are in
tests/unit/crypto/test_sm2_backends.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from watertel.crypto.sm2 import ENV_VAR, BackendError, make_backend

from tests.support.checks import need
from tests.support.sm2 import openssl_loads

ACTIVE = "from watertel.crypto.sm2 import backend; print(backend().name)"


def run_python(code: str, choice: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    if choice is not None:
        env[ENV_VAR] = choice
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


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
