"""Send one signed command to a gateway and wait for its signed answer (`watertel cloud command`)."""

from __future__ import annotations

import asyncio
from typing import Any

from watertel.cloud.config import CloudConfig
from watertel.cloud.ingest.gateway_keys import GatewayKeys
from watertel.commands import COMMANDS, Answer, CommandError, command
from watertel.crypto import SM2PrivateKey
from watertel.errors import OperatorError


async def send_command(cfg: CloudConfig, gateway_id: str, name: str, args: dict[str, Any],
                       timeout_s: float = 30.0) -> Answer:
    if cfg.command_key is None:
        raise OperatorError("command_key is not set in the cloud config (an SM2 key from `watertel keys new`)")
    if name not in COMMANDS:
        raise OperatorError(f"unknown command {name!r} (one of {', '.join(COMMANDS)})")
    entry = next((g for g in cfg.gateways if g.id == gateway_id), None)
    if entry is None:
        raise OperatorError(f"gateway {gateway_id!r} is not registered in the cloud config")
    gateway_key = GatewayKeys([entry]).key(gateway_id, entry.key_id)
    command_id, message = command(gateway_id, name, args, SM2PrivateKey.from_pem(cfg.command_key.read_text()),
                                  ttl_s=timeout_s)
    m, prefix = cfg.mqtt, cfg.mqtt.topic_prefix
    async with m.client(f"{m.client_id}-cmd-{command_id[:8]}") as client:
        await client.subscribe(f"{prefix}/{gateway_id}/result", qos=1)
        await client.publish(f"{prefix}/{gateway_id}/cmd", message, qos=1)
        async with asyncio.timeout(timeout_s):
            async for reply in client.messages:
                try:
                    answer = Answer.unpack(bytes(reply.payload), gateway_key)
                except CommandError:
                    continue  # not from this gateway's key: ignore it
                if answer.command_id == command_id:
                    return answer
    raise OperatorError("no answer")  # unreachable: the timeout raises first
