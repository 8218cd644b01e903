"""Field RTUs for the rtu-gateway tests: SZY 206 and SL 651 reports, the gateway's config, and a
raw TCP client that sends bytes and reads the centre's frames."""

from __future__ import annotations

from pathlib import Path
import asyncio
import time

import yaml

from watertel.simulators.field_rtu import FieldRtu
from watertel.keys import write_key_pair
from watertel.protocols import Protocol, sl651, szy206
from watertel.protocols.framing import StreamFramer

SZY, SL = "330102-1234", "0011223344"
SL_PASSWORD = "1A2B"  # the SL 651 station's password in write_rtu_config (rtu_report's SL frames carry it)
SZY_POINTS = {"flow_1": {"point": "flow", "unit": "m3/h"}, "volume_1": {"point": "total", "unit": "m3"}}
SL_POINTS = {"flow": {"point": "flow", "unit": "m3/s"}, "water_level": {"point": "level", "unit": "m"},
             "supply_voltage": {"point": "supply_voltage", "unit": "V"}}
POINT_OF = {"szy206": {k: v["point"] for k, v in SZY_POINTS.items()},
            "sl651": {k: v["point"] for k, v in SL_POINTS.items()}}


def rtu_report(protocol: Protocol, address: str, i: int, count: int = 50, password: str = SL_PASSWORD) -> bytes:
    """Report ``i`` of ``count`` (at least i + 1: sampled in the last minutes, never ahead of now)."""
    return FieldRtu(protocol, "127.0.0.1", 1, address, count=max(count, i + 1), seed=i,
                    password=int(password, 16)).make_report(i).frame


def write_rtu_config(tmp: Path, broker_port: int, listen: str = "127.0.0.1:0", extra: list[dict] = (), **options) -> Path:
    if not (tmp / "keys" / "rtu-t.key.pem").exists():
        write_key_pair(tmp / "keys", "rtu-t")
    cfg = {
        "gateway_id": "rtu-t", "key": {"private_key": "keys/rtu-t.key.pem", "key_id": "rtu-t-k1"},
        "uplink": {"brokers": [f"mqtt://127.0.0.1:{broker_port}"]}, "buffer": {"path": "rtu-t.db"},
        "batching": {"max_readings": 200, "max_latency_s": 0.2}, "listen": listen, **options,
        "stations": [{"protocol": "szy206", "address": SZY, "station": "ST-SZY", "points": SZY_POINTS},
                     {"protocol": "sl651", "address": SL, "password": SL_PASSWORD, "station": "ST-SL",
                      "points": SL_POINTS}, *extra],
    }
    path = tmp / "rtu.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


class Client:
    """A raw TCP RTU for tests: send bytes, read the centre's frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.framer = reader, writer, StreamFramer()

    @classmethod
    async def connect(cls, port: int, source: str | None = None) -> Client:
        """Connect to 127.0.0.1:port, from the loopback address ``source`` (e.g. 127.0.0.2) if given."""
        local = (source, 0) if source else None
        return cls(*await asyncio.open_connection("127.0.0.1", port, local_addr=local))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def frames(self, n: int = 1, timeout: float = 5.0) -> list:
        got: list = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            data = await asyncio.wait_for(self.reader.read(4096), deadline - time.monotonic())
            if not data:
                break
            got += [(szy206 if p == Protocol.SZY206 else sl651).decode(raw) for p, raw in self.framer.feed(data)]
        return got

    async def silent(self, wait: float = 0.3) -> bool:
        try:
            return not await asyncio.wait_for(self.reader.read(4096), wait)
        except TimeoutError:
            return True
