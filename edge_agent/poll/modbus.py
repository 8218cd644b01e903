"""One Modbus connection per bus (TCP or RTU), with errors turned into reading qualities.

The bus scheduler holds the only reference, so there is one outstanding request per bus. A lost
port or connection is reopened on the next poll (USB re-enumeration, PLC reboot).
"""

from __future__ import annotations

import logging

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException, ModbusException

from watertel.edge_agent.config import BusConfig
from watertel.firmware_profiles import Function, Point
from watertel.firmware_profiles.codec import Block
from watertel.readings import Quality

log = logging.getLogger("watertel.edge.poll")


class ReadFailed(Exception):
    """A block could not be read; ``quality`` says why (timeout, exception, comm error)."""

    def __init__(self, quality: Quality, detail: str) -> None:
        super().__init__(detail)
        self.quality = quality


class BusClient:
    def __init__(self, bus: BusConfig) -> None:
        t = bus.transport
        if t.kind == "tcp":
            self.client = AsyncModbusTcpClient(t.host, port=t.port, timeout=bus.timeout_s, retries=0)
        else:
            self.client = AsyncModbusSerialClient(
                t.port, baudrate=t.baudrate, parity=t.parity, stopbits=t.stopbits, timeout=bus.timeout_s, retries=0
            )
        self.name = bus.name

    async def read(self, unit_id: int, block: Block) -> list[int]:
        """Registers of ``block``; raises ReadFailed with the reason."""
        if not self.client.connected and not await self.client.connect():
            raise ReadFailed(Quality.COMM_ERROR, f"bus {self.name}: cannot connect")
        call = {Function.HOLDING: self.client.read_holding_registers, Function.INPUT: self.client.read_input_registers,
                Function.COIL: self.client.read_coils, Function.DISCRETE: self.client.read_discrete_inputs}[block.function]
        try:
            response = await call(block.address, count=block.count, device_id=unit_id)
        except ModbusIOException as err:
            lost = not self.client.connected  # no answer because the link went away
            raise ReadFailed(Quality.COMM_ERROR if lost else Quality.TIMEOUT, str(err)) from err
        except (ConnectionException, ModbusException, OSError) as err:
            self.client.close()
            raise ReadFailed(Quality.COMM_ERROR, str(err)) from err
        if response.isError():
            code = getattr(response, "exception_code", 0)
            raise ReadFailed(Quality.EXCEPTION, f"exception code {code}")
        if block.function in (Function.COIL, Function.DISCRETE):  # bits come padded to whole bytes
            values = [int(bit) for bit in response.bits]
        else:
            values = list(response.registers)
        if len(values) < block.count:
            raise ReadFailed(Quality.COMM_ERROR, f"short answer: {len(values)} of {block.count} values")
        return values[: block.count]

    async def write(self, unit_id: int, point: Point, registers: list[int]) -> None:
        """Write a point's registers (or its coil); raises ReadFailed with the reason."""
        if not self.client.connected and not await self.client.connect():
            raise ReadFailed(Quality.COMM_ERROR, f"bus {self.name}: cannot connect")
        try:
            if point.function is Function.COIL:
                response = await self.client.write_coil(point.first, bool(registers[0]), device_id=unit_id)
            else:
                response = await self.client.write_registers(point.first, registers, device_id=unit_id)
        except (ConnectionException, ModbusException, OSError) as err:
            raise ReadFailed(Quality.COMM_ERROR, str(err)) from err
        if response.isError():
            raise ReadFailed(Quality.EXCEPTION, f"exception code {getattr(response, 'exception_code', 0)}")

    def close(self) -> None:
        self.client.close()
