"""Issue 21, "Low": sample times were not bounded (2100 and 2000 accepted everywhere; a frame
dated 2041 kept a station "online" until 2041). Replayed through a real Mosquitto into a real
`watertel cloud ingest`: envelopes signed by a registered gateway (its key is the gateway's own,
as a gateway with a broken clock or a stolen key would sign) carry readings dated 2100 and 2000
beside the backlog of a gateway back from a month-long outage."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time

import paho.mqtt.client as mqtt
import pytest

from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, seal
from watertel.readings import Reading
from watertel.shell.demo import Demo
from watertel.shell.processes import Child, wait_until

DAY_MS = 86_400_000


def _ms(year: int) -> int:
    return int(dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)


def _rows(db, sql: str) -> list[tuple]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []


@pytest.mark.server
def test_readings_dated_2100_or_2000_are_refused_and_counted_while_a_month_of_backlog_is_stored(mosquitto, tmp_path):
    demo = Demo(tmp_path / "demo", f"mqtt://127.0.0.1:{mosquitto}")
    demo.prepare()
    key = SM2PrivateKey.from_pem((demo.dir / "keys" / "gw-1.key.pem").read_text())
    now = int(time.time() * 1000)
    station = "YH-PH1"  # one of gw-1's stations in the demo region
    batches = [
        [Reading(station, "flow", now - 30 * DAY_MS + i * 60_000, 10.0 + i, "m3/h") for i in range(3)],  # backlog
        [Reading(station, "flow", _ms(2100), 1.0, "m3/h"), Reading(station, "flow", now - 1000, 2.0, "m3/h")],
        [Reading(station, "flow", _ms(2000), 3.0, "m3/h"), Reading(station, "flow", _ms(2041), 4.0, "m3/h")],
    ]
    state, envelopes = ChainState(now), []
    for readings in batches:
        data, state = seal(readings, key, "gw-1", "gw-1-k1", state, now)
        envelopes.append(data)
    db = demo.dir / "cloud-data" / "watertel.db"
    cloud = Child.watertel("cloud", ["cloud", "ingest", "--config", str(demo.dir / "cloud.yaml")], demo.logs)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="clock-broken-gateway")
    try:
        wait_until(lambda: "ingest subscribed" in (demo.logs / "cloud.log").read_text(), "the cloud ingest", cloud)
        client.connect("127.0.0.1", mosquitto)
        client.loop_start()
        for data in envelopes:
            client.publish("watertel/gw-1/up", data, qos=1).wait_for_publish(timeout=10)
        wait_until(lambda: _rows(db, "SELECT count(*) FROM envelopes") == [(3,)], "the three envelopes", cloud)
    finally:
        client.disconnect()
        client.loop_stop()
        cloud.stop()

    stored = sorted(v for (v,) in _rows(db, f"SELECT value FROM readings WHERE station = '{station}' AND point = 'flow'"))
    assert stored == [2.0, 10.0, 11.0, 12.0]  # the backlog and the reading dated now; none of 2100, 2000, 2041
    assert _rows(db, "SELECT max(t_ms) FROM readings")[0][0] <= now + DAY_MS
    quarantined = _rows(db, "SELECT reason, detail FROM quarantine ORDER BY id")
    assert [r for r, _ in quarantined] == ["sample_time", "sample_time"]
    assert "1 of 2 readings" in quarantined[0][1] and "2100-01-01" in quarantined[0][1]
    assert "2 of 2 readings" in quarantined[1][1] and "2000-01-01" in quarantined[1][1]
