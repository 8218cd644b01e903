"""The gateways file (``gateways_file:`` in the cloud config): the gateways and their keys kept apart
from the config, so the API can register, rotate and revoke keys and the ingest workers pick the
change up while running (cloud/ingest/gateway_keys.py ``GatewaysWatcher``).

Its format is the config's ``gateways:`` list under the same key::

    gateways:
      - {id: gw-1, key_id: gw-1-k2, public_key: gateway-keys/gw-1/gw-1-k2.pub.pem, stations: [S1]}

Relative paths are relative to the file's folder. A missing file means no gateway yet (the API
creates it at the first registration). The API writes it atomically (temp file, fsync, rename, the
previous one kept as ``.bak``), so a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import model_validator

from watertel.cloud.gateways import GatewayEntry
from watertel.config import ConfigError, Strict, parse_yaml, validate
from watertel.crypto import SM2PublicKey

KEYS_DIR = "gateway-keys"  # public keys posted to the API: <folder of the file>/gateway-keys/<gateway>/<key id>.pub.pem


class GatewaysFile(Strict):
    gateways: list[GatewayEntry] = []

    @model_validator(mode="after")
    def _unique(self) -> GatewaysFile:
        ids = [g.id for g in self.gateways]
        if twice := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"gateways: each id only once (twice: {twice})")
        return self


def read_data(path: Path) -> dict[str, Any]:
    """The file's data as written (relative paths kept), ``{"gateways": []}`` when there is none."""
    if not path.exists():
        return {"gateways": []}
    data, _ = parse_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(path, [f"{path}: write a mapping with a gateways: list"])
    data.setdefault("gateways", [])
    return data


def gateways_of(path: Path, data: Any, node: Any = None) -> list[GatewayEntry]:
    """Validate ``data`` as the content of ``path``: the model, then every key file (present and a
    valid SM2 public key or SM4 key). Problems name the file, gateway index and key."""
    model = validate(path, data, node, GatewaysFile)
    base = path.parent
    gateways = [g.resolved(base) for g in model.gateways]
    problems = [p for i, g in enumerate(gateways) for p in _key_problems(path, i, g)]
    if problems:
        raise ConfigError(path, problems)
    return gateways


def load_gateways_file(path: Path) -> list[GatewayEntry]:
    """The validated gateways of the file (none if it does not exist yet)."""
    if not path.exists():
        return []
    data, node = parse_yaml(path)
    return gateways_of(path, data, node)


def _key_problems(path: Path, i: int, g: GatewayEntry) -> list[str]:
    problems = []
    for where, file in [("public_key", g.public_key),
                        *((f"previous_keys.{j}.public_key", k.public_key) for j, k in enumerate(g.previous_keys))]:
        try:
            SM2PublicKey.from_pem(file.read_text(encoding="ascii"))
        except OSError as err:
            problems.append(f"{path}: gateways.{i}.{where}: cannot read {file} ({err.strerror}; copy it from `watertel keys new`)")
        except Exception as err:  # not PEM, or not an SM2 key: the reason, never the content
            problems.append(f"{path}: gateways.{i}.{where}: {file} is not an SM2 public key PEM ({err})")
    if g.payload_key and (problem := g.payload_key.problem(path, f"gateways.{i}.payload_key")):
        problems.append(problem)
    problems += [problem for j, k in enumerate(g.previous_payload_keys)
                 if (problem := k.problem(path, f"gateways.{i}.previous_payload_keys.{j}"))]
    return problems
