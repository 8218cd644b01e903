"""Readings that are valid but need a caveat: a totaliser that rolled over or was reset, and a
sample taken while the gateway clock was not synchronised.

This file holds the tests that need no server and start no process; the others are in
tests/integration/edge_agent/test_edge_marks.py."""

from __future__ import annotations

import pytest

from watertel import firmware_profiles
from watertel.edge_agent.poll.totaliser import TotaliserWatch
from watertel.readings import Quality, Reading

PUMP = firmware_profiles.load("pump_vfd")  # energy: u32 × 0.1 kWh, wraps after 429,496,729.5


def energy(value: float, t: int = 0, quality: Quality = Quality.OK) -> Reading:
    return Reading("S1", "energy", t, value, "kWh", quality)


@pytest.mark.parametrize("before, after, expected", [
    (1000.0, 1000.5, Quality.OK),
    (429_496_700.0, 12.3, Quality.TOTAL_ROLLOVER),  # top tenth → bottom tenth
    (80_000.0, 3.0, Quality.TOTAL_RESET),  # a new meter starts near zero
    (80_000.0, 79_990.0, Quality.TOTAL_RESET),  # a small step back is not a wrap either
])
def test_a_totaliser_going_backwards_is_marked(before, after, expected):
    watch = TotaliserWatch()
    assert watch.mark(PUMP, [energy(before)])[0].quality is Quality.OK
    marked = watch.mark(PUMP, [energy(after, 1)])[0]
    assert marked.quality is expected and marked.value == after, "the value itself is kept"


def test_the_watch_continues_from_what_the_buffer_held_and_ignores_failed_reads():
    watch = TotaliserWatch({("S1", "energy"): 5000.0})  # where the last run left off
    assert watch.mark(PUMP, [energy(float("nan"), 1, Quality.TIMEOUT)])[0].quality is Quality.TIMEOUT
    assert watch.mark(PUMP, [energy(10.0, 2)])[0].quality is Quality.TOTAL_RESET
    assert watch.mark(PUMP, [energy(11.0, 3)])[0].quality is Quality.OK
    assert watch.mark(PUMP, [Reading("S1", "power", 4, 1.0, "kW")])[0].quality is Quality.OK, "not a totaliser"


def test_a_net_total_may_go_down_without_a_mark():
    ultrasonic = firmware_profiles.load("ultrasonic_flow_meter")
    watch = TotaliserWatch()
    net = lambda v, t: Reading("S1", "net_total", t, v, "m3")
    watch.mark(ultrasonic, [net(100.0, 0)])
    assert watch.mark(ultrasonic, [net(90.0, 1)])[0].quality is Quality.OK
