"""What `watertel sim fleet` writes before it starts: keys, the cloud config and the station registry.

Layout of ``--out DIR``::

    DIR/.watertel-fleet          marker: the next run may wipe the folder (it keeps and reuses keys/)
    DIR/keys/<gw>.key.pem        SM2 private key of each gateway (0600), as `watertel keys new` writes it
    DIR/keys/<gw>.pub.pem        its public key, named in cloud.yaml
    DIR/registry.yaml            one station per gateway, in service exactly over the run window
    DIR/cloud.yaml               a full cloud config (SQLite in DIR/cloud-data) listing every gateway
    DIR/oracle.json              at the end: the rates the cloud must compute (fleet_oracle.py)

Gateway i is ``fleet-gw-<i>`` with key id ``fleet-gw-<i>-k1`` and reports for station
``FLEET-<i>``; stations are grouped 500 to a county under one province and city so the report's
roll-up has several regions.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from watertel.simulators.fleet_oracle import RULES
from watertel.crypto import SM2PrivateKey, SM2PublicKey
from watertel.crypto.sm2_common import PKCS8_HEAD, PKCS8_MID
from watertel.errors import OperatorError

MARKER = ".watertel-fleet"
POINTS = (("flow", "m3/h"), ("total", "m3"))
STATIONS_PER_COUNTY = 500


def gateway_id(i: int) -> str:
    return f"fleet-gw-{i:05d}"


def station_id(i: int) -> str:
    return f"FLEET-{i:05d}"


def county_id(i: int) -> str:
    return f"fleet-k{i // STATIONS_PER_COUNTY:03d}"


@dataclass(frozen=True)
class Window:
    """The run in time: slots ``start_ms + k * interval_ms`` for k in 0..slots-1, local calendar ``tz``."""

    start_ms: int
    interval_ms: int
    slots: int
    tz: str

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.slots * self.interval_ms

    def iso(self, t_ms: int) -> str:
        return dt.datetime.fromtimestamp(t_ms / 1000, ZoneInfo(self.tz)).isoformat(timespec="milliseconds")


def plan_window(now_ms: int, lead_s: float, interval_s: int, duration_s: float, tz: str) -> Window:
    """The first slot on the rates' grid (local midnight + k * interval) at least ``lead_s`` ahead.

    The cloud lays slots on that grid from the report period's first local midnight, so the run
    starts on it and each station's service time [start, end) holds exactly ``slots`` slots.
    """
    zone = ZoneInfo(tz)
    earliest = now_ms + int(lead_s * 1000)
    day = dt.datetime.fromtimestamp(earliest / 1000, zone).date()
    midnight = int(dt.datetime.combine(day, dt.time(), tzinfo=zone).timestamp() * 1000)
    step = interval_s * 1000
    start = midnight + math.ceil((earliest - midnight) / step) * step
    return Window(start, step, max(1, math.ceil(duration_s / interval_s)), tz)


def prepare_dir(out: Path) -> None:
    """An empty folder, or one an earlier fleet run left: wiped but for its keys, which the next
    run reuses (4,000 new key pairs take a minute). Anything else is refused."""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise OperatorError(f"{out} exists and was not written by `watertel sim fleet`; choose another --out")
    for entry in out.iterdir() if out.exists() else []:
        if entry.name != "keys":
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    (out / "keys").mkdir(parents=True, exist_ok=True)
    (out / MARKER).touch()


def _new_key(_: int) -> tuple[int, bytes]:
    key = SM2PrivateKey.generate()  # the public point is pure-Python curve arithmetic: ~8 ms
    return key.secret, key.public.point


def _key_files(out: Path, i: int) -> tuple[Path, Path]:
    return out / "keys" / f"{gateway_id(i)}.key.pem", out / "keys" / f"{gateway_id(i)}.pub.pem"


def _load_key(out: Path, i: int) -> SM2PrivateKey | None:
    """A key pair an earlier run wrote, read without redoing the curve arithmetic: the PKCS#8
    file carries the public point, checked against the .pub.pem beside it."""
    private, public = _key_files(out, i)
    if not (private.exists() and public.exists()):
        return None
    der = base64.b64decode("".join(l for l in private.read_text().splitlines() if not l.startswith("-----")))
    head, mid = len(PKCS8_HEAD), len(PKCS8_HEAD) + 32
    if not der.startswith(PKCS8_HEAD) or der[mid:mid + len(PKCS8_MID)] != PKCS8_MID:
        return None
    key = SM2PrivateKey(int.from_bytes(der[head:mid], "big"), SM2PublicKey(der[mid + len(PKCS8_MID):]))
    return key if SM2PublicKey.from_pem(public.read_text()) == key.public else None


def make_keys(out: Path, n: int) -> tuple[list[SM2PrivateKey], int]:
    """N key pairs as ``keys/<gw>.{key,pub}.pem``: those an earlier run left, and new ones made
    across the cores (~8 ms each on one). Returns the keys and how many were new."""
    keys: list[SM2PrivateKey | None] = [_load_key(out, i) for i in range(n)]
    fresh = [i for i, key in enumerate(keys) if key is None]
    if len(fresh) >= 64 and (os.cpu_count() or 1) > 1:
        with ProcessPoolExecutor() as pool:
            pairs = list(pool.map(_new_key, fresh, chunksize=32))
    else:
        pairs = [_new_key(i) for i in fresh]
    for i, (secret, point) in zip(fresh, pairs):
        key = keys[i] = SM2PrivateKey(secret, SM2PublicKey(point))
        private, public = _key_files(out, i)
        private.unlink(missing_ok=True)
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
        with os.fdopen(fd, "w") as f:
            f.write(key.to_pem())
        public.write_text(key.public.to_pem())
    return keys, len(fresh)


def _write_atomically(path: Path, data: dict) -> None:
    """Readers (a test waiting for cloud.yaml) never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    tmp.replace(path)


