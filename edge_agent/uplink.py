"""MQTT uplink: sends sealed batches in sequence order, QoS 1, and marks them sent on PUBACK.

A batch is marked sent only after the broker acknowledged it, so a cut connection or a crash
re-sends it (the cloud drops the duplicate by gateway and sequence). Brokers are tried in turn.
A PUBACK is the broker's, not the cloud's: the cloud's verdict comes as signed notices on the
command topic (edge_agent/verdict.py), taken here beside the commands.

The gateway's presence is on ``<prefix>/<gateway>/status``, retained: a birth message (version,
profiles, configuration hash, buffer depth, clock, conditions such as ``buffer_full``, the last
configuration change) on connect, refreshed every ``status_every_s`` and at once when a condition
changes, "offline" as the last will (a power cut, a lost link) and "stopped" on a planned stop
(the cloud raises gateway_offline for the first only). Each is signed with the gateway's key
(watertel/presence.py): the will is prepared and signed when the connection opens, in a session
of its own, so a copy of it cannot pass for a later death.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiomqtt

from watertel.crypto import SM2PrivateKey
from watertel.edge_agent.buffer import Batch, Buffer
from watertel.edge_agent.config import UplinkConfig
from watertel.notices import is_notice
from watertel.presence import sign_status

log = logging.getLogger("watertel.edge.uplink")
RECONNECT_MAX_S = 30.0
REPEAT_LOG_S = 300.0  # the same connection error is logged again at most this often (debug between)


def topic_for(prefix: str, gateway_id: str, kind: str = "up") -> str:
    return f"{prefix}/{gateway_id}/{kind}"


def _client(url: str, cfg: UplinkConfig, gateway_id: str, will: bytes) -> aiomqtt.Client:
    parts = urlsplit(url)
    tls_context = cfg.tls.context() if parts.scheme == "mqtts" and cfg.tls else None
    password = cfg.password_file.read_text().strip() if cfg.password_file else None
    return aiomqtt.Client(
        parts.hostname, parts.port or (8883 if tls_context else 1883),
        identifier=cfg.client_id or gateway_id, username=cfg.username, password=password,
        tls_context=tls_context, clean_session=True, timeout=10,
        will=aiomqtt.Will(topic_for(cfg.topic_prefix, gateway_id, "status"), will, qos=1, retain=True),
    )


def _reason(err: Exception) -> str:
    """A connection error in words: the file for a missing one, the broker's code for a refusal."""
    if isinstance(err, OSError) and err.filename:
        return f"{err.strerror}: {err.filename}"
    return str(err) or type(err).__name__


