"""The embedded MQTT broker (amqtt), for set-ups that have no Mosquitto or EMQX.

Anonymous access on loopback only, which is what the demo needs; production uses Mosquitto or
EMQX with TLS and per-gateway credentials (see deploy/).
"""

from __future__ import annotations

import asyncio
import logging

from amqtt.broker import Broker


def broker_config(host: str, port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def run_broker(host: str, port: int, stop: asyncio.Event) -> None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the embedded broker allows anonymous clients, so it listens on loopback only")
    # amqtt logs every client event at INFO and some protocol noise at WARNING
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    logging.getLogger("transitions").setLevel(logging.ERROR)
    broker = Broker(broker_config(host, port))
    await broker.start()
    try:
        await stop.wait()
    finally:
        await broker.shutdown()
