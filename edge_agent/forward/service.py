"""`watertel forward --config forward.yaml`: buffer → frames → platform, until SIGTERM/SIGINT.

Two loops share the state file: ``_pull`` (every ``poll_s``: new buffer rows → pending → frames)
and ``_send`` (oldest unacknowledged frame → platform → marked acknowledged). A failure (no
connection, no answer, NAK) is logged once at error, repeats at debug, recovery at info; the same
frame goes again after a back-off of ``retry_first_s`` doubling up to ``retry_max_s`` (with
jitter), on a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections import Counter

from watertel.edge_agent.forward.answers import Answers
from watertel.edge_agent.forward.config import ForwardConfig
from watertel.edge_agent.forward.frames import FrameBuilder
from watertel.edge_agent.forward.link import LinkError, PlatformLink
from watertel.edge_agent.forward.outbox import Outbox
from watertel.edge_agent.forward.source import BufferSource

log = logging.getLogger("watertel.edge.forward")
TAKE_ROWS = 5000  # buffer rows per pull transaction
SUMMARY_EVERY_S = 60.0


class Forwarder:
    def __init__(self, cfg: ForwardConfig) -> None:
        self.cfg = cfg
        self.outbox = Outbox(cfg.state, cfg.platform.protocol.value)
        self.source = BufferSource(cfg.source.buffer)
        self.builder = FrameBuilder(cfg)
        self.answers = Answers(cfg, self.source, self.builder)
        self.link = PlatformLink(cfg, self.answers.answer)
        self.wake = asyncio.Event()
        self.stats: Counter[str] = Counter()  # this run: attempts, acked, failures, reconnects
        self.connected = False
        self.failures, self.delay = 0, cfg.platform.retry_first_s
        self._checked_restart = False

    # --- buffer → frames --------------------------------------------------------------------------
    def pull(self, now_ms: int | None = None) -> int:
        """Take new buffer rows and build what is complete; return the frames built."""
        last_id, last_added = self.outbox.cursor()
        if self.outbox.fresh and self.cfg.source.start == "newest":
            newest, added_ms = self.source.newest()
            self.outbox.move_cursor(newest, added_ms)
            log.info("forward: first run, starting after buffer reading %d (source.start: newest)", newest)
            return 0
        restart = self.source.restarted_at(last_id, last_added, full=not self._checked_restart)
        self._checked_restart = True
        if restart is not None:
            log.warning("forward: the buffer's reading ids started again (it was emptied): reading from id %d",
                        restart)
            self.outbox.move_cursor(restart - 1)
            last_id = restart - 1
        while rows := self.source.after(last_id, TAKE_ROWS):
            counts = Counter()
            if last_id and rows[0].id > last_id + 1:
                counts["pruned_unforwarded"] += rows[0].id - last_id - 1
                log.error("forward: %d readings were pruned from the buffer before they were forwarded "
                          "(the forwarder was behind by more than the buffer keeps)", rows[0].id - last_id - 1)
            keep = [r for r in rows if self.builder.maps(r)]
            counts["taken"] += len(keep)
            counts["not_mapped"] += len(rows) - len(keep)
            self.outbox.take(rows, keep, counts)
            last_id = rows[-1].id
        result = self.builder.build(self.outbox.pending(), self.outbox.next_serial, now_ms)
        self.outbox.build(result.frames, result.done_ids, result.serial, result.counts)
        if result.frames:
            self.wake.set()
        return len(result.frames)

    async def _pull_loop(self) -> None:
        while True:
            try:
                self.pull()
            except Exception as err:  # a locked or damaged buffer must not stop the sending of what is built
                self.stats["pull_errors"] += 1
                (log.error if self.stats["pull_errors"] == 1 else log.debug)("forward: reading the buffer failed: %s",
                                                                              err)
            else:
                self.stats["pull_errors"] = 0
            await asyncio.sleep(self.cfg.poll_s)

    # --- frames → platform ------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        platform = self.cfg.platform
        self.delay = platform.retry_first_s
        while True:
            try:
                await self.link.connect()
                self.connected = True
                log.debug("forward: connected to %s (%s)", platform.connect, platform.protocol.value)
                await self._session()
            except LinkError as err:
                self.failures += 1
                self.stats["failures"] += 1
                (log.error if self.failures == 1 else log.debug)(
                    "forward: %s: %s; retrying in %.1f s", platform.connect, err.reason, self.delay)
                self.connected = False
                await self.link.close()
                await asyncio.sleep(self.delay * random.uniform(0.8, 1.0))  # jitter: gateways must not retry in step
                self.delay = min(self.delay * 2, platform.retry_max_s)

    async def _session(self) -> None:
        platform = self.cfg.platform
        while True:
            frame = self.outbox.next_frame()
            if frame is None:
                self.wake.clear()
                idle = platform.keepalive_s - self.link.idle_s()
                if idle <= 0:
                    await self.link.keepalive()
                    self._ok()
                    continue
                await self.link.idle(min(idle, 1.0), self.wake)  # the platform's queries answered meanwhile
                continue
            self.stats["attempts"] += 1
            await self.link.send(frame.data)
            self.outbox.mark_acked(frame)
            self.stats["acked"] += 1
            self._ok()

    def _ok(self) -> None:
        """An answered exchange: the back-off starts over, and a recovery is worth an info line."""
        if self.failures:
            log.info("forward: %s answering again after %d failed attempts", self.cfg.platform.connect, self.failures)
        self.failures, self.delay = 0, self.cfg.platform.retry_first_s

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._pull_loop()), asyncio.create_task(self._send_loop()),
                 asyncio.create_task(self._summaries())]
        log.info("forward: %s to %s (%s), state %s", self.cfg.source.buffer, self.cfg.platform.connect,
                 self.cfg.platform.protocol.value, self.cfg.state)
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.link.close()
            self.source.close()
            log.info("forward stopped: %s", self.outbox.stats())
            self.outbox.close()

    async def _summaries(self) -> None:
        last: dict = {}
        while True:
            await asyncio.sleep(SUMMARY_EVERY_S)
            self.outbox.prune(self.cfg.keep_acked)
            now = self.outbox.stats()
            if now != last:
                log.info("forward: %s", " ".join(f"{k}={v}" for k, v in sorted(now.items())))
                last = now


async def run_forwarder(cfg: ForwardConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Forwarder(cfg).run(stop)

