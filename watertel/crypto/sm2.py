"""SM2 signatures (GB/T 32918) with the SM3 digest and the default user ID.

Keys travel as standard PEM (PKCS#8 private, SubjectPublicKeyInfo public) so that ``openssl
pkey`` reads them; signatures are DER ``SEQUENCE { INTEGER r, INTEGER s }`` like OpenSSL's.

The arithmetic comes from ``gmssl`` (pure Python, runs on any gateway). Two of its traps are
avoided here: its ``random_hex`` nonce uses ``random`` (not a CSPRNG), so the nonce comes from
``secrets``; and its constructor ``lstrip("04")``s the public key, which corrupts keys whose x
coordinate starts with 0 or 4, so the key is set after construction. The digest e = SM3(Z ‖ M) is
computed with ``cryptography``'s SM3, which is much faster than gmssl's.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from gmssl.sm2 import CryptSM2, default_ecc_table

from watertel.crypto.sm3 import sm3

DEFAULT_USER_ID = b"1234567812345678"
_N = int(default_ecc_table["n"], 16)
_CURVE_Z_PART = bytes.fromhex(
    default_ecc_table["a"] + default_ecc_table["b"] + default_ecc_table["g"]
)
# Fixed DER framing of the only key shapes we write (and that `openssl genpkey -algorithm SM2`
# writes): id-ecPublicKey with the SM2 curve OID 1.2.156.10197.1.301.
_ALGORITHM = bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d")
_PKCS8_HEAD = bytes.fromhex("308187020100") + _ALGORITHM + bytes.fromhex("046d306b0201010420")
_PKCS8_MID = bytes.fromhex("a144034200")
_SPKI_HEAD = bytes.fromhex("3059") + _ALGORITHM + bytes.fromhex("034200")


class SignatureError(ValueError):
    """A signature or key that cannot be used."""


def _pem(label: str, der: bytes) -> str:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def _unpem(text: str, label: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text or end not in text:
        raise SignatureError(f"not a PEM {label.lower()} (expected a '{begin}' block)")
    body = text.split(begin, 1)[1].split(end, 1)[0]
    return base64.b64decode("".join(body.split()))


def _engine(private_hex: str = "", public_point: bytes = b"") -> CryptSM2:
    engine = CryptSM2(private_key=private_hex, public_key="")
    engine.public_key = public_point[1:].hex()  # x ‖ y, set late: see module docstring
    return engine


def _der_int(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return b"\x02" + bytes([len(raw)]) + raw


def encode_signature(r: int, s: int) -> bytes:
    """DER-encode (r, s) as OpenSSL does."""
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes([len(body)]) + body


def decode_signature(der: bytes) -> tuple[int, int]:
    """Parse a DER SM2 signature strictly; raise SignatureError on any other shape."""
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        raise SignatureError("signature is not a DER SEQUENCE")
    values, pos = [], 2
    for _ in range(2):
        if pos + 2 > len(der) or der[pos] != 0x02:
            raise SignatureError("signature SEQUENCE must hold two INTEGERs")
        size = der[pos + 1]
        raw = der[pos + 2 : pos + 2 + size]
        if size == 0 or size > 33 or len(raw) != size:
            raise SignatureError("signature INTEGER has a bad length")
        values.append(int.from_bytes(raw, "big"))
        pos += 2 + size
    if pos != len(der):
        raise SignatureError("trailing bytes after the signature")
    if der != encode_signature(values[0], values[1]):  # one encoding per (r, s), as OpenSSL requires
        raise SignatureError("signature INTEGER is not minimally encoded")
    return values[0], values[1]


@dataclass(frozen=True)
class SM2PublicKey:
    """An SM2 public key: the uncompressed point 04 ‖ x ‖ y (65 bytes)."""

    point: bytes

    def __post_init__(self) -> None:
        if len(self.point) != 65 or self.point[0] != 4:
            raise SignatureError("SM2 public key must be an uncompressed 65-byte point")

    @classmethod
    def from_pem(cls, text: str) -> SM2PublicKey:
        der = _unpem(text, "PUBLIC KEY")
        if not der.startswith(_SPKI_HEAD) or len(der) != len(_SPKI_HEAD) + 65:
            raise SignatureError("not an SM2 SubjectPublicKeyInfo (curve OID 1.2.156.10197.1.301)")
        return cls(der[len(_SPKI_HEAD) :])

    def to_pem(self) -> str:
        return _pem("PUBLIC KEY", _SPKI_HEAD + self.point)

    def digest(self, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """e = SM3(Z_A ‖ M), the value SM2 signs (GB/T 32918.2 §6.1)."""
        entl = (len(user_id) * 8).to_bytes(2, "big")
        z = sm3(entl + user_id + _CURVE_Z_PART + self.point[1:])
        return sm3(z + message)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True only for a valid signature over exactly ``message``."""
        try:
            r, s = decode_signature(signature)
        except SignatureError:
            return False
        if not (0 < r < _N and 0 < s < _N):
            return False
        try:
            return bool(_engine(public_point=self.point).verify(f"{r:064x}{s:064x}", self.digest(message)))
        except TypeError:  # gmssl fails on s·G + t·P = O, which the key's holder can craft: invalid
            return False


@dataclass(frozen=True, repr=False)
class SM2PrivateKey:
    """An SM2 private key; ``repr`` never shows the secret."""

    secret: int
    public: SM2PublicKey

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self.public.point[:5].hex()}…)"

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        return cls.from_secret(secrets.randbelow(_N - 2) + 1)

    @classmethod
    def from_secret(cls, secret: int) -> SM2PrivateKey:
        if not 0 < secret < _N - 1:
            raise SignatureError("SM2 private key out of range")
        xy = _engine()._kg(secret, default_ecc_table["g"])
        return cls(secret, SM2PublicKey(b"\x04" + bytes.fromhex(xy)))

    @classmethod
    def from_pem(cls, text: str) -> SM2PrivateKey:
        der = _unpem(text, "PRIVATE KEY")
        head, mid = len(_PKCS8_HEAD), len(_PKCS8_HEAD) + 32
        if not der.startswith(_PKCS8_HEAD) or der[mid : mid + len(_PKCS8_MID)] != _PKCS8_MID:
            raise SignatureError("not an unencrypted SM2 PKCS#8 key (curve OID 1.2.156.10197.1.301)")
        key = cls.from_secret(int.from_bytes(der[head:mid], "big"))
        if der[mid + len(_PKCS8_MID) :] != key.public.point:
            raise SignatureError("PKCS#8 public key does not match its private key")
        return key

    def to_pem(self) -> str:
        der = _PKCS8_HEAD + self.secret.to_bytes(32, "big") + _PKCS8_MID + self.public.point
        return _pem("PRIVATE KEY", der)

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (SM3 digest, default user ID); returns a DER signature."""
        engine = _engine(f"{self.secret:064x}", self.public.point)
        digest = self.public.digest(message)
        while True:
            nonce = secrets.randbelow(_N - 1) + 1
            rs = engine.sign(digest, f"{nonce:064x}")
            if rs:  # gmssl returns None for the rare r = 0 / s = 0 cases: draw again
                return encode_signature(int(rs[:64], 16), int(rs[64:], 16))
