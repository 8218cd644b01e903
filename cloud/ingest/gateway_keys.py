"""The gateways' keys as ingest checks envelopes with them: which key ids a gateway may sign with
(and until when), which are revoked, which stations it serves, and the SM4 payload keys of a
gateway whose readings must travel encrypted (the current one, rotated-out ones until their
overlap ends, retired ids). Built from the registered gateways (cloud/gateways.py); not the
station registry (cloud/registry.py)."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.gateways_file import load_gateways_file
from watertel.crypto import SM2PublicKey
from watertel.crypto.sm4 import PayloadKey
from watertel.config import ConfigError
from watertel.envelope import EnvelopeError

log = logging.getLogger("watertel.cloud.ingest")
RELOAD_CHECK_S = 2.0  # how often a worker looks at the gateways file (a stat; it is read only when changed)


class GatewayKeys:
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


class GatewaysWatcher:
    """Reload ``GatewayKeys`` in place when its gateways file (``gateways_file:``) changes, so keys
    registered, rotated or revoked through the API (or by hand) apply without a restart.

    ``check`` is called every ``RELOAD_CHECK_S``; it compares the file's inode, size and mtime, so
    the API's atomic rename is always noticed. A file that fails validation (a half-saved hand
    edit, a missing key file) is not applied: the keys in use stay, the problems are logged once,
    and the next change is tried again. In place: the handler keeps the same object.
    """

    def __init__(self, keys: GatewayKeys, path: Path) -> None:
        self.keys, self.path = keys, path
        self.seen: tuple[int, int, int] | None = None  # the first check reads the file (it may have changed since start)

    def check(self) -> bool:
        """Whether a new version of the file was applied."""
        try:
            st = os.stat(self.path)
            signature = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            signature = (0, 0, 0)  # no file: no gateways (the API creates it at the first registration)
        if signature == self.seen:
            return False
        self.seen = signature
        try:
            fresh = GatewayKeys(load_gateways_file(self.path))
        except ConfigError as err:
            log.error("gateway keys not reloaded, the ones in use stay: %s", "; ".join(err.problems),
                      extra={"file": str(self.path)})
            return False
        except Exception:  # an unreadable key file between validation and use: same rule
            log.exception("gateway keys not reloaded from %s, the ones in use stay", self.path)
            return False
        changed = fresh.__dict__ != self.keys.__dict__
        self.keys.__dict__.update(fresh.__dict__)
        if changed:
            log.info("gateway keys reloaded from %s: %d gateways", self.path, len(fresh.stations))
        return changed
