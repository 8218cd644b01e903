"""The gateway key registry: which key ids a gateway may sign with and which stations it serves."""

from __future__ import annotations

from cloud.config import GatewayEntry
from watertel.crypto import SM2PublicKey


class Registry:
    def __init__(self, gateways: list[GatewayEntry]) -> None:
        self.keys = {(g.id, g.key_id): SM2PublicKey.from_pem(g.public_key.read_text()) for g in gateways}
        self.stations = {g.id: frozenset(g.stations) for g in gateways}

    def key(self, gateway_id: str, key_id: str) -> SM2PublicKey | None:
        return self.keys.get((gateway_id, key_id))
