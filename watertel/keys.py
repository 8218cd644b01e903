"""Gateway key files: an SM2 key pair as `<name>.key.pem` (0600) and `<name>.pub.pem`, where the
name is the gateway id, or its key id when keys are rotated (several keys side by side)."""

from __future__ import annotations

import os
from pathlib import Path

from watertel.crypto import SM2PrivateKey


def write_key_pair(out_dir: Path, name: str, force: bool = False) -> tuple[Path, Path]:
    """Generate and write a key pair; refuse to replace an existing private key unless forced."""
    out_dir.mkdir(parents=True, exist_ok=True)
    private, public = out_dir / f"{name}.key.pem", out_dir / f"{name}.pub.pem"
    if private.exists() and not force:
        raise FileExistsError(f"{private} exists (use --force to replace it)")
    key = SM2PrivateKey.generate()
    private.unlink(missing_ok=True)
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
    with os.fdopen(fd, "w") as f:
        f.write(key.to_pem())
    public.write_text(key.public.to_pem())
    return private, public
