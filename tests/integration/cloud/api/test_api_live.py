"""/api/stations, /api/series (raw and downsampled, region-scoped) and /api/events (server-sent
events) over real HTTP: a real uvicorn, a real SQLite store, and plain http.client streams."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest

from watertel.cloud.api.app import create_app
from watertel.cloud.config import ApiConfig
from watertel.cloud.users import UserEntry
from watertel.readings import Quality, Reading

from tests.support.api import MIN, T0, Client, put, registry, serve


@pytest.fixture
def live_api(store, hashes):
    users = [UserEntry(username="viewer", password_hash=hashes["argon2"], role="viewer"),
             UserEntry(username="hz-viewer", password_hash=hashes["argon2"], role="viewer", regions=["zj-hz"])]
    app = create_app(store, ApiConfig(users=users), registry=registry())
    app.state.events.heartbeat_s = 0.5
    app.state.events.poll_s = 0.2
    base, server, thread = serve(app)
    yield base, app
    server.should_exit = True
    thread.join(10)


def logged_in(base: str, user: str) -> Client:
    client = Client(base)
    assert client.login(user)[0] == 200
    return client


class Stream:
    """One /api/events stream read line by line: ``next()`` gives (event, data), ("heartbeat", None)."""

    def __init__(self, base: str, client: Client) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)
        self.conn.request("GET", "/api/events", headers={"Cookie": f"watertel_session={client.cookie('watertel_session')}"})
        self.response = self.conn.getresponse()

    def next(self, timeout: float = 5) -> tuple[str, dict | None]:
        self.conn.sock.settimeout(timeout)
        event, data = "message", None
        while True:
            raw = self.response.readline()
            if not raw:
                raise EOFError("the stream ended")
            line = raw.decode().rstrip("\n")
            if line.startswith(": heartbeat"):
                return "heartbeat", None
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                return event, data

    def until(self, event: str, timeout: float = 5) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got, data = self.next(deadline - time.monotonic())
            if got == event:
                return data
        raise AssertionError(f"no {event} event within {timeout} s")

    def close(self) -> None:
        self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


def test_series_is_raw_up_to_the_cap_then_min_max_mean_buckets(live_api, store):
    base, _ = live_api
    put(store, *(Reading("ST-XH", "flow", T0 + i * MIN, float(i), "m3/h", Quality.OK) for i in range(3000)))
    viewer = logged_in(base, "viewer")
    query = f"/api/series?station=ST-XH&point=flow&from={T0}&to={T0 + 3000 * MIN}"

    status, body, _ = viewer.call("GET", query + "&max_points=5000")
    assert status == 200 and body["mode"] == "raw" and body["count"] == 3000 and body["unit"] == "m3/h"
    assert [p["value"] for p in body["points"]] == [float(i) for i in range(3000)]
    assert body["points"][0] == {"t_ms": T0, "value": 0.0, "quality": "OK"}

    status, body, _ = viewer.call("GET", query)  # 3,000 readings > 2,000: buckets of ceil(180,000,000 / 2,000) ms
    assert status == 200 and body["mode"] == "buckets" and body["bucket_ms"] == 90_000 and body["count"] == 3000
    points = body["points"]
    assert len(points) == 2000 and sum(p["n"] for p in points) == 3000
    # readings every 60 s in 90 s buckets: two (i = 0, 1), then one (i = 2), two (3, 4), …
    assert points[:3] == [{"t_ms": T0, "n": 2, "min": 0.0, "max": 1.0, "mean": 0.5},
                          {"t_ms": T0 + 90_000, "n": 1, "min": 2.0, "max": 2.0, "mean": 2.0},
                          {"t_ms": T0 + 180_000, "n": 2, "min": 3.0, "max": 4.0, "mean": 3.5}]
    assert points[-1] == {"t_ms": T0 + 1999 * 90_000, "n": 1, "min": 2999.0, "max": 2999.0, "mean": 2999.0}

    status, body, _ = viewer.call("GET", f"/api/series?station=ST-XH&point=flow&from={T0 + 10 * MIN}&to={T0 + 20 * MIN}")
    assert body["mode"] == "raw" and [p["value"] for p in body["points"]] == [float(i) for i in range(10, 20)]
    assert viewer.call("GET", f"/api/series?station=ST-XH&point=flow&from={T0}&to={T0}")[0] == 422
    assert viewer.call("GET", query + "&max_points=5")[0] == 422
    assert Client(base).call("GET", query)[0] == 401


def test_series_and_stations_stay_in_the_users_regions(live_api, store):
    base, _ = live_api
    now = int(time.time() * 1000)
    put(store, Reading("ST-XH", "flow", T0, 1.0, "m3/h", Quality.OK), Reading("ST-NB", "flow", T0, 2.0, "m3/h", Quality.OK),
        Reading("ST-BJ", "flow", now - MIN, 3.0, "m3/h", Quality.OK), Reading("ST-X", "flow", T0, 4.0, "m3/h", Quality.OK))
    store.raise_alarm("ST-XH", "flow", "leak", "red", "leak", T0)
    hz, viewer = logged_in(base, "hz-viewer"), logged_in(base, "viewer")

    assert hz.call("GET", f"/api/series?station=ST-XH&point=flow&from={T0}&to={T0 + 1}")[1]["count"] == 1
    for station in ("ST-NB", "ST-X"):  # another city; a station the registry does not know
        status, body, _ = hz.call("GET", f"/api/series?station={station}&point=flow&from={T0}&to={T0 + 1}")
        assert status == 403 and "outside your regions" in body["detail"], station
    assert viewer.call("GET", f"/api/series?station=ST-X&point=flow&from={T0}&to={T0 + 1}")[1]["count"] == 1

    _, mine, _ = hz.call("GET", "/api/stations")
    assert [(s["station"], s["status"], s["open_alarms"]) for s in mine["stations"]] == [
        ("ST-XH", "offline", 1), ("ST-BJ", "online", 0)]  # BJ reported a minute ago, within 3 × 5 min
    assert [r["id"] for r in mine["regions"]] == ["zj", "zj-hz", "zj-hz-xh", "zj-hz-bj"]
    xh = mine["stations"][0]
    assert (xh["name"], xh["kind"], xh["region_path"], xh["regions"], xh["interval_ms"], xh["last_seen_ms"]) == (
        "西湖一号", "well", "浙江 / 杭州 / 西湖", ["zj-hz-xh", "zj-hz", "zj"], 5 * MIN, T0)
    assert xh["points"] == [{"point": "flow", "value": 1.0, "unit": "m3/h", "quality": "OK", "t_ms": T0}]
    _, everything, _ = viewer.call("GET", "/api/stations")
    assert [s["station"] for s in everything["stations"]] == ["ST-XH", "ST-BJ", "ST-NB", "ST-X"]
    assert everything["stations"][3]["status"] == "offline" and everything["stations"][3]["region"] is None


def test_events_stream_alarms_and_stations_in_scope_with_heartbeats(live_api, store):
    base, app = live_api
    hub = app.state.events
    everyone, hz = Stream(base, logged_in(base, "viewer")), Stream(base, logged_in(base, "hz-viewer"))
    try:
        assert everyone.response.status == 200 and everyone.response.getheader("content-type").startswith("text/event-stream")
        assert everyone.until("ready")["t_ms"] > 0 and hz.until("ready")
        assert everyone.next(2) == ("heartbeat", None)  # nothing happens: a heartbeat every 0.5 s here

        store.raise_alarm("ST-NB", "flow", "leak", "orange", "Ningbo leak", T0)
        store.raise_alarm("ST-XH", "pressure", "low_pressure", "red", "pressure low", T0 + 1)
        seen = [everyone.until("alarm"), everyone.until("alarm")]
        assert sorted((e["change"], e["alarm"]["station"], e["alarm"]["severity"]) for e in seen) == [
            ("new", "ST-NB", "orange"), ("new", "ST-XH", "red")]
        new = hz.until("alarm")  # Ningbo is outside hz-viewer's regions
        assert (new["change"], new["alarm"]["station"], new["alarm"]["message"]) == ("new", "ST-XH", "pressure low")

        store.clear_alarm("ST-XH", "pressure", "low_pressure", T0 + 2)
        cleared = hz.until("alarm")
        assert (cleared["change"], cleared["alarm"]["id"], cleared["alarm"]["state"], cleared["alarm"]["cleared_ms"]) == (
            "cleared", new["alarm"]["id"], "cleared", T0 + 2)

        now = int(time.time() * 1000)
        put(store, Reading("ST-BJ", "flow", now, 7.5, "m3/h", Quality.OK))
        station = hz.until("station")
        assert (station["station"], station["last_seen_ms"], station["status"]) == ("ST-BJ", now, "online")
        assert station["points"] == [{"station": "ST-BJ", "point": "flow", "t_ms": now, "value": 7.5, "unit": "m3/h",
                                      "quality": "OK"}]
        assert len(hub.subscribers) == 2
    finally:
        everyone.close()
        hz.close()
    deadline = time.monotonic() + 5  # disconnected clients are dropped, and the poll loop stops
    while hub.subscribers or hub._task is not None:
        assert time.monotonic() < deadline, f"{len(hub.subscribers)} subscribers left"
        time.sleep(0.05)


def test_a_user_may_hold_a_few_streams_at_once(live_api):
    base, app = live_api
    app.state.events.max_per_user = 2
    client = logged_in(base, "viewer")
    streams = [Stream(base, client), Stream(base, client)]
    try:
        for s in streams:
            s.until("ready")
        status, body, headers = client.call("GET", "/api/events")
        assert status == 429 and "at most 2 live streams" in body["detail"] and headers["Retry-After"]
        other = Stream(base, logged_in(base, "hz-viewer"))  # the cap is per user
        assert other.until("ready")
        other.close()
        streams.pop().close()
        deadline = time.monotonic() + 5
        while len(app.state.events.subscribers) > 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        streams.append(Stream(base, client))
        assert streams[-1].until("ready")
    finally:
        for s in streams:
            s.close()
    assert Client(base).call("GET", "/api/events")[0] == 401


def test_open_streams_do_not_hold_the_server_up_and_close_ends_them(store, hashes):
    app = create_app(store, ApiConfig(users=[UserEntry(username="viewer", password_hash=hashes["argon2"])]))
    base, server, thread = serve(app)
    try:
        client = logged_in(base, "viewer")
        first = Stream(base, client)
        first.until("ready")
        app.state.events.close()  # ends the streams (the stream's body completes) and refuses new ones
        assert first.response.read() == b""  # the chunked body ended
        assert client.call("GET", "/api/events")[0] == 503
        app.state.events.closed = False
        second = Stream(base, client)
        second.until("ready")
        started = time.monotonic()
    finally:
        server.should_exit = True  # uvicorn drains connections: the open stream notices within a second
        thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 3
    first.close()
    second.close()
