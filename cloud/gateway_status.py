"""The gateways' status as the cloud last heard it (the console's and the CLI's "fleet" view): every
gateway's agent version, config hash, clock offset, buffer depth and last contact (`watertel cloud
fleet --config cloud.yaml`, ``GET /api/fleet``). Not the simulated gateways of simulators/fleet*.py.

The ingest keeps the latest status message of each gateway (the retained birth, refreshed by the
agent every ``uplink.status_every_s``) in ``<data_dir>/fleet/<gateway>.status.json`` and the time
it last heard from the gateway (status or envelope) in ``<gateway>.contact``. Files rather than a
table: no schema migration, each written atomically by rename, one writer per gateway and kind,
so several ingest workers never overwrite each other's gateways. Only status messages signed by
the gateway's registered key and newer than the last are recorded (cloud/ingest/status.py).

Clock offset: the one the agent measured against the last signed check_clock / set_time if it
has one, else an estimate from the status message's own timestamp against the time it arrived
(the delivery delay counts as offset; a retained copy delivered again is not used).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from watertel.cloud.files import write_atomic
from watertel.ids import check_id

PRESENCE_FIELDS = ("state", "session", "n", "key_id", "will")  # what a will or a stop says (watertel/presence.py)
TOUCH_EVERY_S = 10.0  # last contact from envelopes is written at most this often per gateway


class GatewayStatus:
    """The latest status and last contact of each gateway, one small file each."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._touched: dict[str, float] = {}

    def _path(self, gateway: str, kind: str) -> Path:
        return self.folder / f"{check_id(gateway, 'gateway')}.{kind}"  # a file name: never `..` or a path

    def record(self, gateway: str, status: dict[str, Any], received_ms: int) -> None:
        """Keep a status message (as the gateway sent it) and when it arrived.

        The broker's retained copy of the status already kept (same state, same ``t_ms``), as it
        comes again whenever the cloud subscribes (a restart), is not contact: nothing was heard
        from the gateway, and a dead one must not look alive after a restart."""
        self.folder.mkdir(parents=True, exist_ok=True)
        previous = self.status(gateway)
        if status.get("state") in ("offline", "stopped") and previous:  # the will says only that: keep what is known
            status = {**previous["status"], **{k: v for k, v in status.items() if k in PRESENCE_FIELDS}}
        t_ms = status.get("t_ms")
        if previous is not None and isinstance(t_ms, int) and previous.get("status") == status:
            return
        entry = {"received_ms": received_ms, "status": status}
        if isinstance(t_ms, int) and (previous is None or previous["status"].get("t_ms") != t_ms):
            entry["clock_estimate_ms"] = t_ms - received_ms
        elif previous is not None and "clock_estimate_ms" in previous:  # a retained copy again: keep the estimate
            entry["clock_estimate_ms"] = previous["clock_estimate_ms"]
        write_atomic(self._path(gateway, "status.json"), json.dumps(entry, sort_keys=True), backup=False, durable=False)
        self.touch(gateway, received_ms, force=True)

    def touch(self, gateway: str, now_ms: int, force: bool = False) -> None:
        """Note that the gateway was heard from (an envelope stored)."""
        if not force and time.monotonic() - self._touched.get(gateway, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
            return
        self._touched[gateway] = time.monotonic()
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(self._path(gateway, "contact"), str(now_ms), backup=False, durable=False)

    def status(self, gateway: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._path(gateway, "status.json").read_text())
        except (OSError, ValueError):
            return None

    def last_contact_ms(self, gateway: str) -> int | None:
        try:
            return int(self._path(gateway, "contact").read_text())
        except (OSError, ValueError):
            return None

    def row(self, gateway: str) -> dict[str, Any]:
        """One gateway's line of the status view (None where nothing was heard yet).

        A status message is not signed: a field of an unexpected type shows as None, never as
        an error of the whole view."""
        entry = self.status(gateway) or {}
        status = _field(entry.get("status"), dict) or {}
        clock, buffer = _field(status.get("clock"), dict) or {}, _field(status.get("buffer"), dict) or {}
        if "offset_ms" in clock:
            offset, source = _field(clock["offset_ms"], (int, float)), "check_clock"
        else:
            offset, source = entry.get("clock_estimate_ms"), "status" if "clock_estimate_ms" in entry else None
        change = _field(status.get("config_change"), dict) or {}
        state = _field(change.get("state"), str)
        return {
            "gateway": gateway, "state": _field(status.get("state"), str), "version": _field(status.get("version"), str),
            "config_sm3": _field(status.get("config_sm3"), str), "clock_offset_ms": offset, "clock_offset_source": source,
            "clock_synchronised": _field(clock.get("synchronised"), bool),
            "buffer_unsealed": _field(buffer.get("unsealed"), int),
            "buffer_batches_pending": _field(buffer.get("batches_pending"), int),
            "buffer_bytes": _field(buffer.get("bytes"), int),
            "conditions": sorted(str(c) for c in _field(status.get("conditions"), dict) or {}),
            "last_config_change": state and f"{state} ({_field(change.get('command_id'), str)})",
            "last_contact_ms": self.last_contact_ms(gateway), "status_received_ms": entry.get("received_ms"),
        }


def _field(value: Any, kind: type | tuple[type, ...]) -> Any:
    """``value`` if it is of ``kind`` (a bool is not a number here), else None."""
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        return None
    return value if isinstance(value, kind) else None


def _ago(ms: int | None, now: float) -> str:
    return "never" if ms is None else f"{max(0.0, now - ms / 1000):.0f} s ago"


def status_table(rows: list[dict[str, Any]], now: float | None = None) -> str:
    """The gateways' rows as aligned text columns for an operator's terminal."""
    now = time.time() if now is None else now
    head = ("gateway", "state", "version", "config", "clock offset", "buffer", "conditions", "last contact")
    lines = [head]
    for r in rows:
        offset = "?" if r["clock_offset_ms"] is None else f"{r['clock_offset_ms'] / 1000:+.1f} s ({r['clock_offset_source']})"
        buffer = "?" if r["buffer_unsealed"] is None else f"{r['buffer_unsealed']} readings + {r['buffer_batches_pending']} batches"
        lines.append((r["gateway"], r["state"] or "-", r["version"] or "-", (r["config_sm3"] or "-")[:16], offset, buffer,
                      ",".join(r["conditions"]) or "-", _ago(r["last_contact_ms"], now)))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)
