"""Issue 21's attacks on the rtu-gateway's public port, and a real RTU timing its acknowledgements
meanwhile: for tests/security/test_rtu_port.py and bench/bench_rtu_flood.py.

An attack runs in its own process (``python -m tests.support.rtu_attacks flood|slowloris|storm
--port P ...``, printing one JSON line when done), so the RTU's timings in the caller's process are
not slowed by the attacker's own work: on the machine, both share the cores as they would with
the gateway anyway.

- ``flood``: N connections each sending the issue's 14 bytes (``7E 7E`` + 9 × ``00`` + ``0F FF
  02``, a fake SL 651 frame of 4,095 body bytes) over and over at full speed, reconnecting when
  closed;
- ``slowloris``: N idle sockets from one address, opened as fast as possible and held;
- ``storm``: connections opened, sent a burst of the flood and reset, over and over, from N loops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from watertel.protocols import Protocol, szy206

from tests.support.rtu import Client, rtu_report

FAKE = b"\x7e\x7e" + bytes(9) + b"\x0f\xff\x02"
CHUNK = FAKE * (65536 // len(FAKE))


def _more_files(n: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def _reset_on_close(writer: asyncio.StreamWriter) -> None:
    """Close with RST (linger 0): a storm leaves no TIME_WAIT sockets eating the port range."""
    sock = writer.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except (AttributeError, OSError):  # already closed (by the gateway's reset)
        pass


async def flood(port: int, connections: int, seconds: float) -> dict:
    sent, reconnects = [0], [0]
    deadline = time.monotonic() + seconds

    async def one() -> None:
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                reconnects[0] += 1
                await asyncio.sleep(0.01)
                continue
            try:
                while time.monotonic() < deadline and not writer.transport.is_closing():
                    writer.write(CHUNK)
                    await asyncio.wait_for(writer.drain(), max(0.01, deadline - time.monotonic()))
                    sent[0] += len(CHUNK)
                reconnects[0] += 1
            except (OSError, TimeoutError):
                reconnects[0] += 1
            finally:
                _reset_on_close(writer)
                writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return {"attack": "flood", "connections": connections, "bytes_sent": sent[0], "reconnects": reconnects[0]}


async def slowloris(port: int, connections: int, seconds: float) -> dict:
    _more_files(connections + 100)
    started = time.monotonic()
    held = []
    for _ in range(connections):
        try:
            held.append(await asyncio.open_connection("127.0.0.1", port))
        except OSError:
            break
    opened_in = time.monotonic() - started
    print(json.dumps({"opened": len(held), "opened_in_s": round(opened_in, 3)}), flush=True)
    await asyncio.sleep(max(0.0, seconds - opened_in))
    still = sum(1 for reader, writer in held if not writer.transport.is_closing() and not reader.at_eof())
    for _, writer in held:
        _reset_on_close(writer)
        writer.close()
    return {"attack": "slowloris", "opened": len(held), "opened_in_s": round(opened_in, 3), "still_open": still}


async def storm(port: int, loops: int, seconds: float) -> dict:
    made = [0]
    deadline = time.monotonic() + seconds

    async def one() -> None:
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            made[0] += 1
            try:
                writer.write(CHUNK[:8192])
                await asyncio.wait_for(writer.drain(), 1)
            except (OSError, TimeoutError):
                pass
            _reset_on_close(writer)
            writer.close()

    await asyncio.gather(*(one() for _ in range(loops)))
    return {"attack": "storm", "loops": loops, "connections_made": made[0]}


def start(attack: str, port: int, n: int, seconds: float, log: Path) -> subprocess.Popen:
    """Run an attack in its own process; its JSON lines go to ``log``."""
    root = Path(__file__).resolve().parents[2]
    out = open(log, "w")
    return subprocess.Popen([sys.executable, "-m", "tests.support.rtu_attacks", attack, "--port", str(port),
                             "-n", str(n), "--seconds", str(seconds)], cwd=root, stdout=out, stderr=subprocess.STDOUT)


def results(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


# --- the real RTU ---------------------------------------------------------------------------------


def login_frame(address: str) -> bytes:
    division, _, station = address.partition("-")
    return szy206.encode(szy206.Frame(szy206.Afn.LINK_CHECK, True, 0, 3, division, int(station),
                                      szy206.LinkCheck(szy206.LinkCode.LOGIN)))


async def timed_rtu(port: int, address: str, reports: int, every_s: float = 0.05, source: str | None = None,
                    ack_timeout_s: float = 30.0) -> list[float]:
    """A SZY 206 RTU: log in, then send ``reports`` reports one by one; each one's time to its
    confirmation (seconds). Raises if one is not confirmed within ``ack_timeout_s``."""
    c = await Client.connect(port, source)
    try:
        await c.send(login_frame(address))
        assert (await c.frames(timeout=ack_timeout_s))[0].afn == szy206.Afn.LINK_CHECK
        waited = []
        for i in range(reports):
            frame = rtu_report(Protocol.SZY206, address, i, count=reports)
            started = time.monotonic()
            await c.send(frame)
            (confirm,) = await c.frames(timeout=ack_timeout_s)
            waited.append(time.monotonic() - started)
            assert isinstance(confirm.message, szy206.Confirm), confirm
            await asyncio.sleep(every_s)
        return waited
    finally:
        c.writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("attack", choices=["flood", "slowloris", "storm"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, required=True, help="connections (flood, slowloris) or loops (storm)")
    ap.add_argument("--seconds", type=float, required=True)
    args = ap.parse_args()
    run = {"flood": flood, "slowloris": slowloris, "storm": storm}[args.attack]
    print(json.dumps(asyncio.run(run(args.port, args.n, args.seconds))), flush=True)


if __name__ == "__main__":
    main()
