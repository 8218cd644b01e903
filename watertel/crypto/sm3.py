"""SM3 (GB/T 32905) through pyca/cryptography, which implements it in OpenSSL."""

from cryptography.hazmat.primitives import hashes


def sm3(data: bytes) -> bytes:
    """Return the 32-byte SM3 digest of ``data``."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()
