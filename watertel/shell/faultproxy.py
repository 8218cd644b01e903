"""A loopback TCP proxy that can drop, delay and cut connections on command (for `watertel soak`).

    edge agents ──► 127.0.0.1:proxy ──► 127.0.0.1:broker
                     │ drop(s):  close every connection, refuse new ones for s seconds
                     │ delay(s): hold every chunk ``latency`` seconds, both ways, for s seconds
                     │ cut():    forward only the first half of each connection's next chunk,
                     │           then close it (an MQTT packet torn in two mid-stream)

It runs its own asyncio loop in a background thread, so a synchronous harness can drive it.
Loopback only: it listens on 127.0.0.1 and forwards to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time


class FaultProxy:
    def __init__(self, listen_port: int, target_port: int) -> None:
        self.listen_port, self.target_port = listen_port, target_port
        self.refuse_until = 0.0
        self.latency, self.delay_until = 0.0, 0.0
        self.cut_armed: set[asyncio.StreamWriter] = set()
        self.torn = 0  # connections cut mid-stream (a chunk split in two)
        self.links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="soak-fault-proxy", daemon=True)
        self.server: asyncio.base_events.Server | None = None

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()
        self.server = self._call(asyncio.start_server(self._accept, "127.0.0.1", self.listen_port))

    def stop(self) -> None:
        """Close everything and end the thread (again: nothing)."""
        if not self.thread.is_alive():
            return

        async def close() -> None:
            self.server.close()
            self._close_all()
            await asyncio.sleep(0.1)
        self._call(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    # --- faults ---------------------------------------------------------------------------------
    def drop(self, seconds: float) -> None:
        """Close every open connection and refuse new ones for ``seconds``."""
        self.refuse_until = time.monotonic() + seconds
        self.loop.call_soon_threadsafe(self._close_all)

    def delay(self, seconds: float, latency: float) -> None:
        """Hold each chunk ``latency`` seconds (in order) for the next ``seconds``."""
        self.latency, self.delay_until = latency, time.monotonic() + seconds

    def cut(self, grace_s: float = 2.0) -> int:
        """Tear every open connection in the middle of its next chunk; a connection that sends
        nothing within ``grace_s`` is closed plainly. Returns how many were torn mid-chunk."""
        before = self.torn
        self.loop.call_soon_threadsafe(lambda: self.cut_armed.update(w for pair in self.links for w in pair))
        time.sleep(grace_s)
        self.loop.call_soon_threadsafe(self._close_armed)
        return self.torn - before

    def _close_armed(self) -> None:
        for pair in list(self.links):
            if any(w in self.cut_armed for w in pair):
                self._close(pair)
        self.cut_armed.clear()

    def _close_all(self) -> None:
        for pair in list(self.links):
            self._close(pair)

    def _close(self, pair) -> None:
        self.links.discard(pair)
        for writer in pair:
            self.cut_armed.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()

    # --- forwarding -----------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if time.monotonic() < self.refuse_until:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self.links.add(pair)
        await asyncio.gather(self._pump(reader, up_writer, pair), self._pump(up_reader, writer, pair))
        self._close(pair)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair) -> None:
        with contextlib.suppress(Exception):
            while chunk := await reader.read(65536):
                if time.monotonic() < self.delay_until:
                    await asyncio.sleep(self.latency)
                if writer in self.cut_armed:
                    writer.write(chunk[: max(1, len(chunk) // 2)] if len(chunk) > 1 else chunk)
                    with contextlib.suppress(Exception):
                        await writer.drain()
                    self.torn += 1
                    self._close(pair)
                    return
                if pair not in self.links:
                    return
                writer.write(chunk)
                await writer.drain()
        self._close(pair)
