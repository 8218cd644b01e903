"""The embedded MQTT broker (amqtt), for set-ups that have no Mosquitto or EMQX.

Anonymous access on loopback only, which is what the demo needs; production uses Mosquitto or
EMQX with TLS and per-gateway credentials (see deploy/).
"""

from __future__ import annotations

import asyncio
import logging

from amqtt.broker import Broker
from amqtt.errors import BrokerError

from watertel.errors import OperatorError
from watertel.ports import cannot_listen


def broker_config(host: str, port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def run_broker(host: str, port: int, stop: asyncio.Event) -> None:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise OperatorError(f"--listen {host}:{port}: the embedded broker allows anonymous clients, so it listens "
                            "on loopback only (use 127.0.0.1, or Mosquitto with deploy/mosquitto for a network)")
    # amqtt logs every client event at INFO and some protocol noise at WARNING
    logging.getLogger("amqtt").setLevel(logging.ERROR)
    logging.getLogger("transitions").setLevel(logging.ERROR)
    broker = Broker(broker_config(host, port))
    logging.getLogger("amqtt.broker").setLevel(logging.CRITICAL)  # its failed start comes with a traceback
    try:
        await broker.start()
    except BrokerError as err:  # amqtt wraps the OSError: say which address, and what to do
        raise OperatorError(cannot_listen(host, port)) from err
    finally:
        logging.getLogger("amqtt.broker").setLevel(logging.NOTSET)  # back to amqtt's ERROR
    try:
        await stop.wait()
    finally:
        await broker.shutdown()
