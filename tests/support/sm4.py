"""Every way an SM4 payload key's bytes could show up in text (none may)."""

from __future__ import annotations

from watertel.crypto.sm4 import PayloadKey


def key_texts(*keys: PayloadKey) -> list[str]:
    """Every way a key's bytes could show up in text."""
    return [form for key in keys for form in (key.key.hex(), key.key.hex().upper(), repr(key.key), str(key.key))]
