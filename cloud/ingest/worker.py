"""The ingest worker: subscribes (QoS 1, manual acknowledgement) and feeds the handler.

A message is acknowledged only after the store committed it (or quarantined it), so a worker
killed mid-message gets it again from the broker. Messages already waiting are taken together
and stored in one transaction: one commit per batch instead of one per envelope. aiomqtt does
not expose paho's manual-ack switch, so the worker reaches through to the paho client for it
(``_client``). After each batch, the notices it made (a gateway told that its envelopes are
refused, or stored again: notices.py) go out on the same connection.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from watertel.cloud import metrics
from watertel.cloud.mqtt import MqttConfig
from watertel.cloud.ingest.handler import Handler

log = logging.getLogger("watertel.cloud.ingest")
MAX_BATCH = 100  # envelopes per store transaction: one commit (fsync) for all of them


def _payload(message: aiomqtt.Message) -> bytes:
    return message.payload if isinstance(message.payload, bytes) else bytes(message.payload or b"")


def subscription(cfg: MqttConfig, kind: str = "up") -> str:
    topic = f"{cfg.topic_prefix}/+/{kind}"
    return f"$share/{cfg.shared_group}/{topic}" if cfg.shared_group else topic


async def _tell(client: aiomqtt.Client, cfg: MqttConfig, handler: Handler) -> None:
    """Publish the notices the batch made (refusals told to their gateways, notices.py)."""
    for gateway, notice in handler.notices.take() if handler.notices is not None else ():
        await client.publish(f"{cfg.topic_prefix}/{gateway}/cmd", notice, qos=1)


async def run_ingest(cfg: MqttConfig, handler: Handler) -> None:
    delay, connected_once = 1.0, False
    while True:
        try:
            async with cfg.client(cfg.client_id, clean_session=False, timeout=10) as client:
                client._client.manual_ack_set(True)
                await client.subscribe(subscription(cfg), qos=1)
                await client.subscribe(subscription(cfg, "status"), qos=1)
                log.info("ingest subscribed to %s on %s:%d", subscription(cfg), cfg.host, cfg.port)
                delay, connected_once = 1.0, True
                messages = client.messages
                while True:
                    batch = [await anext(messages)]  # then whatever else is already queued
                    while len(batch) < MAX_BATCH and len(messages):
                        batch.append(await anext(messages))
                    metrics.QUEUED.set(len(messages))
                    for m in batch:
                        if str(m.topic).endswith("/status"):
                            handler.handle_status(str(m.topic), _payload(m))
                    handler.handle_many([(str(m.topic), _payload(m)) for m in batch if not str(m.topic).endswith("/status")])
                    for message in batch:  # only now: everything in the batch is committed
                        if message.qos > 0:
                            client._client.ack(message.mid, message.qos)
                    await _tell(client, cfg, handler)
        except aiomqtt.MqttError as err:
            (log.warning if connected_once else log.debug)("ingest connection: %s", err)
        except Exception:  # a store failure (disk full, locked): the message stays unacknowledged
            log.exception("ingest failed; reconnecting so the broker delivers the message again")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)
