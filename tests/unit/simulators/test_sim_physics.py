"""The site physics hangs together over a simulated day, and every shipped profile served with
its default model reads in range through the edge poller.

This file holds the tests that need no server and start no process; the others are in
tests/integration/simulators/test_sim_physics.py."""

from __future__ import annotations

import pytest

from watertel import firmware_profiles
from watertel.simulators.config import ModelConfig, SiteConfig
from watertel.simulators.effects import DeviceEffects
from watertel.simulators.physics import PhysicsState

from tests.support.sim import T0


def _day(profile: str, kind: str, step_s: int = 600, seed: int = 3) -> list[dict[str, float]]:
    """The device's values every ``step_s`` over one simulated day from local midnight."""
    p = firmware_profiles.load(profile)
    state = PhysicsState(p, ModelConfig(kind=kind, tick_s=60), SiteConfig(), DeviceEffects("d", p, []), seed, T0)
    out = []
    for t in range(0, 86400, step_s):
        state.advance(T0 + t)
        out.append(dict(state.values, hour=t / 3600))
    return out


def test_demand_has_a_night_minimum_and_pressure_and_chlorine_follow_it():
    flow, pressure, wq = _day("emf_flow_meter", "inlet"), _day("pressure_4_20ma", "pressure"), _day("wq_multiparam", "water_quality")
    lowest = min(flow, key=lambda v: v["flow"])
    assert 2 <= lowest["hour"] <= 4.5, "minimum night flow between 02:00 and 04:30"
    mean = sum(v["flow"] for v in flow) / len(flow)
    assert 0.25 < lowest["flow"] / mean < 0.45  # night_factor 0.35, plus noise and the day's factor
    peak = max(flow, key=lambda v: v["flow"])
    assert 6 <= peak["hour"] <= 9 or 18 <= peak["hour"] <= 21
    at = lambda series, hour, key: next(v[key] for v in series if v["hour"] == hour)
    assert at(pressure, 3, "pressure") - at(pressure, 8, "pressure") > 0.15  # high demand, more head loss
    assert at(wq, 8, "free_chlorine") - at(wq, 3, "free_chlorine") > 0.1  # older water at night: less chlorine
    assert all(0.05 <= v["free_chlorine"] <= 0.8 for v in wq)


def test_pumps_run_on_schedule_and_the_well_draws_down():
    pump, energy, level = _day("pump_vfd", "pump"), _day("energy_meter", "energy"), _day("well_level", "level")
    assert {v["running"] for v in pump if v["hour"] < 5 or v["hour"] >= 23} == {0.0}
    assert {v["running"] for v in pump if 5 <= v["hour"] < 23} == {1.0}
    assert all(35 <= v["frequency"] <= 50 for v in pump if v["running"])
    assert pump[-1]["energy"] - pump[0]["energy"] > 100  # kWh over 18 h of running
    at = lambda series, hour, key: next(v[key] for v in series if v["hour"] == hour)
    assert at(energy, 12, "active_power") > 5 * at(energy, 3, "active_power")
    assert at(level, 4, "water_column") - at(level, 12, "water_column") > 5  # drawn down while pumping


def test_a_leak_raises_the_night_flow_and_extra_pumping_runs_the_pump_at_night():
    from watertel.simulators.scenario import Scenario

    events = Scenario.model_validate({"events": [{"at": "1d", "kind": "leak", "rate": 30, "growth": "ramp", "ramp": "1d"},
                                                 {"at": "2d1h", "for": "2h", "kind": "extra_pumping"}]}).events
    p = firmware_profiles.load("emf_flow_meter")
    vfd = firmware_profiles.load("pump_vfd")
    meter = PhysicsState(p, ModelConfig(kind="inlet", tick_s=60), SiteConfig(day_variation=0), DeviceEffects("d", p, events), 1, T0)
    pump = PhysicsState(vfd, ModelConfig(kind="pump", tick_s=60), SiteConfig(), DeviceEffects("d", vfd, events), 1, T0)
    night = []
    for day in range(3):
        meter.advance(T0 + day * 86400 + 3 * 3600)
        night.append(meter.values["flow"])
    assert night[1] - night[0] == pytest.approx(30 * 3 / 24, abs=2)  # the ramp is an eighth grown by 03:00
    assert night[2] - night[0] == pytest.approx(30, abs=2)
    pump.advance(T0 + 2 * 86400 + 2 * 3600)
    assert pump.values["running"] == 1.0
    pump.advance(T0 + 2 * 86400 + 4 * 3600)
    assert pump.values["running"] == 0.0
