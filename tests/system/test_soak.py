"""The soak harness, short: two minutes of the real system under seeded faults of every kind (kill -9
of edge agents, ingest workers and the API, broker restarts, a proxy that drops, delays and cuts
the agents' connections, devices going silent, answering exceptions or corrupted RTU frames, a
gateway's disk filling up, hostile messages); nothing lost, nothing stored twice. Seed 7 hits
every kind at least once. Plus the fault proxy on its own, against an echo server."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from watertel.shell.faultproxy import FaultProxy
from watertel.shell.mosquitto import find_mosquitto
from watertel.ports import free_port
from watertel.shell.soak import FAULTS
from watertel.shell.soak_system import DEVICE_FAULTS

from tests.support.checks import REQUIRE_SERVERS, need


@pytest.mark.server
@pytest.mark.timeout(400)
def test_two_minutes_of_faults_lose_nothing(tmp_path):
    need(find_mosquitto() is not None, "mosquitto")
    done = subprocess.run([sys.executable, "-m", "watertel", "soak", "--minutes", "2", "--seed", "7",
                           "--data-dir", str(tmp_path / "soak")], capture_output=True, text=True, timeout=380)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["lost"] == 0 and result["duplicated"] == 0 and result["changed"] == 0, result
    assert result["untapped"] == 0 and result["unexpected_exits"] == {}, result
    assert result["polled"] == result["stored"] > 1000, result
    expected = {*FAULTS, *(f"device_{k}" for k in DEVICE_FAULTS)}
    if not result["disk_full"].endswith("on a tmpfs"):  # mounting a small tmpfs needs root
        assert not REQUIRE_SERVERS, f"disk_full fault unavailable: {result['disk_full']}"
        expected.discard("disk_full")
    assert set(result["faults"]) == expected, result
    assert result["proxy_torn_mid_chunk"] > 0, result
    assert {"bad_signature", "too_large"} <= set(result["refused"]), result
    assert result["recovery_p99_s"] < 60, result


# --- the fault proxy on its own ----------------------------------------------------------------------

@pytest.fixture
def echo():
    """An echo server on a free loopback port, in its own thread and loop: (port, bytes it received)."""
    loop, port, received = asyncio.new_event_loop(), free_port(), bytearray()

    async def echo(reader, writer):
        while data := await reader.read(65536):
            received.extend(data)
            writer.write(data)
            await writer.drain()
        writer.close()

    server = loop.run_until_complete(asyncio.start_server(echo, "127.0.0.1", port))
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    yield port, received
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def proxy(echo):
    p = FaultProxy(free_port(), echo[0])
    p.start()
    yield p
    p.stop()


def _roundtrip(port: int, data: bytes = b"hello") -> tuple[bytes, float]:
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:  # a dropped connection is aborted (RST)
                break
            if not chunk:
                break
            got += chunk
    return got, time.monotonic() - start


def test_the_proxy_forwards_delays_and_refuses(proxy):
    assert _roundtrip(proxy.listen_port)[0] == b"hello"
    proxy.delay(2, 0.3)
    got, took = _roundtrip(proxy.listen_port)
    assert got == b"hello" and took >= 0.55  # held once each way
    proxy.delay(0, 0)
    proxy.drop(1.0)
    assert _roundtrip(proxy.listen_port)[0] == b""  # accepted, then closed at once
    time.sleep(1.1)
    assert _roundtrip(proxy.listen_port)[0] == b"hello"


def test_the_proxy_cuts_a_connection_in_the_middle_of_a_chunk(proxy, echo):
    with socket.create_connection(("127.0.0.1", proxy.listen_port), timeout=5) as s:
        s.sendall(b"x")
        assert s.recv(10) == b"x"
        cutter = threading.Thread(target=proxy.cut, kwargs={"grace_s": 1.0})
        cutter.start()
        time.sleep(0.3)
        s.sendall(b"0123456789")
        with pytest.raises((ConnectionResetError, AssertionError)):
            assert s.recv(100) != b""  # closed (or reset) without the rest echoed
        cutter.join()
    time.sleep(0.2)
    assert bytes(echo[1]) == b"x01234" and proxy.torn == 1  # the broker side got half the chunk
