"""The upward forwarder: readings in an edge buffer → `watertel forward` → a simulated regulator
platform (simulators/platform.py), in SZY 206 and SL 651: every reading received once with its
value; the platform down then up; a kill -9 mid-stream (duplicates only as whole re-sent
frames); a platform that refuses or never answers (retried with back-off); the config's errors;
and split / multi-packet messages joined by the platform and the rtu-gateway.

This file holds the tests that need no server and start no process; the others are in
tests/integration/edge_agent/forward/test_forward.py and
tests/system/test_forward.py."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
import yaml

from watertel.edge_agent.forward.config import load_forward_config
from watertel.edge_agent.forward.link import PlatformLink
from watertel.edge_agent.forward.service import Forwarder
from watertel.config import ConfigError
from watertel.protocols import Protocol, sl651
from watertel.readings import Quality, Reading

from tests.support.forward import fill_buffer, forward_config, minutes_ago, station_readings
from tests.support.paths import ROOT


def test_config_errors_name_file_line_key_and_fix(tmp_path):
    path = forward_config(tmp_path, "szy206", 9206)
    cfg = yaml.safe_load(path.read_text())
    cfg["stations"][0]["points"] = {"flow": {"element": "flow_1"}, "ph": {"element": "ph", "decimals": 2},
                                    "x": {"element": "level"}}
    cfg["stations"].append({"station": "ST-1", "address": "33-1", "points": {"p": {"element": "pressure_2"}}})
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_forward_config(path)
    text = "\n".join(err.value.problems)
    assert "flow_N and volume_N come in pairs" in text and "(map both of each pair)" in text
    assert "stations.0.points.ph: bytes and decimals are for SL 651 elements" in text
    assert "stations.0.points.x.element: 'level' is not a SZY 206 value" in text
    assert "stations.1.station: station ST-1 is also stations.0" in text
    assert "stations.1.address: a SZY 206 address" in text and "got '33-1' (write it like 330102-1234)" in text
    assert "pressure_N must be numbered from 1" in text
    for line in err.value.problems:
        assert line.startswith(f"{path}:") and line.split(":")[1].isdigit(), line
    path = forward_config(tmp_path, "sl651", 5005)
    cfg = yaml.safe_load(path.read_text())
    cfg["stations"][0]["points"]["p_out"] = {"element": "water_pressure_1"}
    cfg["platform"]["password"] = "12345"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError, match=r"forward.yaml:\d+: platform.password: .*\(match the pattern"):
        load_forward_config(path)
    cfg["platform"]["password"] = "1234"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(ConfigError, match=r"stations.0.points.p_out: element water_pressure_1 has no default size "
                                          r"\(give bytes and decimals"):
        load_forward_config(path)


def test_the_shipped_example_config_loads():
    cfg = load_forward_config(ROOT / "deploy" / "forward.example.yaml")
    assert cfg.platform.protocol == Protocol.SZY206 and cfg.stations[0].points["total"].element == "volume_1"


def test_a_state_file_is_kept_to_its_protocol(tmp_path):
    from watertel.edge_agent.forward.outbox import Outbox

    Outbox(tmp_path / "s.db", "szy206").close()
    with pytest.raises(ValueError, match="holds szy206 frames, not sl651"):
        Outbox(tmp_path / "s.db", "sl651")


def test_values_the_protocol_cannot_carry_are_counted_not_sent(tmp_path):
    """SZY 206 has no 'invalid': a NaN flow holds back its flow/volume report; SL 651 sends AAH."""
    start = minutes_ago(3)
    fill_buffer(tmp_path / "gw-1.db", [
        Reading("ST-1", "flow", start, math.nan, "-", Quality.SENSOR_FAULT), Reading("ST-1", "total", start, 5.0, "-"),
        Reading("ST-1", "p_out", start, 1.5, "-")])
    forwarder = Forwarder(load_forward_config(forward_config(tmp_path, "szy206", 1)))
    try:
        assert forwarder.pull() == 1  # the pressure report only
        assert forwarder.outbox.stats()["unreportable"] == 2
    finally:
        forwarder.outbox.close()
    (tmp_path / "gw-1.db").unlink()
    fill_buffer(tmp_path / "gw-1.db", [Reading("ST-1", "level", start, math.nan, "-", Quality.SENSOR_FAULT),
                                 Reading("ST-1", "flow", start, 1.25, "-")])
    forwarder = Forwarder(load_forward_config(forward_config(tmp_path, "sl651", 1)))
    try:
        assert forwarder.pull(now_ms=int(time.time() * 1000)) == 1
        frame = sl651.decode(forwarder.outbox.next_frame().data)
        assert [(e.ident, e.value) for e in frame.message.elements] == [(0x27, sl651.Decimal("1.250")), (0x39, None)]
    finally:
        forwarder.outbox.close()


def test_cursor_survives_pruning_a_buffer_that_starts_again_and_start_newest(tmp_path):
    import sqlite3

    buffer_path, start = tmp_path / "gw-1.db", minutes_ago(20)
    fill_buffer(buffer_path, station_readings("sl651", 3, start)[:-1])
    forwarder = Forwarder(load_forward_config(forward_config(tmp_path, "sl651", 1)))
    try:
        assert forwarder.pull() == 3
        with sqlite3.connect(buffer_path) as db:  # the buffer emptied (all sent, size limit): ids start again
            db.execute("DELETE FROM readings")
        fill_buffer(buffer_path, station_readings("sl651", 2, start, first=3)[:-1])
        assert forwarder.pull() == 2
        fill_buffer(buffer_path, station_readings("sl651", 3, start, first=5)[:-1])
        with sqlite3.connect(buffer_path) as db:  # pruned before the forwarder took them
            db.execute("DELETE FROM readings WHERE id IN (SELECT id FROM readings ORDER BY id DESC LIMIT 4 OFFSET 8)")
        assert forwarder.pull() == 2
        stats = forwarder.outbox.stats()
        assert stats["pruned_unforwarded"] == 4 and stats["frames_waiting"] == 7, stats
    finally:
        forwarder.outbox.close()
        forwarder.source.close()
    path = forward_config(tmp_path, "sl651", 1, name="newest.yaml")
    cfg = yaml.safe_load(path.read_text())
    cfg["state"], cfg["source"]["start"] = "newest.db", "newest"
    path.write_text(yaml.safe_dump(cfg))
    forwarder = Forwarder(load_forward_config(path))
    try:
        assert forwarder.pull() == 0  # the first run starts after what the buffer holds
        fill_buffer(buffer_path, station_readings("sl651", 1, start, first=8)[:-1])
        assert forwarder.pull() == 1
    finally:
        forwarder.outbox.close()
        forwarder.source.close()


def test_a_stop_while_the_link_is_idle_is_never_lost(tmp_path):
    """PlatformLink.idle() passes on a cancel that arrives at any point of its wait, also while it
    puts away its own read. It once swallowed a cancel arriving there, so the forwarder's stop was
    lost and it never stopped (test_forward_queries hung until its timeout under load). Stepping
    the event loop by hand reaches that moment every time: no sockets, no timing."""
    cfg = load_forward_config(forward_config(tmp_path, "szy206", 9206))

    async def stopped_when_cancelled_after(steps: int) -> bool:
        link = PlatformLink(cfg)
        link.reader, link.writer = asyncio.StreamReader(), object()  # connected, nothing arrives
        wake = asyncio.Event()
        wake.set()  # the wait ends at once: idle() then cancels and puts away its read
        task = asyncio.create_task(link.idle(5.0, wake))
        for _ in range(steps):
            await asyncio.sleep(0)
        if not task.cancel():
            return True  # idle() had returned already: there was no stop to lose
        await asyncio.wait({task}, timeout=5)
        return task.cancelled()

    assert [steps for steps in range(12) if not asyncio.run(stopped_when_cancelled_after(steps))] == []
