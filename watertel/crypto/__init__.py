"""The national (SM) algorithms: SM3 hashing and SM2 signatures."""

from watertel.crypto.sm2 import SM2PrivateKey, SM2PublicKey, SignatureError
from watertel.crypto.sm3 import sm3

__all__ = ["SM2PrivateKey", "SM2PublicKey", "SignatureError", "sm3"]
