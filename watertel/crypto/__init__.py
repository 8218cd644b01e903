"""The national (SM) algorithms: SM3 hashing, SM2 signatures, SM4-GCM payload encryption."""

from watertel.crypto import sm4
from watertel.crypto.sm2 import BackendName, SM2PrivateKey, SM2PublicKey, SignatureError, use_backend
from watertel.crypto.sm3 import hmac_sm3, sm3

__all__ = ["BackendName", "use_backend", "SM2PrivateKey", "SM2PublicKey", "SignatureError", "hmac_sm3", "sm3", "sm4"]
