"""SM4-GCM (GB/T 32907 block cipher, GCM as in RFC 8998) for envelope payloads, via ``cryptography``.

A payload key is 16 random bytes shared by one gateway and the cloud, kept in a key file of 32
hex digits (mode 0600). It never appears in logs or reprs: ``PayloadKey`` shows only its id.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_BYTES = 16
NONCE_BYTES = 12  # 96-bit GCM nonce: random per envelope (2^-32 collision bound far beyond 2^32 envelopes)
TAG_BYTES = 16


class PayloadKeyError(ValueError):
    """A key file that cannot be used, or a ciphertext that does not open under the key."""


@dataclass(frozen=True)
class PayloadKey:
    """An SM4 key and its id (the id travels in the envelope header; the key never does).

    ``valid_until_ms`` is set on a receiver's copy of a key being rotated out: envelopes created
    (their signed creation time) after it are refused as ``payload_key_expired``.
    """

    key_id: str
    key: bytes = field(repr=False)
    valid_until_ms: int | None = None

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise PayloadKeyError(f"SM4 key {self.key_id!r} must be {KEY_BYTES} bytes (got {len(self.key)})")

    @classmethod
    def generate(cls, key_id: str) -> PayloadKey:
        return cls(key_id, os.urandom(KEY_BYTES))

    @classmethod
    def from_file(cls, path: Path, key_id: str) -> PayloadKey:
        """Read a key file: 32 hex digits, surrounding whitespace allowed. The error names the file,
        never its content."""
        try:
            text = path.read_text().strip()
        except (OSError, UnicodeDecodeError) as err:
            raise PayloadKeyError(f"{path}: cannot read the SM4 key file ({type(err).__name__})") from None
        if not re.fullmatch(r"[0-9a-fA-F]{32}", text):
            raise PayloadKeyError(f"{path}: not an SM4 key file (expected 32 hex digits)")
        return cls(key_id, bytes.fromhex(text))

    def write(self, path: Path) -> None:
        """Write as a new 0600 file (refuses to overwrite: a replaced key strands buffered data)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.key.hex() + "\n")


def encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """SM4-GCM: ciphertext ‖ 16-byte tag, authenticating ``aad`` too."""
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Inverse of ``encrypt``; PayloadKeyError when the tag does not match (wrong key or data)."""
    if len(sealed) < TAG_BYTES:
        raise PayloadKeyError("SM4-GCM ciphertext shorter than its tag")
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-TAG_BYTES:])).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(sealed[:-TAG_BYTES]) + decryptor.finalize()
    except InvalidTag:
        raise PayloadKeyError("SM4-GCM tag mismatch (wrong key, or altered header or payload)") from None
