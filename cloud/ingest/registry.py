"""The gateway key registry: which key ids a gateway may sign with, which stations it serves, and
the SM4 payload key of a gateway whose readings must travel encrypted."""

from __future__ import annotations

from cloud.config import GatewayEntry
from watertel.crypto import SM2PublicKey
from watertel.crypto.sm4 import PayloadKey


class Registry:
    def __init__(self, gateways: list[GatewayEntry]) -> None:
        self.keys = {(g.id, g.key_id): SM2PublicKey.from_pem(g.public_key.read_text()) for g in gateways}
        self.stations = {g.id: frozenset(g.stations) for g in gateways}
        self.payload_keys = {(g.id, g.payload_key.key_id): g.payload_key.load() for g in gateways if g.payload_key}
        self.encrypted_only = frozenset(g.id for g in gateways if g.payload_key)

    def key(self, gateway_id: str, key_id: str) -> SM2PublicKey | None:
        return self.keys.get((gateway_id, key_id))

    def payload_key(self, gateway_id: str, key_id: str) -> PayloadKey | None:
        return self.payload_keys.get((gateway_id, key_id))

    def requires_encryption(self, gateway_id: str) -> bool:
        """A gateway with a payload key may not fall back to clear text (no downgrade)."""
        return gateway_id in self.encrypted_only
