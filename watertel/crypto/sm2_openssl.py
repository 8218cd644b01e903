"""SM2 through the system's OpenSSL 3 libcrypto (ctypes): ~40 times the pure-Python speed.

Why ctypes: pyca ``cryptography`` has no SM2, and ``tongsuopy`` has no Raspberry Pi wheels, but
Debian's libcrypto.so.3 implements SM2 everywhere. Only documented OpenSSL 3 calls are used::

    d2i_PUBKEY / d2i_AutoPrivateKey       our SPKI / PKCS#8 DER -> EVP_PKEY (type "SM2")
    EVP_PKEY_CTX_new_from_pkey + EVP_PKEY_{sign,verify}_init    once per key and thread
    EVP_MD_fetch(NULL, "SM3", NULL)       once per process
    EVP_Digest(Z_A ‖ M, SM3)              e, the value SM2 signs (GB/T 32918.2 §6.1)
    EVP_PKEY_sign / EVP_PKEY_verify(e)    SM2 over the 32-byte digest (as `openssl pkeyutl` without
                                          -rawin does)

Why not ``EVP_DigestSign``/``EVP_DigestVerify`` one shot (what this module did first, and what
``openssl speed sm2`` times): each call then fetched SM3, built an ``EVP_PKEY_CTX``, set the user
ID and recomputed Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ G ‖ P), ≈ 20 µs of a 240 µs verification. Here
Z_A is computed once per key (``SM2PublicKey.z``) and the initialised contexts are kept, with
their digest and signature buffers: a small pool per key, so that threads never share one
(``list.pop``/``append`` are atomic).

Every object is freed: the pooled ``EVP_PKEY_CTX``s and then the ``EVP_PKEY`` by a finalizer
when the key object they were made for is gone. The OpenSSL error queue is cleared after a
failure so it never carries stale errors.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import weakref

from watertel.crypto.sm2_common import PrivateKey, PublicKey, SignatureError, pkcs8_der, spki_der

_VP = ctypes.c_void_p
_SIZE_P = ctypes.POINTER(ctypes.c_size_t)
_MAX_SIGNATURE = 72  # DER SEQUENCE of two INTEGERs of at most 33 bytes
_DIGEST = 32
_POOL_MAX = 8  # contexts kept per key: more than the threads that use one key at once


class OpenSSLUnavailable(RuntimeError):
    """libcrypto is missing, older than 3.0, or lacks SM2."""


_SIGNATURES = {  # name: (restype, argtypes)
    "OpenSSL_version_num": (ctypes.c_ulong, []),
    "ERR_clear_error": (None, []),
    "d2i_PUBKEY": (_VP, [_VP, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
    "d2i_AutoPrivateKey": (_VP, [_VP, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
    "EVP_PKEY_is_a": (ctypes.c_int, [_VP, ctypes.c_char_p]),
    "EVP_PKEY_free": (None, [_VP]),
    "EVP_MD_fetch": (_VP, [_VP, ctypes.c_char_p, ctypes.c_char_p]),
    "EVP_Digest": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, _VP, _VP, _VP]),
    "EVP_PKEY_CTX_new_from_pkey": (_VP, [_VP, _VP, ctypes.c_char_p]),
    "EVP_PKEY_CTX_free": (None, [_VP]),
    "EVP_PKEY_sign_init": (ctypes.c_int, [_VP]),
    "EVP_PKEY_verify_init": (ctypes.c_int, [_VP]),
    "EVP_PKEY_sign": (ctypes.c_int, [_VP, ctypes.c_char_p, _SIZE_P, ctypes.c_char_p, ctypes.c_size_t]),
    "EVP_PKEY_verify": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]),
}


def _find_libcrypto() -> str:
    name = ctypes.util.find_library("crypto")
    if name is None:
        raise OpenSSLUnavailable("libcrypto not found (ctypes.util.find_library('crypto'))")
    return name


@functools.cache
def libcrypto() -> ctypes.CDLL:
    """The loaded libcrypto with typed functions; raises OpenSSLUnavailable (once per process)."""
    name = _find_libcrypto()
    try:
        lib = ctypes.CDLL(name)
        for func, (restype, argtypes) in _SIGNATURES.items():
            getattr(lib, func).restype, getattr(lib, func).argtypes = restype, argtypes
    except (OSError, AttributeError) as err:
        raise OpenSSLUnavailable(f"{name}: {err}") from err
    if lib.OpenSSL_version_num() < 0x30000000:
        raise OpenSSLUnavailable(f"{name} is OpenSSL {lib.OpenSSL_version_num():#x}, SM2 needs 3.0 or later")
    return lib


@functools.cache
def _sm3_md() -> int:
    """SM3 fetched once per process (and kept: fetching per digest costs a method-store lookup)."""
    lib = libcrypto()
    md = lib.EVP_MD_fetch(None, b"SM3", None)
    if not md:
        lib.ERR_clear_error()
        raise OpenSSLUnavailable("libcrypto has no SM3")
    return md


_Digest = ctypes.c_char * _DIGEST
_Signature = ctypes.c_char * _MAX_SIGNATURE


def _free_all(lib: ctypes.CDLL, pkey: int, pool: list) -> None:
    while pool:
        lib.EVP_PKEY_CTX_free(pool.pop()[0])
    lib.EVP_PKEY_free(pkey)


class _PKey:
    """An EVP_PKEY of type SM2 with its Z_A and a pool of initialised EVP_PKEY_CTXs (each with its
    digest and signature buffers), all freed when this object is collected."""

    def __init__(self, lib: ctypes.CDLL, der: bytes, private: bool, z: bytes) -> None:
        cursor = ctypes.c_char_p(der)
        load = lib.d2i_AutoPrivateKey if private else lib.d2i_PUBKEY
        self.lib, self.private, self.z = lib, private, z
        self.ptr = load(None, ctypes.byref(cursor), len(der))
        if not self.ptr:
            lib.ERR_clear_error()
            raise SignatureError("libcrypto refused the SM2 key")
        self.pool: list[tuple[int, ctypes.Array, ctypes.Array, ctypes.c_size_t]] = []
        weakref.finalize(self, _free_all, lib, self.ptr, self.pool)
        if lib.EVP_PKEY_is_a(self.ptr, b"SM2") != 1:
            raise SignatureError("libcrypto did not load the key as an SM2 key")

    def context(self) -> tuple[int, ctypes.Array, ctypes.Array, ctypes.c_size_t]:
        """(context initialised for this key, digest buffer, signature buffer, size); give it back
        with ``release``."""
        try:
            return self.pool.pop()
        except IndexError:
            pass
        lib = self.lib
        ctx = lib.EVP_PKEY_CTX_new_from_pkey(None, self.ptr, None)
        init = lib.EVP_PKEY_sign_init if self.private else lib.EVP_PKEY_verify_init
        if not ctx or init(ctx) != 1:
            lib.EVP_PKEY_CTX_free(ctx)
            lib.ERR_clear_error()
            raise SignatureError("libcrypto failed to set up an SM2 context")
        return ctx, _Digest(), _Signature(), ctypes.c_size_t()

    def release(self, entry: tuple[int, ctypes.Array, ctypes.Array, ctypes.c_size_t]) -> None:
        if len(self.pool) < _POOL_MAX:
            self.pool.append(entry)
        else:
            self.lib.EVP_PKEY_CTX_free(entry[0])


class OpenSSLSM2:
    """The libcrypto backend. EVP_PKEYs are made once per key object and shared by threads
    (OpenSSL 3 keys are safe to use concurrently once built); contexts are not shared."""

    name = "openssl"

    def __init__(self) -> None:
        self.lib = libcrypto()
        self.sm3_md = _sm3_md()
        # id(key object) -> (weak reference to it, its _PKey). Not a WeakKeyDictionary: that hashes
        # and compares the key dataclasses in Python on every lookup (~2 µs an operation).
        self._keys: dict[int, tuple[weakref.ref, _PKey]] = {}

    def _pkey(self, key: PrivateKey | PublicKey) -> _PKey:
        entry = self._keys.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        private = hasattr(key, "secret")
        public = key.public if private else key  # type: ignore[union-attr]
        der = pkcs8_der(key.secret, public.point) if private else spki_der(public.point)  # type: ignore[union-attr]
        pkey, ident, keys = _PKey(self.lib, der, private, public.z), id(key), self._keys
        # the callback runs while the key object is freed, before its id can be reused
        keys[ident] = (weakref.ref(key, lambda _ref: keys.pop(ident, None)), pkey)
        return pkey

    def sign(self, key: PrivateKey, message: bytes) -> bytes:
        pkey, lib = self._pkey(key), self.lib
        data = pkey.z + message
        entry = pkey.context()
        try:
            ctx, e, out, size = entry
            size.value = _MAX_SIGNATURE
            ok = (lib.EVP_Digest(data, len(data), e, None, self.sm3_md, None) == 1  # e = SM3(Z_A ‖ M)
                  and lib.EVP_PKEY_sign(ctx, out, size, e, _DIGEST) == 1)
            signature = out.raw[: size.value]
        finally:
            pkey.release(entry)
        if not ok:
            lib.ERR_clear_error()
            raise SignatureError("libcrypto failed to make an SM2 signature")
        return signature

    def verify(self, key: PublicKey, signature: bytes, message: bytes) -> bool:
        """libcrypto refuses what is not strict DER (it re-encodes the signature and compares), r or
        s outside [1, n - 1] and a sum at infinity; the Python backend refuses the same bytes."""
        pkey, lib = self._pkey(key), self.lib
        data = pkey.z + message
        entry = pkey.context()
        try:
            e = entry[1]
            ok = (lib.EVP_Digest(data, len(data), e, None, self.sm3_md, None) == 1  # e = SM3(Z_A ‖ M)
                  and lib.EVP_PKEY_verify(entry[0], signature, len(signature), e, _DIGEST) == 1)
        finally:
            pkey.release(entry)
        if not ok:
            lib.ERR_clear_error()
        return ok
