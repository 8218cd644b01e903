"""The upward forwarder's test data: readings of one station in an edge buffer, the forwarder's
config for a simulated platform, the platform's received values counted, and the forwarder run
in-process."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import yaml

from watertel.edge_agent.buffer import Buffer
from watertel.edge_agent.forward.config import load_forward_config
from watertel.edge_agent.forward.service import Forwarder
from watertel.readings import Reading

SZY, SL = "330102-1234", "0011223344"
POINTS = {
    "szy206": {"flow": {"element": "flow_1"}, "total": {"element": "volume_1"},
               "p_out": {"element": "pressure_1"}, "alarm": {"element": "alarm_state"}},
    "sl651": {"flow": {"element": "flow"}, "level": {"element": "water_level"},
              "p_out": {"element": "water_pressure_1", "bytes": 4, "decimals": 2},
              "volts": {"element": "supply_voltage"}},
}
ADDRESS = {"szy206": SZY, "sl651": SL}


def element_point(protocol: str) -> dict[str, str]:
    return {v["element"]: k for k, v in POINTS[protocol].items()}


def station_readings(protocol: str, n: int, start_ms: int, first: int = 0) -> list[Reading]:
    """n samples a minute apart of the station's four points; flows go negative now and then."""
    out = []
    for i in range(first, first + n):
        t = start_ms + i * 60_000
        flow = round((-1 if i % 7 == 3 else 1) * (12.345 + i * 0.5), 3)
        values = {"flow": flow, "level": round(10 + i * 0.01, 3)} if protocol == "sl651" else \
            {"flow": flow, "total": 100_000.0 + 17 * i, "alarm": float(i % 3)}
        values["p_out"] = round(250.5 + i, 2)
        if protocol == "sl651":
            values["volts"] = 12.5
        out += [Reading("ST-1", p, t, v, "-") for p, v in values.items()]
    out.append(Reading("ST-1", "unmapped", start_ms, 1.0, "-"))  # not in the config: never sent
    return out


def fill_buffer(path: Path, readings: list[Reading]) -> None:
    buffer = Buffer(path, "gw-1")
    try:
        buffer.add(readings)
    finally:
        buffer.close()


def minutes_ago(n: int) -> int:
    """n minutes ago, on a whole minute (so a day's SZY time labels resolve to these days)."""
    return (int(time.time()) // 60 - n - 1) * 60_000


def forward_config(tmp: Path, protocol: str, port: int, name: str = "forward.yaml", **platform) -> Path:
    cfg = {"source": {"buffer": "gw-1.db"}, "state": f"forward-{protocol}.db",
           "platform": {"protocol": protocol, "connect": f"127.0.0.1:{port}", "ack_timeout_s": 2,
                        "retry_first_s": 0.1, "retry_max_s": 0.5, "keepalive_s": 5, **platform},
           "poll_s": 0.05, "settle_s": 0.5,
           "stations": [{"station": "ST-1", "address": ADDRESS[protocol], "points": POINTS[protocol]}]}
    path = tmp / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def received(protocol: str, reports: list[dict], acknowledged_only: bool = True) -> Counter:
    """(point, t_ms, value) of every value the platform took, counted."""
    point_of = element_point(protocol)
    got: Counter = Counter()
    for rec in reports:
        if acknowledged_only and not rec["acknowledged"]:
            continue
        for key, value in rec["values"].items():
            if key == "alarm_state" and "flow_1" not in rec["values"]:
                continue  # the alarm word rides in every SZY report: counted with the flow/volume one
            if key in point_of:
                got[(point_of[key], rec["t_ms"], value)] += 1
            elif key != "terminal_state" and key != "alarm_state":
                raise AssertionError(f"unexpected value {key} in {rec}")
    return got


def expected(readings: list[Reading]) -> Counter:
    return Counter((r.point, r.t_ms, r.value) for r in readings if r.point != "unmapped")


def assert_once(protocol: str, reports: list[dict], readings: list[Reading]) -> None:
    got, want = received(protocol, reports), expected(readings)
    assert set(got) == set(want), (sorted(set(want) - set(got))[:5], sorted(set(got) - set(want))[:5])
    assert all(n == 1 for n in got.values()), [k for k, n in got.items() if n > 1][:5]


async def until(check, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def forwarding(cfg_path: Path):
    forwarder = Forwarder(load_forward_config(cfg_path))
    stop = asyncio.Event()
    return forwarder, stop, asyncio.create_task(forwarder.run(stop))
