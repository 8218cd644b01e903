"""Gateways with a past (simulators/history.py): what they send, when, and that it is what the live
simulator's models give at those times; and the fault windows that open from a run's start."""

from __future__ import annotations

import json
import math

import pytest

from watertel.crypto import SM2PrivateKey
from watertel.envelope import GENESIS_HASH, open_envelope
from watertel.readings import Quality
from watertel.simulators.config import FaultWindow, ModelConfig, SiteConfig
from watertel.simulators.history import LINK_MS, SEAL_MS, PastDevice, PastGateway, history
from watertel.simulators.scenario import Scenario

from tests.support.sim import T0

HOUR = 3600.0
KEY = SM2PrivateKey.generate()


def _meter(start: float = T0, events: list | None = None, seed: int = 3) -> PastDevice:
    return PastDevice("fm", "S1", "emf_flow_meter", 900, start, site=SiteConfig(mean_demand=200, seed=seed),
                      model=ModelConfig(kind="inlet", tick_s=300, totals={"total": 5000.0}), events=events, seed=seed)


def _opened(sent) -> list:
    return [open_envelope(s.payload, lambda g, k: KEY.public) for s in sent if s.topic.endswith("/up")]


def test_hourly_uploads_carry_the_quarter_hours_in_one_chain_and_a_birth_comes_first():
    gw = PastGateway("gw-a", KEY, "gw-a-k1", [_meter()], start=T0, until=T0 + 6 * HOUR)
    sent = list(history([gw]))
    assert sent[0].topic == "watertel/gw-a/status" and sent[0].retain
    assert json.loads(sent[0].payload)["state"] == "online"
    envs = _opened(sent)
    assert len(envs) == 6 and [len(e.readings) for e in envs] == [5 * 3] + [4 * 3] * 5  # flow, velocity, total each quarter from the start
    assert envs[0].prev_hash == GENESIS_HASH and all(b.prev_hash == a.hash for a, b in zip(envs, envs[1:]))
    assert [b.seq - a.seq for a, b in zip(envs, envs[1:])] == [1] * 5
    assert envs[0].created_ms == int((T0 + HOUR) * 1000) + SEAL_MS
    assert envs[-1].created_ms == int((T0 + 6 * HOUR) * 1000)  # the last one at `until`: a live agent takes over
    assert [s.arrival_ms for s in sent] == sorted(s.arrival_ms for s in sent)
    assert sent[1].arrival_ms == envs[0].created_ms + LINK_MS


def test_the_values_are_the_live_models_values_at_the_sample_times():
    gw = PastGateway("gw-a", KEY, "gw-a-k1", [_meter()], start=T0, until=T0 + 3 * HOUR)
    readings = [r for e in _opened(history([gw])) for r in e.readings]
    live = _meter()  # a fresh model with the same seed: what `sim run` would serve at those times
    for r in readings:
        live.state.advance(r.t_ms / 1000)
        assert r.value == live.state.values[r.point] and r.quality is Quality.OK
    totals = [r.value for r in readings if r.point == "total"]
    assert totals == sorted(totals) and totals[0] == 5000.0 < totals[-1]


def test_a_power_cut_sends_nothing_then_the_backlog_goes_late_and_a_death_sends_the_will():
    cut = (T0 + 2.5 * HOUR, T0 + 5.5 * HOUR)
    gw = PastGateway("gw-b", KEY, "gw-b-k1", [_meter()], start=T0, outages=[cut, (T0 + 9.2 * HOUR, None)])
    sent = list(history([gw]))
    envs = _opened(sent)
    uploads = [e.created_ms // 1000 for e in envs]
    assert all(not (cut[0] <= u < cut[1]) for u in uploads)
    times = {r.t_ms / 1000 for e in envs for r in e.readings}
    assert not any(cut[0] <= t < cut[1] for t in times)  # nothing sampled while the power was off
    after = next(e for e in envs if e.created_ms / 1000 >= cut[1])
    assert min(r.t_ms for r in after.readings) / 1000 == T0 + 2.25 * HOUR  # sampled before the cut, sent after it
    will = sent[-1]
    assert will.topic == "watertel/gw-b/status" and will.retain and json.loads(will.payload)["state"] == "offline"
    assert will.arrival_ms == int((T0 + 9.2 * HOUR) * 1000) + LINK_MS
    assert max(times) < T0 + 9.2 * HOUR


def test_a_device_away_for_calibration_reads_as_timeouts():
    away = Scenario.model_validate({"events": [{"at": "1h", "for": "1h", "kind": "offline", "device": "fm"}]}).events
    gw = PastGateway("gw-c", KEY, "gw-c-k1", [_meter(events=away)], start=T0, until=T0 + 3 * HOUR)
    readings = [r for e in _opened(history([gw])) for r in e.readings]
    faulty = [r for r in readings if r.quality is Quality.TIMEOUT]
    assert {r.t_ms / 1000 - T0 for r in faulty} == {HOUR, 1.25 * HOUR, 1.5 * HOUR, 1.75 * HOUR}
    assert all(math.isnan(r.value) for r in faulty)


def test_gateways_merge_in_arrival_order_and_one_without_an_end_keeps_going():
    a = PastGateway("gw-a", KEY, "gw-a-k1", [_meter()], start=T0, until=T0 + 2 * HOUR)
    b = PastGateway("gw-b", KEY, "gw-b-k1", [_meter(seed=4)], start=T0, upload_every_s=1800)
    stream = history([a, b])
    first = [next(stream) for _ in range(12)]
    assert [s.arrival_ms for s in first] == sorted(s.arrival_ms for s in first)
    assert first[-1].gateway == "gw-b" and first[-1].arrival_ms > (T0 + 4 * HOUR) * 1000  # gw-a ended at 2 h


@pytest.mark.parametrize("t, is_open", [(9.9, False), (10, True), (69.9, True), (70, False), (1810, True), (1869, True),
                                        (1871, False)])
def test_a_fault_window_can_open_first_a_while_after_the_run_starts(t, is_open):
    window = FaultWindow(bit=3, every_s=1800, for_s=60, first_at_s=10)
    assert window.open(T0 + t, T0) is is_open
    assert FaultWindow(bit=3, every_s=15, for_s=3).open(30.0, T0)  # without first_at_s: the clock's grid, as before
