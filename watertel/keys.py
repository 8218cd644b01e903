"""Gateway key files: an SM2 key pair as `<name>.key.pem` and `<name>.pub.pem` (both 0600 whatever
the umask), where the name is the gateway id, or its key id when keys are rotated (several keys
side by side)."""

from __future__ import annotations

from pathlib import Path

from watertel import private as private_file
from watertel.crypto import SM2PrivateKey
from watertel.ids import check_id


def write_key_pair(out_dir: Path, name: str, force: bool = False) -> tuple[Path, Path]:
    """Generate and write a key pair; refuse to replace an existing private key unless forced.

    ``name`` must be an id (watertel/ids.py): it becomes a file name inside ``out_dir``, never
    one outside it."""
    check_id(name, "key name")
    out_dir.mkdir(parents=True, exist_ok=True)
    secret, public = out_dir / f"{name}.key.pem", out_dir / f"{name}.pub.pem"
    if secret.exists() and not force:
        raise FileExistsError(f"{secret} exists (use --force to replace it)")
    key = SM2PrivateKey.generate()
    secret.unlink(missing_ok=True)
    with private_file.create(secret, exclusive=True) as f:  # never readable by others
        f.write(key.to_pem().encode())
    private_file.write(public, key.public.to_pem())
    return secret, public
