"""Local health: the agent writes a small JSON status file; `watertel edge status` reads it.

A file (not an HTTP port) because it needs no listening socket on the gateway, survives the
agent (the last state before a crash stays readable) and is written atomically (rename).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

from watertel.edge_agent.verdict import HINTS

STALE_S = 30.0  # the agent rewrites the file every few seconds; older means it is not running


def write_status(path: Path, status: dict[str, Any]) -> None:
    """The JSON status, and beside it the same figures for node_exporter's textfile collector
    (``<status>.prom``), so a gateway is monitored without a metrics port or another package.
    The .prom is 0644 whatever the unit's UMask: node_exporter reads it as another user."""
    for target, text, mode in ((path, json.dumps(status, indent=1, sort_keys=True), None),
                               (path.with_suffix(".prom"), prometheus_text(status), 0o644)):
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)


def prometheus_text(status: dict[str, Any]) -> str:
    buf, up, gw = status["buffer"], status["uplink"], status["gateway_id"]
    lines = [f'watertel_edge_uplink_connected{{gateway="{gw}"}} {int(up["connected"])}']
    for name in ("polled", "published", "dropped", "unrecorded"):
        lines.append(f'watertel_edge_readings_{name}_total{{gateway="{gw}"}} {buf.get(name, 0)}')
    for name in ("unsealed", "batches_pending", "bytes"):
        lines.append(f'watertel_edge_buffer_{name}{{gateway="{gw}"}} {buf[name]}')
    lines += _cloud_metrics(status.get("cloud") or {}, gw)
    for device, d in sorted(status["devices"].items()):
        labels = f'gateway="{gw}",device="{device}"'
        lines += [f"watertel_edge_device_polls_total{{{labels}}} {d['polls']}",
                  f"watertel_edge_device_errors_total{{{labels}}} {d['errors']}",
                  f"watertel_edge_device_circuit_open{{{labels}}} {int(d['circuit_open'])}"]
        if d["last_good_ms"]:
            lines.append(f"watertel_edge_device_last_good_seconds{{{labels}}} {d['last_good_ms'] / 1000:.3f}")
    return "\n".join(lines) + "\n"


def _cloud_metrics(cloud: dict[str, Any], gw: str) -> list[str]:
    """Envelopes the cloud refused and notices not believed, a counter per reason; 1 per reason the
    cloud refuses now (0 for one it refused before)."""
    refusing = cloud.get("refusing") or {}
    lines = []
    for reason, n in sorted((cloud.get("refused_envelopes") or {}).items()):
        labels = f'gateway="{gw}",reason="{reason}"'
        lines += [f"watertel_edge_cloud_refused_envelopes_total{{{labels}}} {n}",
                  f"watertel_edge_cloud_refusing{{{labels}}} {int(reason in refusing)}"]
    for reason, n in sorted((cloud.get("ignored_notices") or {}).items()):
        lines.append(f'watertel_edge_cloud_notices_ignored_total{{gateway="{gw}",reason="{reason}"}} {n}')
    return lines


def read_status(path: Path) -> dict[str, Any]:
    """The last status written, with ``age_s`` and ``running`` (fresh and its process alive)."""
    status = json.loads(path.read_text())
    status["age_s"] = round(time.time() - status["updated_ms"] / 1000, 1)
    status["running"] = status["age_s"] < STALE_S and _alive(status.get("pid", 0))
    return status


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return pid > 0


