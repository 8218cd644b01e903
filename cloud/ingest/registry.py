"""The gateway key registry: which key ids a gateway may sign with (and until when), which are
revoked, which stations it serves, and the SM4 payload keys of a gateway whose readings must
travel encrypted (the current one, rotated-out ones until their overlap ends, retired ids)."""

from __future__ import annotations

from dataclasses import replace

from cloud.config import GatewayEntry
from watertel.crypto import SM2PublicKey
from watertel.crypto.sm4 import PayloadKey
from watertel.envelope import EnvelopeError


class Registry:
    def __init__(self, gateways: list[GatewayEntry]) -> None:
        self.keys = {(g.id, g.key_id): SM2PublicKey.from_pem(g.public_key.read_text()) for g in gateways}
        self.keys |= {(g.id, k.key_id): SM2PublicKey.from_pem(k.public_key.read_text())
                      for g in gateways for k in g.previous_keys}
        self.valid_until_ms = {(g.id, k.key_id): int(k.valid_until.timestamp() * 1000)
                               for g in gateways for k in g.previous_keys}
        self.revoked = frozenset((g.id, key_id) for g in gateways for key_id in g.revoked_keys)
        self.stations = {g.id: frozenset(g.stations) for g in gateways}
        self.payload_keys = {(g.id, g.payload_key.key_id): g.payload_key.load() for g in gateways if g.payload_key}
        self.payload_keys |= {(g.id, k.key_id): replace(k.load(), valid_until_ms=int(k.valid_until.timestamp() * 1000))
                              for g in gateways for k in g.previous_payload_keys}
        self.retired_payload_keys = frozenset((g.id, key_id) for g in gateways for key_id in g.retired_payload_keys)
        self.encrypted_only = frozenset(g.id for g in gateways if g.payload_key)

    def key(self, gateway_id: str, key_id: str) -> SM2PublicKey | None:
        """The public key to verify with; a revoked key is refused by name, not as unknown."""
        if (gateway_id, key_id) in self.revoked:
            raise EnvelopeError("key_revoked", f"gateway {gateway_id!r} key {key_id!r} is revoked")
        return self.keys.get((gateway_id, key_id))

    def expired(self, gateway_id: str, key_id: str, created_ms: int) -> bool:
        """True for an envelope made after its (rotated-out) key's overlap ended."""
        until = self.valid_until_ms.get((gateway_id, key_id))
        return until is not None and created_ms > until

    def payload_key(self, gateway_id: str, key_id: str) -> PayloadKey | None:
        """The SM4 key to decrypt with (a rotated-out one carries the end of its overlap, which
        ``open_envelope`` checks); a retired key is refused by name, not as unknown."""
        if (gateway_id, key_id) in self.retired_payload_keys:
            raise EnvelopeError("payload_key_retired", f"gateway {gateway_id!r} SM4 key {key_id!r} is retired")
        return self.payload_keys.get((gateway_id, key_id))

    def requires_encryption(self, gateway_id: str) -> bool:
        """A gateway with a payload key may not fall back to clear text (no downgrade)."""
        return gateway_id in self.encrypted_only
