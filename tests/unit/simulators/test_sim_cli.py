"""`watertel sim run --profile …` as a vendor runs it: one device over TCP or on a pty, a
scenario, simulated time running faster than the wall clock, bad scenarios refused.

This file holds the tests that need no server and start no process; the others are in
tests/integration/simulators/test_sim_cli.py."""

from __future__ import annotations

from tests.support.paths import ROOT


def test_the_example_scenario_plays_against_a_flow_meter(tmp_path):
    """deploy/scenario.example.yaml is valid for `--profile emf_flow_meter` (checked before serving)."""
    from watertel import firmware_profiles
    from watertel.simulators.effects import DeviceInfo, check_events
    from watertel.simulators.scenario import load_scenario

    scenario = load_scenario(ROOT / "deploy" / "scenario.example.yaml")
    info = DeviceInfo(firmware_profiles.load("emf_flow_meter"), rtu=False, physics=True)
    assert check_events(scenario, {"emf_flow_meter": info}) == []
    assert len(scenario.events) == 11
