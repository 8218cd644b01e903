"""Scenario events in the values a real Modbus client reads, at the scheduled simulated times,
with a manual clock (so the times are exact), and the ground truth that records them."""

from __future__ import annotations

import asyncio
import json

from watertel.simulators.config import SimConfig
from watertel.ports import free_port

from tests.support.sim import T0, poll_at, served, write_scenario

SCENARIO = """
events:
  - {at: 1h, kind: leak, rate: 120}
  - {at: 30m, for: 5m, kind: spike, device: fm, point: flow, value: 790}
  - {at: 80m, for: 20m, kind: stuck_zero, device: fm, point: velocity}
  - {at: 90m, kind: drift, device: pt, point: pressure, rate: 0.1, note: transmitter drifting up}
  - {at: 2h, kind: rollover, device: fm, point: total}
  - {at: 150m, kind: reset, device: fm, point: total, value: 7}
  - {at: 160m, kind: clock_jump, gateway: gw-1, offset: -3600}
"""
READS = [(1, 3, 0, 8), (2, 4, 0, 1)]  # the flow meter's values and totaliser; the pressure


def _config(tmp_path, port: int, tick_s: float = 60, seed: int = 1) -> SimConfig:
    return SimConfig.model_validate({
        "served_log": str(tmp_path / "served.jsonl"), "truth_log": str(tmp_path / "truth.jsonl"), "devices": [
            {"name": "fm", "profile": "emf_flow_meter", "unit_id": 1, "seed": seed, "transport": {"kind": "tcp", "port": port},
             "model": {"kind": "inlet", "tick_s": tick_s, "totals": {"total": 1000}}},
            {"name": "pt", "profile": "pressure_4_20ma", "unit_id": 2, "seed": seed, "transport": {"kind": "tcp", "port": port},
             "model": {"kind": "pressure", "tick_s": tick_s}}]})


def _at(series, t: float) -> float:
    return next(v for ts, v, _ in series if ts == t)


def test_events_appear_in_the_served_values_at_their_simulated_times(tmp_path):
    scenario = write_scenario(tmp_path / "s.yaml", SCENARIO)
    times = [m * 60 for m in range(0, 181, 1)]  # every simulated minute for three hours
    asyncio.run(poll_at(_config(tmp_path, free_port()), times, READS, scenario))
    log = served(tmp_path / "served.jsonl")
    flow, velocity, total, pressure = (log[k] for k in (("fm", "flow"), ("fm", "velocity"), ("fm", "total"),
                                                        ("pt", "pressure")))

    # spike: 790 m³/h from 30 min for 5 min, and nowhere else
    assert [t for t, v, _ in flow if v == 790] == [m * 60 for m in range(30, 35)]
    # burst at 1 h: +120 m³/h at the inlet and the pressure falls, within one tick
    assert _at(flow, 3600) - _at(flow, 3540) > 100
    assert _at(pressure, 3540) - _at(pressure, 3600) > 0.1
    # stuck at zero from 80 to 100 min
    assert {t for t, v, _ in velocity if v == 0} == {m * 60 for m in range(80, 100)}
    # drift: +0.1 MPa per hour from 90 min on top of the physics
    assert 0.04 < _at(pressure, 120 * 60) - _at(pressure, 89 * 60) < 0.06
    # rollover at 2 h: just below the u32 limit, then counting again from zero
    assert _at(total, 119 * 60) > 4294967295 - 3 and _at(total, 120 * 60) < 2
    # reset (meter replaced) at 150 min: starts again at 7 m³
    assert 7 <= _at(total, 150 * 60) < 9 and _at(total, 149 * 60) > 40

    truth = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    starts = {r["kind"]: r["t_sim"] - T0 for r in truth if r["phase"] == "start"}
    assert starts == {"leak": 3600, "spike": 1800, "stuck_zero": 4800, "drift": 5400, "rollover": 7200,
                      "reset": 9000, "clock_jump": 9600}
    assert {r["kind"]: r["t_sim"] - T0 for r in truth if r["phase"] == "end"} == {"spike": 2100, "stuck_zero": 6000}
    jump = next(r for r in truth if r["kind"] == "clock_jump" and r["phase"] == "start")
    assert jump["gateway"] == "gw-1" and jump["offset"] == -3600 and jump["t_wall"] > 0


def test_the_totaliser_is_the_integral_of_the_served_flow(tmp_path):
    """Read at every tick: each totaliser step is the served flow times the tick, to the litre
    (the u16 fraction register), across a leak and through the composite register."""
    scenario = write_scenario(tmp_path / "s.yaml", "events: [{at: 20m, kind: leak, rate: 40, growth: ramp, ramp: 30m}]\n")
    tick = 30.0
    asyncio.run(poll_at(_config(tmp_path, free_port(), tick_s=tick), [k * tick for k in range(240)], READS, scenario))
    log = served(tmp_path / "served.jsonl")
    flows, totals = [v for _, v, _ in log[("fm", "flow")]], [v for _, v, _ in log[("fm", "total")]]
    integral = 1000.0
    for k in range(1, len(totals)):
        integral += flows[k - 1] * tick / 3600
        assert abs(totals[k] - integral) < 0.001 + 1e-9, f"tick {k}: total {totals[k]}, integral {integral}"
    assert totals[-1] - totals[0] > 100  # it did count (two hours at ~45–100 m³/h)


def test_same_seed_serves_the_same_log_and_another_seed_does_not(tmp_path):
    scenario = write_scenario(tmp_path / "s.yaml", SCENARIO)
    times = [m * 60 + 7 for m in range(0, 180, 3)]

    def run(name: str, seed: int) -> list[dict]:
        folder = tmp_path / name
        folder.mkdir()
        asyncio.run(poll_at(_config(folder, free_port(), tick_s=1, seed=seed), times, READS, scenario))
        return [{k: v for k, v in json.loads(line).items() if k != "t"}  # wall time differs, of course
                for line in (folder / "served.jsonl").read_text().splitlines()]

    first, again, other = run("a", 5), run("b", 5), run("c", 6)
    assert len(first) == len(times) * 4 and first == again
    differ = [a["point"] for a, c in zip(first, other) if a["value"] != c["value"]]
    assert {"flow", "velocity", "pressure"} <= set(differ)  # the sensor noise depends on the seed
