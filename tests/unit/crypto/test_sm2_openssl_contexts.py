"""The libcrypto backend keeps Z_A and initialised contexts per key: they must never be shared by
two threads at once, must give the same signatures as the one-shot EVP_DigestSign path that
`openssl pkeyutl -rawin` uses, and must be freed with their key."""

from __future__ import annotations

import gc
import threading

import pytest

from watertel.crypto import SM2PrivateKey, SM2PublicKey
from watertel.crypto.sm2 import digest, BackendName, available, use_backend

from tests.support.checks import need


@pytest.fixture
def openssl():
    need(BackendName.OPENSSL in available(), "libcrypto with SM2")
    with use_backend("openssl") as backend:
        yield backend


def test_z_is_computed_once_per_key_and_matches_the_definition(openssl):
    key = SM2PrivateKey.generate()
    assert key.public.z is key.public.z
    assert key.public.digest(b"m") == digest(key.public.point, b"m")
    assert openssl._pkey(key).z == openssl._pkey(key.public).z == key.public.z


def test_threads_sharing_keys_each_get_their_own_context(openssl):
    keys = [SM2PrivateKey.generate() for _ in range(3)]
    failures: list[str] = []
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        start.wait()
        for i in range(150):
            key = keys[(worker + i) % len(keys)]
            message = b"worker %d message %d" % (worker, i)
            signature = key.sign(message)
            if not key.public.verify(signature, message) or key.public.verify(signature, message + b"!"):
                failures.append(f"worker {worker} op {i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for key in keys:
        for pkey in (openssl._pkey(key), openssl._pkey(key.public)):
            assert 1 <= len(pkey.pool) <= 8  # kept for reuse, bounded
            assert len({entry[0] for entry in pkey.pool}) == len(pkey.pool)  # no context twice


def test_a_key_objects_cache_entry_goes_with_it(openssl):
    base = SM2PrivateKey.generate()
    before = len(openssl._keys)
    for _ in range(50):
        key = SM2PrivateKey(base.secret, SM2PublicKey(base.public.point))
        assert key.public.verify(key.sign(b"m"), b"m")
    del key
    gc.collect()
    assert len(openssl._keys) <= before + 2  # the base key's entries at most
