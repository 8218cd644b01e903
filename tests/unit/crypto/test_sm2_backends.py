"""Choosing the SM2 backend, and the libcrypto backend's hygiene: no leaked OpenSSL objects.

The signature behaviour of each backend is in test_sm_crypto.py (every test there runs on both).


This file holds the tests that need no server and start no process; the others are in
tests/integration/crypto/test_sm2_backends.py."""

from __future__ import annotations

import gc
import os

from watertel.crypto import SM2PrivateKey, SM2PublicKey

from tests.support.checks import need
from tests.support.sm2 import openssl_loads


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
