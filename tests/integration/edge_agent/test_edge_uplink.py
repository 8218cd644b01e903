"""The uplink after an outage, against a real Mosquitto: the newest batch goes first, the backlog
follows in sequence order, every batch arrives, and the backlog keeps to its configured rate."""

from __future__ import annotations

import asyncio
import queue
import time

import aiomqtt
import paho.mqtt.client as mqtt
import pytest

from watertel.cloud.broker import run_broker
from watertel.edge_agent.buffer import Buffer
from watertel.edge_agent.config import UplinkConfig
from watertel.edge_agent.uplink import Uplink
from watertel.crypto import SM2PrivateKey
from watertel.envelope import open_envelope, seal
from watertel.ports import free_port, port_open
from watertel.readings import Reading

KEY = SM2PrivateKey.generate()
BATCHES, PER_BATCH = 40, 10


def backlog(path) -> Buffer:
    """A buffer holding BATCHES sealed, unsent batches: what an outage leaves behind."""
    buf = Buffer(path, "gw-1")
    sealer = lambda readings, state: seal(readings, KEY, "gw-1", "k1", state, int(time.time() * 1000))
    for i in range(BATCHES):
        buf.add([Reading("S1", "flow", 1_700_000_000_000 + (i * PER_BATCH + j) * 1000, 1.0, "m3/h")
                 for j in range(PER_BATCH)])
        buf.seal_next(PER_BATCH, sealer)
    return buf


def arrivals(port: int) -> tuple[mqtt.Client, queue.Queue]:
    got: queue.Queue = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="uplink-test")
    client.on_message = lambda c, u, msg: got.put(open_envelope(msg.payload, lambda g, k: KEY.public).seq)
    client.connect("127.0.0.1", port)
    client.subscribe("watertel/gw-1/up", qos=1)
    client.loop_start()
    time.sleep(0.3)
    return client, got


async def drain(buf: Buffer, cfg: UplinkConfig) -> float:
    uplink = Uplink(cfg, "gw-1", buf)
    task = asyncio.create_task(uplink.run())
    began = time.monotonic()
    while buf.unsent(1):
        await asyncio.sleep(0.02)
    elapsed = time.monotonic() - began
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return elapsed


@pytest.mark.server
@pytest.mark.parametrize("rate", [None, 200.0])
def test_newest_first_then_the_backlog_in_order_at_its_rate(mosquitto, tmp_path, rate):
    buf = backlog(tmp_path / "b.db")
    seqs = [b.seq for b in buf.unsent(BATCHES)]
    client, got = arrivals(mosquitto)
    try:
        cfg = UplinkConfig(brokers=[f"mqtt://127.0.0.1:{mosquitto}"], max_in_flight=4, backlog_readings_per_s=rate)
        elapsed = asyncio.run(drain(buf, cfg))
        time.sleep(0.5)
        order = [got.get(timeout=5) for _ in range(BATCHES)]
    finally:
        client.disconnect()
        client.loop_stop()
        buf.close()
    assert order[0] == seqs[-1], "the newest batch leads"
    assert sorted(order) == seqs
    backlog_part = [s for s in order if s != seqs[-1]]
    assert backlog_part == sorted(backlog_part), "the backlog in sequence order"
    if rate:  # 39 backlog batches of 10 readings at 200 readings/s: about 2 s at least
        assert elapsed >= (BATCHES - 1) * PER_BATCH / rate * 0.8, elapsed


async def _commands_seen_beside_foreign_retained_messages(tmp_path) -> list[bytes]:
    """The embedded broker (amqtt 0.12) hands a new subscriber the retained messages matching an
    earlier client's filter: here every gateway's status, as the demo's history replay leaves them."""
    port, stop = free_port(), asyncio.Event()
    broker = asyncio.create_task(run_broker("127.0.0.1", port, stop))
    while not port_open(port):
        await asyncio.sleep(0.05)
    async with aiomqtt.Client("127.0.0.1", port, identifier="history", clean_session=True) as watcher:
        await watcher.subscribe("watertel/+/status", qos=1)
        async with aiomqtt.Client("127.0.0.1", port, identifier="feed") as feed:
            for gw in ("gw-a", "gw-b", "gw-c"):
                await feed.publish(f"watertel/{gw}/status", b'{"state": "online"}', qos=1, retain=True)
        await asyncio.sleep(0.3)
    seen: list[bytes] = []

    async def on_command(payload: bytes) -> None:
        seen.append(payload)

    buf = Buffer(tmp_path / "b.db", "gw-1")
    uplink = Uplink(UplinkConfig(brokers=[f"mqtt://127.0.0.1:{port}"]), "gw-1", buf)
    uplink.on_command = on_command
    task = asyncio.create_task(uplink.run())
    async with aiomqtt.Client("127.0.0.1", port, identifier="cloud") as cloud:
        await asyncio.sleep(1.0)  # the agent has subscribed (and been handed the foreign messages)
        await cloud.publish("watertel/gw-1/cmd", b"a command", qos=1)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    buf.close()
    stop.set()
    await broker
    return seen


def test_only_the_command_topic_reaches_the_command_handler(tmp_path):
    assert asyncio.run(_commands_seen_beside_foreign_retained_messages(tmp_path)) == [b"a command"]