def write_registry(out: Path, n: int, window: Window) -> Path:
    """One station per gateway, ``interval_seconds``, commissioned at the first slot and
    decommissioned at the end of the last, as aware date-times."""
    counties = sorted({county_id(i) for i in range(n)})
    path = out / "registry.yaml"
    _write_atomically(path, {
        "provinces": [{"id": "fleet", "name": "fleet province", "cities": [
            {"id": "fleet-c", "name": "fleet city", "counties": [{"id": c, "name": c} for c in counties]}]}],
        "stations": [{"id": station_id(i), "region": county_id(i), "kind": "intake",
                      "interval_seconds": window.interval_ms // 1000, "points": [p for p, _ in POINTS],
                      "commissioned": window.iso(window.start_ms), "decommissioned": window.iso(window.end_ms)}
                     for i in range(n)],
    })
    return path


def write_cloud_config(out: Path, n: int, host: str, port: int, topic_prefix: str, tz: str, on_time_s: float,
                       api_port: int) -> Path:
    """A cloud.yaml for this run: every gateway with its key and station, the registry, and the
    timeliness window of the compressed run (``quality.on_time_minutes``)."""
    path = out / "cloud.yaml"
    _write_atomically(path, {
        "data_dir": "cloud-data",
        "mqtt": {"host": host, "port": port, "topic_prefix": topic_prefix, "client_id": "watertel-fleet-ingest"},
        "api": {"host": "127.0.0.1", "port": api_port},
        "registry_file": "registry.yaml",
        "quality": {"timezone": tz, "on_time_minutes": on_time_s / 60, **RULES},  # the oracle's rules, stated
        "reports": {"scheduled": False},
        "gateways": [{"id": gateway_id(i), "key_id": f"{gateway_id(i)}-k1",
                      "public_key": f"keys/{gateway_id(i)}.pub.pem", "stations": [station_id(i)]} for i in range(n)],
    })
    return path
