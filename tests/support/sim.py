"""Helpers for the simulator tests: a run driven by a manual clock, read back from its served log."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient

from watertel.simulators.clock import ManualClock
from watertel.simulators.config import SimConfig
from watertel.simulators.run import run_simulators
from watertel.simulators.scenario import load_scenario

T0 = 1717171200.0  # 2024-06-01 00:00 at UTC+8: the demand curve's local midnight


def write_scenario(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


async def start_run(config: SimConfig, clock, scenario: Path | None = None) -> asyncio.Task:
    ready = asyncio.Event()
    task = asyncio.create_task(run_simulators(config, ready, clock, load_scenario(scenario) if scenario else None))
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait([task, waiter], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # raises what stopped the simulators (e.g. a ConfigError)
    assert ready.is_set(), "the simulators did not start"
    return task


async def stop_run(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def served(path: Path) -> dict[tuple[str, str], list[tuple[float, float, str]]]:
    """(device, point) → [(t_sim relative to T0, value, quality)] in serving order."""
    out: dict[tuple[str, str], list] = defaultdict(list)
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        out[(rec["device"], rec["point"])].append((rec["t_sim"] - T0, rec["value"], rec["quality"]))
    return out


async def poll_at(config: SimConfig, times_s: list[float], reads: list[tuple[int, int, int, int]],
                  scenario: Path | None = None) -> None:
    """Serve ``config`` (one TCP port) on a manual clock; at each time (s after T0) make each
    read ``(unit, function code, address, count)`` with a pymodbus client."""
    clock = ManualClock(T0)
    task = await start_run(config, clock, scenario)
    port = config.devices[0].transport.port
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    await client.connect()
    try:
        for t in times_s:
            clock.set(T0 + t)
            for unit, code, address, count in reads:
                read = client.read_holding_registers if code == 3 else client.read_input_registers
                response = await read(address, count=count, device_id=unit)
                assert not response.isError(), response
    finally:
        client.close()
        await stop_run(task)