class Uplink:
    def __init__(self, cfg: UplinkConfig, gateway_id: str, buffer: Buffer, birth: dict | None = None,
                 key: SM2PrivateKey | None = None, key_id: str = "") -> None:
        self.cfg = cfg
        self.birth = json.dumps({"gateway_id": gateway_id, "state": "online", **(birth or {})}).encode()
        self.key, self.key_id = key, key_id  # set: status messages signed (without: unsigned, as before; tests)
        self.session, self.n = 0, 0  # this connection's status session and its last message number
        self.status_topic = topic_for(cfg.topic_prefix, gateway_id, "status")
        self.gateway_id = gateway_id
        self.buffer = buffer
        self.topic = topic_for(cfg.topic_prefix, gateway_id)
        self.wake = asyncio.Event()
        self.connected = False
        self.broker: str | None = None
        self.last_ack_ms: int | None = None
        self.command_topic = topic_for(cfg.topic_prefix, gateway_id, "cmd")
        self.answer_topic = topic_for(cfg.topic_prefix, gateway_id, "result")
        self.on_command: Callable[[bytes], Awaitable[bytes | None]] | None = None  # set: take signed commands
        self.on_notice: Callable[[bytes], None] | None = None  # set: take the cloud's notices (edge_agent/verdict.py)
        self.status_fn: Callable[[], dict] | None = None  # the changing part of the status message
        self.status_due = False  # set: publish the status now (a condition changed)
        self.outbox: list[tuple[bytes, Callable[[], None]]] = []  # late answers, and what to do once acknowledged
        self.quiet_stop = False  # a reload: no "offline" (the next configuration says "online" at once)
        self.birth_acked = False
        self.last_error: str | None = None  # why the last connection failed (`edge status` shows it)
        self.down_since_ms: int | None = int(time.time() * 1000)  # not connected since then
        self.failures = 0  # connection attempts failed since then
        self._logged: dict[str, tuple[str, float]] = {}  # per broker: the reason last logged, and when

    def _signed(self, body: dict) -> bytes:
        """``body`` as published: signed in this session with the next number (unsigned without a key)."""
        if self.key is None:
            return json.dumps(body).encode()
        self.n += 1
        return sign_status({**body, "session": self.session, "n": self.n, "key_id": self.key_id}, self.key)

    def _new_session(self) -> bytes:
        """Start a status session for a new connection; its last will, signed now (n = 0)."""
        try:
            self.session = self.buffer.next_status_session()
        except sqlite3.Error:  # a full disk: still above the last session unless the clock went back
            self.session = max(int(time.time() * 1000), self.session + 1)
        self.n = -1
        will = self._signed({"gateway_id": self.gateway_id, "state": "offline", "will": True,
                             "t_ms": int(time.time() * 1000)})
        return will

    def _status(self) -> bytes:
        body = json.loads(self.birth)
        if self.status_fn is not None:
            body |= {**self.status_fn(), "t_ms": int(time.time() * 1000)}
        return self._signed(body)

    def _stopped(self) -> bytes:
        return self._signed({"gateway_id": self.gateway_id, "state": "stopped", "t_ms": int(time.time() * 1000)})

    async def run(self) -> None:
        """Send forever; reconnect with back-off across the broker list."""
        delay, attempt = 1.0, 0
        while True:
            url = self.cfg.brokers[attempt % len(self.cfg.brokers)]
            try:
                async with _client(url, self.cfg, self.gateway_id, self._new_session()) as client:
                    log.info("uplink connected to %s", url)
                    self.connected, self.broker, delay = True, url, 1.0
                    self.last_error, self.down_since_ms, self.failures = None, None, 0
                    await client.publish(self.status_topic, self._status(), qos=1, retain=True)
                    self.birth_acked = True
                    try:
                        await self._session(client)
                    except asyncio.CancelledError:  # a planned stop: say so (no gateway_offline alarm)
                        if not self.quiet_stop:
                            await asyncio.wait_for(client.publish(self.status_topic, self._stopped(), qos=1, retain=True), 2)
                        raise
            except aiomqtt.MqttError as err:
                self._failed(url, err)
            except OSError as err:  # a TLS or password file gone or unreadable since the start (SSLError too)
                self._failed(url, err)
            finally:
                self.connected = False
            attempt += 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # jitter: a fleet must not reconnect in step
            delay = min(delay * 2, RECONNECT_MAX_S)

    def _failed(self, url: str, err: Exception) -> None:
        """Keep the reason for `edge status`; log it once, then at most every REPEAT_LOG_S."""
        reason = f"{url}: {_reason(err)}"
        if self.connected:
            self.down_since_ms = int(time.time() * 1000)
        self.last_error, self.failures = reason, self.failures + 1
        said, when = self._logged.get(url, ("", -math.inf))
        if self.connected or reason != said or time.monotonic() - when >= REPEAT_LOG_S:
            log.warning("uplink %s: %s (retrying with back-off up to %g s)",
                        "lost" if self.connected else "cannot connect", reason, RECONNECT_MAX_S)
            self._logged[url] = (reason, time.monotonic())
        else:
            log.debug("uplink to %s failed: %s", url, err)

    async def _session(self, client: aiomqtt.Client) -> None:
        """Send batches and, if enabled, answer commands, until the connection fails."""
        tasks = [asyncio.create_task(self._send_loop(client))]
        if self.on_command or self.on_notice:
            await client.subscribe(self.command_topic, qos=1)
            tasks.append(asyncio.create_task(self._command_loop(client)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # the MqttError that ended it
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _command_loop(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if not message.topic.matches(self.command_topic):  # amqtt 0.12 hands a new subscriber the
                continue  # retained messages of another client's filter (e.g. every gateway's status)
            payload = message.payload if isinstance(message.payload, bytes) else bytes(message.payload or b"")
            if is_notice(payload):  # the cloud's verdict on our envelopes: no answer (watertel/notices.py)
                if self.on_notice:
                    self.on_notice(payload)
                continue
            answer = await self.on_command(payload) if self.on_command else None
            if answer is not None:
                await client.publish(self.answer_topic, answer, qos=1)

    async def _flush(self, client: aiomqtt.Client, last_status: float) -> float:
        """Late answers, and the status when due; returns when the status was last sent."""
        while self.outbox:
            answer, done = self.outbox[0]
            await client.publish(self.answer_topic, answer, qos=1)
            self.outbox.pop(0)
            done()
        if self.status_due or time.monotonic() - last_status >= self.cfg.status_every_s:
            self.status_due = False
            await client.publish(self.status_topic, self._status(), qos=1, retain=True)
            return time.monotonic()
        return last_status

    def _next_round(self, live_from: int) -> tuple[list[Batch], int]:
        """Batches to publish now: live ones (sequence >= ``live_from``, the newest batch when the
        link came up and all sealed since) first, so operators see current values at once, then
        the backlog oldest first. Returns them and the number of backlog readings among them."""
        live = self.buffer.unsent(self.cfg.max_in_flight, from_seq=live_from)
        old = self.buffer.unsent(self.cfg.max_in_flight - len(live), before_seq=live_from) if len(live) < self.cfg.max_in_flight else []
        return live + old, sum(b.n for b in old)

    async def _send_loop(self, client: aiomqtt.Client) -> None:
        rate = self.cfg.backlog_readings_per_s
        newest = self.buffer.newest_unsent()
        live_from = newest.seq if newest else 0
        last_status = time.monotonic()  # the birth just went out
        while True:
            last_status = await self._flush(client, last_status)
            batches, backlog = self._next_round(live_from)
            if not batches:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), 1.0)
                except TimeoutError:
                    pass
                continue
            started = time.monotonic()
            await asyncio.gather(*(client.publish(self.topic, b.data, qos=1) for b in batches))
            self.buffer.mark_sent([b.seq for b in batches])
            for b in batches if log.isEnabledFor(logging.DEBUG) else ():  # the cloud logs refusals by this id
                log.debug("envelope acknowledged", extra={"envelope": f"{self.gateway_id}/{b.seq}", "readings": b.n})
            self.last_ack_ms = int(time.time() * 1000)
            if rate and backlog:  # a metered 4G link: the backlog must not crowd out everything else
                await asyncio.sleep(max(0.0, backlog / rate - (time.monotonic() - started)))