def summary_lines(status: dict[str, Any]) -> list[str]:
    """A few lines for a field engineer's terminal."""
    buf, up = status["buffer"], status["uplink"]
    ack = "" if up["last_ack_ms"] is None else f", last broker acknowledgement {_ago(up['last_ack_ms'])}"
    lines = [
        f"gateway {status['gateway_id']}: {'running' if status['running'] else 'NOT RUNNING'} "
        f"(status {status['age_s']} s old, pid {status['pid']}, version {status['version']})",
        f"uplink: {'connected to ' + str(up['broker']) if up['connected'] else _down(up)}{ack}",
        f"buffer: {buf['unsealed']} readings waiting, {buf['batches_pending']} batches unsent, "
        f"{buf['bytes'] // 1024} KiB, {buf.get('dropped', 0)} dropped, {buf.get('unrecorded', 0)} unrecorded",
        *_cloud_lines(status.get("cloud")),
    ]
    if status.get("config_sm3"):
        change = status.get("config_change") or {}
        last = f", last change {change['state']} ({change.get('reason') or change.get('command_id')})" if change else ""
        lines.append(f"config: sm3 {status['config_sm3'][:16]}{last}")
    clock = status.get("clock") or {}
    if "offset_ms" in clock:
        lines.append(f"clock: {clock['offset_ms'] / 1000:+.1f} s against the cloud's last check ({clock['action']})")
    if status.get("buffer_full"):
        lines.append("buffer_full: readings were dropped or not recorded lately (reported to the cloud)")
    for name, dev in sorted(status["devices"].items()):
        good = "never" if dev["last_good_ms"] is None else _ago(dev["last_good_ms"])
        state = " CIRCUIT OPEN" if dev["circuit_open"] else ""
        lines.append(f"device {name} ({dev['bus']}): last good poll {good}, {dev['errors']}/{dev['polls']} "
                     f"polls failed{state}{' - ' + dev['last_error'] if dev['errors'] else ''}")
    return lines


def _cloud_lines(cloud: dict[str, Any] | None) -> list[str]:
    """The cloud's verdict as its notices told it; a broker acknowledgement alone is never "delivered"."""
    if cloud is None:  # a status file written before the agent took notices
        return []
    if not cloud.get("verified"):
        return ["cloud: verdict unknown (no commands.cloud_public_key to verify the cloud's notices): a broker"
                " acknowledgement does not say the cloud stored a batch"]
    refusing = _refusing(cloud)
    lines = [f"cloud refuses: {reason} since {_clock(e['since_ms'])}, {e['envelopes']} envelope"
             f"{'s' if e['envelopes'] != 1 else ''} (last seq {e.get('seq', '?')}, key id {e.get('key_id', '?')}):"
             f" {HINTS.get(reason, 'see the cloud quarantine for the reason')}" for reason, e in sorted(refusing.items())]
    if not refusing:
        again = f"; accepted again since {_clock(cloud['accepted_ms'])}" if cloud.get("accepted_ms") else ""
        lines.append(f"cloud: no refusal notified{again}")
    ignored = cloud.get("ignored_notices") or {}
    if ignored:
        lines.append(f"cloud notices ignored: {sum(ignored.values())} ("
                     + ", ".join(f"{r} {n}" for r, n in sorted(ignored.items())) + ")")
    return lines


def _refusing(cloud: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The refusals still valid now (a status file may be older than a refusal's end)."""
    now = time.time() * 1000
    return {r: e for r, e in ((cloud or {}).get("refusing") or {}).items() if e.get("until_ms", 0) > now}


def cloud_refuses(status: dict[str, Any]) -> bool:
    """The agent runs and the cloud refuses its envelopes: `edge status` exits 3."""
    return bool(status["running"] and _refusing(status.get("cloud")))


def _clock(ms: int) -> str:
    """A wall-clock time for a field engineer: HH:MM today, with the date before."""
    when = dt.datetime.fromtimestamp(ms / 1000)
    return when.strftime("%H:%M" if when.date() == dt.date.today() else "%Y-%m-%d %H:%M")


def _down(uplink: dict[str, Any]) -> str:
    """Why the uplink is down, as far as the agent knows (older status files have no reason)."""
    since = f" since {_ago(uplink['down_since_ms'])}" if uplink.get("down_since_ms") else ""
    error, failures = uplink.get("last_error"), uplink.get("failures", 0)
    tries = f" ({failures} attempt{'s' if failures != 1 else ''} failed)" if failures else ""
    return f"DOWN{since}{tries}: {error}" if error else f"DOWN{since} (connecting)"


def uplink_down(status: dict[str, Any]) -> bool:
    """The agent runs but its uplink is not connected: `edge status` exits 2."""
    return bool(status["running"] and not status["uplink"]["connected"])


def _ago(ms: int) -> str:
    return f"{max(0.0, time.time() - ms / 1000):.0f} s ago"
