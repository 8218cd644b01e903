"""`watertel profile probe`: read every point of a profile from a real device (or a simulator)
and show, per point, the raw registers, the decoded value with its unit, whether it lies in the
valid range, and the response time. This is how a vendor checks that a register map matches the
firmware: a wrong address gives an exception, a wrong word order an absurd value out of range.

Each point is read with its own request, so a failure names exactly one point and the response
time is that point's. A point fails on no answer, an exception response, registers that hold no
value of its type, or a value outside its range; any failure makes the exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field

from typing import Any

from watertel import firmware_profiles
from watertel.firmware_profiles.codec import DecodeError, decode
from watertel.firmware_profiles.model import Function, Point, Profile
from watertel.ports import host_port


class ReadError(Exception):
    """No usable answer: timeout, exception response, short answer, lost connection."""


class NoAnswer(ReadError):
    """Silence: a wrong unit id, baud rate or wiring (a device that is there answers, even if with
    an exception)."""


SILENT_LIMIT = 2  # points in a row without an answer: the rest are skipped, with a hint, not read one by one
SILENCE, SKIPPED = "no value: no answer", "not read: the device did not answer"


@dataclass
class PointResult:
    """What one point read gave; ``error`` is None when the point passed."""

    name: str
    function: str
    address: int
    count: int
    raw: list[int] = field(default_factory=list)
    value: float | None = None
    unit: str = ""
    range: list[float] | None = None
    in_range: bool | None = None
    ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Target:
    """A connected Modbus client for one device; ``read`` returns registers or bits as ints."""

    def __init__(self, client: Any, unit: int, label: str) -> None:
        self.client, self.unit, self.label = client, unit, label  # a pymodbus async client

    async def read(self, function: Function, address: int, count: int) -> list[int]:
        """Registers (or bits as 0/1); raises ReadError with the reason."""
        from pymodbus.exceptions import ModbusException, ModbusIOException  # imported here: not in a cloud install

        try:
            return await self._read(function, address, count)
        except ModbusIOException as err:  # pymodbus' "[Input/Output] No response received after 0 retries, …"
            raise NoAnswer("no answer") from err
        except ModbusException as err:
            raise ReadError(str(err)) from err

    async def _read(self, function: Function, address: int, count: int) -> list[int]:
        call = {Function.COIL: self.client.read_coils, Function.DISCRETE: self.client.read_discrete_inputs,
                Function.HOLDING: self.client.read_holding_registers,
                Function.INPUT: self.client.read_input_registers}[function]
        response = await call(address, count=count, device_id=self.unit)
        if response.isError():
            raise ReadError(f"exception response, code {getattr(response, 'exception_code', '?')}")
        values = response.bits if function.is_bit else response.registers
        if len(values) < count:
            raise ReadError(f"short answer: {len(values)} of {count}")
        return [int(v) for v in values[:count]]


async def probe_point(target: Target, point: Point) -> PointResult:
    """Read and judge one point."""
    result = PointResult(point.name, point.function.value, point.first, point.count, unit=point.unit,
                         range=list(point.range) if point.range else None)
    started = time.perf_counter()
    try:
        result.raw = await target.read(point.function, point.first, point.count)
    except (ReadError, OSError) as err:
        result.error = f"no value: {err}"
        return result
    finally:
        result.ms = round((time.perf_counter() - started) * 1000, 2)
    try:
        result.value = decode(point, result.raw)
    except DecodeError as err:
        result.error = f"not a {point.type.value}: {err}"
        return result
    if point.range:
        result.in_range = point.range[0] <= result.value <= point.range[1]
        if not result.in_range:
            result.error = f"{result.value:g} outside the valid range {point.range[0]:g} … {point.range[1]:g}"
    return result


async def probe_status(target: Target, profile: Profile) -> PointResult | None:
    """The status register, with the names of the fault bits set (reported; not a failure)."""
    st = profile.status
    if st is None:
        return None
    result = PointResult("status", st.function.value, st.address, 1)
    started = time.perf_counter()
    try:
        result.raw = await target.read(st.function, st.address, 1)
    except (ReadError, OSError) as err:
        result.error = f"no value: {err}"
    result.ms = round((time.perf_counter() - started) * 1000, 2)
    if result.raw:
        result.value = result.raw[0]
        result.unit = ", ".join(name for bit, name in sorted(st.faults.items()) if result.raw[0] >> bit & 1) or "no fault"
    return result


async def probe(profile: Profile, target: Target) -> list[PointResult]:
    """Every point in profile order, then the status register; after SILENT_LIMIT points in a row
    without an answer the rest are not read (a wrong unit id would cost a timeout per point)."""
    results: list[PointResult] = []
    for point in profile.points:
        if _silent(results):
            results.append(PointResult(point.name, point.function.value, point.first, point.count, unit=point.unit,
                                       error=SKIPPED))
        else:
            results.append(await probe_point(target, point))
    status = None if _silent(results) else await probe_status(target, profile)
    return results + ([status] if status else [])


def _silent(results: list[PointResult]) -> bool:
    last = results[-SILENT_LIMIT:]
    return len(last) == SILENT_LIMIT and all(r.error in (SILENCE, SKIPPED) for r in last)


def _client(args: argparse.Namespace, profile: Profile) -> tuple[Any, str]:
    """A pymodbus client for --tcp or --serial."""
    from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient  # imported here: not in a cloud install

    if args.tcp:
        host, port = host_port(args.tcp, "--tcp")
        return AsyncModbusTcpClient(host, port=port, timeout=args.timeout, retries=0), f"tcp {host}:{port}"
    t = profile.transport
    baud = args.baud or t.baudrate
    client = AsyncModbusSerialClient(args.serial, baudrate=baud, parity=args.parity or t.parity,
                                     stopbits=args.stopbits or t.stopbits, timeout=args.timeout, retries=0)
    return client, f"rtu {args.serial} {baud} baud"


async def _connect(client: Any, label: str) -> str | None:
    """None when connected, else why not (a serial port may refuse its settings: a
    pseudo-terminal rejects even parity, for one)."""
    try:
        if await client.connect():
            return None
        return f"cannot connect to {label}"
    except Exception as err:  # noqa: BLE001 - pyserial raises termios.error, OSError, SerialException
        return f"cannot open {label}: {err}"


def _text(profile_path: str, label: str, unit: int, results: list[PointResult]) -> str:
    lines = [f"probe {profile_path} on {label}, unit {unit}",
             f"{'point':20} {'fn':8} {'addr':>5}  {'raw':24} {'value':>22}  {'range':16} {'ms':>7}  result"]
    for r in results:
        raw = " ".join(f"{v:04X}" if r.function in ("holding", "input") else str(v) for v in r.raw)
        value = "" if r.value is None else f"{r.value:.6g} {r.unit}"
        valid = f"{r.range[0]:g} … {r.range[1]:g}" if r.range else ""
        ms = "" if r.ms is None else f"{r.ms:.1f}"
        lines.append(f"{r.name:20} {r.function:8} {r.address:>5}  {raw:24} {value:>22}  {valid:16} {ms:>7}  "
                     f"{'ok' if r.ok else 'FAIL: ' + r.error}")
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results)} read: {len(results) - failed} ok, {failed} failed")
    return "\n".join(lines)


async def _run(args: argparse.Namespace) -> int:
    profile = firmware_profiles.load(args.profile)
    unit = args.unit or profile.transport.unit_id
    client, label = _client(args, profile)
    try:
        problem = await _connect(client, label)
        results = await probe(profile, Target(client, unit, label)) if problem is None else [
            PointResult(p.name, p.function.value, p.first, p.count, unit=p.unit, error=problem)
            for p in profile.points]
    finally:
        client.close()
    if args.json:
        doc = {"profile": str(args.profile), "target": label, "unit": unit, "ok": all(r.ok for r in results),
               "points": [asdict(r) | {"ok": r.ok} for r in results]}
        print(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        print(_text(str(args.profile), label, unit, results))
    if hint := _hint(results, label, unit, profile, problem):
        print(hint, file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


def _hint(results: list[PointResult], label: str, unit: int, profile: Profile, problem: str | None) -> str | None:
    """One line on stderr when nothing could be read: what to check."""
    if problem is not None:
        return f"error: {problem} (check the address or serial port, that the device is on, and that nothing else holds it)"
    if results and not any(r.raw for r in results) and _silent(results[:SILENT_LIMIT]):
        serial = "" if label.startswith("tcp") else ", the baud rate and parity (--baud, --parity) and the wiring (A/B)"
        return (f"error: unit {unit} on {label} did not answer: check the unit id (--unit; "
                f"{profile.transport.unit_id} is this profile's default){serial}")
    return None


def run(args: argparse.Namespace) -> int:
    """Probe; exit status 0 when every point passed, 1 otherwise."""
    if args.unit is not None and not 1 <= args.unit <= 247:
        print("error: --unit must be 1..247", file=sys.stderr)
        return 2
    return asyncio.run(_run(args))
