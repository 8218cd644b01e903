"""Refusal logs that a flood cannot turn into a flood of lines.

The first refusal of a sender for a reason is logged at once (with its detail); all of them,
that one included, are counted and the count is logged when the period ends:
``refused 100 messages from gw-b (too_large) in the last 10 s``; at most two lines per sender
and reason per period, one once the flood goes on. The sender is the gateway named
by the topic, which whoever publishes chooses: beyond ``MAX_SENDERS`` distinct senders in a period
the rest are summed into one line, so varying the topic does not buy lines either.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

log = logging.getLogger("watertel.cloud.ingest")
MAX_SENDERS = 20  # (sender, reason) pairs logged on their own per period


class RefusalLog:
    """Counts refusals per (sender, reason) and logs them at most once per period each.

    A pair still refused in the period after one it was counted in gets no first line again:
    a steady flood is one count line per period, however long it lasts."""

    def __init__(self, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s, self.clock = every_s, clock
        self.started = clock()
        self.counts: Counter[tuple[str, str]] = Counter()  # refusals this period (pairs logged on their own)
        self.ongoing: set[tuple[str, str]] = set()  # pairs refused last period: no first line again
        self.others: Counter[str] = Counter()  # beyond MAX_SENDERS: per reason
        self.other_senders: set[str] = set()

    def refused(self, sender: str, reason: str, what: str, context: dict[str, object]) -> None:
        """One refusal; ``what``: the line for the first one of this sender and reason."""
        self.flush()
        key = (sender, reason)
        if key not in self.counts and len(self.counts) >= MAX_SENDERS:
            self.others[reason] += 1
            self.other_senders.add(sender)
            return
        if key not in self.counts and key not in self.ongoing:
            log.warning("%s", what, extra=context)  # the first, with its detail; the rest are counted
        self.counts[key] += 1

    def flush(self, force: bool = False) -> None:
        """Log the counts of the period if it ended (or ``force``), and start a new one."""
        now = self.clock()
        if not force and now - self.started < self.every_s:
            return
        period = now - self.started
        for (sender, reason), n in sorted(self.counts.items()):  # every refusal is in one count (the first too)
            log.warning("refused %d %s from %s (%s) in the last %.0f s", n, "message" if n == 1 else "messages", sender,
                        reason, period, extra={"gateway": sender, "reason": reason, "refused": n})
        if self.others:
            n = sum(self.others.values())
            reasons = ", ".join(f"{r} {k}" for r, k in sorted(self.others.items()))
            log.warning("refused %d messages from %d more senders (%s) in the last %.0f s", n,
                        len(self.other_senders), reasons, period, extra={"refused": n})
        self.ongoing = set(self.counts)
        self.counts.clear()
        self.others.clear()
        self.other_senders.clear()
        self.started = now
