"""SM2 through the system's OpenSSL 3 libcrypto (ctypes): ~40 times the pure-Python speed.

Why ctypes: pyca ``cryptography`` has no SM2, and ``tongsuopy`` has no Raspberry Pi wheels, but
Debian's libcrypto.so.3 implements SM2 everywhere. Only documented OpenSSL 3 calls are used::

    d2i_PUBKEY / d2i_AutoPrivateKey     our SPKI / PKCS#8 DER  -> EVP_PKEY (type "SM2")
    EVP_DigestSignInit_ex(..., "SM3", ...) -> the EVP_PKEY_CTX, then on it
    EVP_PKEY_CTX_set1_id(pctx, "1234567812345678", 16)   (OpenSSL 3.0 refuses "distid" as an
                                        init parameter: it must be set after init, before data)
    EVP_DigestSign / EVP_DigestVerify   one shot: Z_A, e = SM3(Z_A ‖ M), sign or verify

Every object is freed: an ``EVP_MD_CTX`` (which owns the ``EVP_PKEY_CTX`` it made) in a
``finally``, and each ``EVP_PKEY`` by a finalizer when the key object it was made for is gone.
The OpenSSL error queue is cleared after a failure so it never carries stale errors.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import weakref
from typing import TYPE_CHECKING

from watertel.crypto.sm2_common import DEFAULT_USER_ID, SignatureError, pkcs8_der, spki_der

if TYPE_CHECKING:
    from watertel.crypto.sm2 import SM2PrivateKey, SM2PublicKey

_VP = ctypes.c_void_p
_MAX_SIGNATURE = 72  # DER SEQUENCE of two INTEGERs of at most 33 bytes


class OpenSSLUnavailable(RuntimeError):
    """libcrypto is missing, older than 3.0, or lacks SM2."""


_SIGNATURES = {  # name: (restype, argtypes)
    "OpenSSL_version_num": (ctypes.c_ulong, []),
    "ERR_clear_error": (None, []),
    "d2i_PUBKEY": (_VP, [_VP, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
    "d2i_AutoPrivateKey": (_VP, [_VP, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]),
    "EVP_PKEY_is_a": (ctypes.c_int, [_VP, ctypes.c_char_p]),
    "EVP_PKEY_free": (None, [_VP]),
    "EVP_MD_CTX_new": (_VP, []),
    "EVP_MD_CTX_free": (None, [_VP]),
    "EVP_DigestSignInit_ex": (ctypes.c_int, [_VP, ctypes.POINTER(_VP), ctypes.c_char_p, _VP, ctypes.c_char_p,
                                             _VP, _VP]),
    "EVP_DigestVerifyInit_ex": (ctypes.c_int, [_VP, ctypes.POINTER(_VP), ctypes.c_char_p, _VP, ctypes.c_char_p,
                                               _VP, _VP]),
    "EVP_PKEY_CTX_set1_id": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.c_int]),
    "EVP_DigestSign": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t), ctypes.c_char_p,
                                      ctypes.c_size_t]),
    "EVP_DigestVerify": (ctypes.c_int, [_VP, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]),
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


class _PKey:
    """An EVP_PKEY of type SM2, freed when this object is collected."""

    def __init__(self, lib: ctypes.CDLL, der: bytes, private: bool) -> None:
        cursor = ctypes.c_char_p(der)
        load = lib.d2i_AutoPrivateKey if private else lib.d2i_PUBKEY
        self.ptr = load(None, ctypes.byref(cursor), len(der))
        if not self.ptr:
            lib.ERR_clear_error()
            raise SignatureError("libcrypto refused the SM2 key")
        weakref.finalize(self, lib.EVP_PKEY_free, self.ptr)
        if lib.EVP_PKEY_is_a(self.ptr, b"SM2") != 1:
            raise SignatureError("libcrypto did not load the key as an SM2 key")


class OpenSSLSM2:
    """The libcrypto backend. EVP_PKEYs are made once per key object and shared by threads
    (OpenSSL 3 keys are safe to use concurrently once built)."""

    name = "openssl"

    def __init__(self) -> None:
        self.lib = libcrypto()
        self._keys: weakref.WeakKeyDictionary[object, _PKey] = weakref.WeakKeyDictionary()

    def _pkey(self, key: SM2PrivateKey | SM2PublicKey) -> _PKey:
        pkey = self._keys.get(key)
        if pkey is None:
            private = hasattr(key, "secret")
            der = pkcs8_der(key.secret, key.public.point) if private else spki_der(key.point)  # type: ignore[union-attr]
            pkey = self._keys[key] = _PKey(self.lib, der, private)
        return pkey

    def _init(self, init: ctypes._CFuncPtr, ctx: int | None, pkey: _PKey) -> bool:
        """SM3 digest, then the user ID on the EVP_PKEY_CTX that ``ctx`` owns (freed with it)."""
        pctx = _VP()
        return (bool(ctx) and init(ctx, ctypes.byref(pctx), b"SM3", None, None, pkey.ptr, None) == 1
                and self.lib.EVP_PKEY_CTX_set1_id(pctx, DEFAULT_USER_ID, len(DEFAULT_USER_ID)) == 1)

    def sign(self, key: SM2PrivateKey, message: bytes) -> bytes:
        pkey, lib = self._pkey(key), self.lib
        size, out = ctypes.c_size_t(_MAX_SIGNATURE), ctypes.create_string_buffer(_MAX_SIGNATURE)
        ctx = lib.EVP_MD_CTX_new()
        try:
            ok = (self._init(lib.EVP_DigestSignInit_ex, ctx, pkey)
                  and lib.EVP_DigestSign(ctx, out, ctypes.byref(size), message, len(message)) == 1)
        finally:
            lib.EVP_MD_CTX_free(ctx)
        if not ok:
            lib.ERR_clear_error()
            raise SignatureError("libcrypto failed to make an SM2 signature")
        return out.raw[: size.value]

    def verify(self, key: SM2PublicKey, signature: bytes, message: bytes) -> bool:
        """The caller has checked the DER and the ranges of r and s (``plausible_signature``);
        libcrypto checks them again and refuses a sum at infinity itself."""
        pkey, lib = self._pkey(key), self.lib
        ctx = lib.EVP_MD_CTX_new()
        try:
            ok = (self._init(lib.EVP_DigestVerifyInit_ex, ctx, pkey)
                  and lib.EVP_DigestVerify(ctx, signature, len(signature), message, len(message)) == 1)
        finally:
            lib.EVP_MD_CTX_free(ctx)
        if not ok:
            lib.ERR_clear_error()
        return ok
