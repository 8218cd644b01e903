"""How many password guesses the login lets through, and how many password checks run at once.

Failures are counted in one sliding window (``login_window_s``) four ways:

- per (username, client address), ``login_max_failures``: past it, that address waits, even with
  the right password; another address is not held (the attacker's own address is the one locked);
- per client address, any usernames, ``login_max_failures_per_client``: password spraying (one
  guess per user) from one address;
- per username, all addresses, ``login_max_failures_per_account``: past it, an address that has
  already failed on that username waits; an address with no failure on it still gets its try;
- all logins, ``login_max_failures_total``: past it (guesses spread over many addresses), only
  addresses that logged in successfully before may try.

Why this choice rather than locking the account: a lock per account is a weapon (anyone who can
reach the login locks any user out, which the review showed), while a lock per (account,
address) alone lets an attacker with many addresses guess on. Here an attacker's addresses are
held, each new address buys at most one more guess per account per window once the account is
under attack, and the user's own address, which has not failed, still logs in with the right
password. The total ceiling is the last line against a botnet: it favours addresses known to have
logged in (in the last 30 days, kept in memory: a restart forgets them); a user from a new address
then waits out the window (a denial of login, never of
access to the passwords). Addresses are the TCP peer's unless the API's ``forwarded_allow_ips``
names the reverse proxy (cloud/service.py), so a client cannot choose what is counted.

Each allowed attempt counts as a failure until it is known to have succeeded, so parallel guesses
cannot slip past a limit; refused attempts are not counted, so waits never grow past the window.

``PasswordChecks`` caps the argon2 checks running at once (each takes 64 MiB and a core for
~0.1 s): past the cap a login waits briefly on the event loop, then is answered 429 with
Retry-After, instead of every parallel login taking 64 MiB and a thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass

TRUSTED_DAYS = 30  # an address that logged in is trusted under the total ceiling this long
MAX_KEYS = 100_000  # past this many counted names/addresses, stale ones are forgotten
MAX_TRUSTED = 10_000
CHECK_WAIT_S = 2.0  # a login waits this long for a free password check (a burst of real users), then 429


@dataclass(frozen=True)
class Limits:
    """The four ceilings (see the module docstring) and their window."""

    pair: int
    client: int
    account: int
    total: int
    window_s: float


class LoginLimiter:
    """Failed logins in a sliding window, per pair, client, account and in total."""

    def __init__(self, limits: Limits, clock=time.time) -> None:
        self.limits, self.clock = limits, clock
        self._pair: dict[tuple[str, str], deque[float]] = {}
        self._client: dict[str, deque[float]] = {}
        self._account: dict[str, deque[float]] = {}
        self._total: deque[float] = deque()
        self._trusted: dict[str, float] = {}  # address -> last successful login
        self._lock = threading.Lock()  # logins run in the thread pool

    def _recent(self, table: dict, key, now: float) -> deque[float]:
        times = table.get(key) or deque()
        self._expire(times, now)
        if not times:
            table.pop(key, None)
        return times

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.limits.window_s:
            times.popleft()

    def _wait(self, times: deque[float], limit: int, now: float) -> float:
        """Seconds until ``times`` holds fewer than ``limit`` (0: already)."""
        return 0.0 if len(times) < limit else times[-limit] + self.limits.window_s - now

    def _forget_stale(self, now: float) -> None:
        for table in (self._pair, self._client, self._account):
            if len(table) > MAX_KEYS:
                for key in list(table):
                    self._recent(table, key, now)
        if len(self._trusted) > MAX_TRUSTED:
            for address, _ in sorted(self._trusted.items(), key=lambda kv: kv[1])[:len(self._trusted) - MAX_TRUSTED]:
                del self._trusted[address]

    def trusted(self, client: str, now: float) -> bool:
        return self._trusted.get(client, -1e18) > now - TRUSTED_DAYS * 86_400

    def attempt(self, username: str, client: str) -> int:
        """Seconds until this username may be tried from ``client`` (0: go ahead, counted as a
        failure until ``succeeded`` or ``abandoned``)."""
        now, lim = self.clock(), self.limits
        with self._lock:
            self._forget_stale(now)
            self._expire(self._total, now)
            pair = self._recent(self._pair, (username, client), now)
            by_client = self._recent(self._client, client, now)
            account = self._recent(self._account, username, now)
            waits = [self._wait(pair, lim.pair, now), self._wait(by_client, lim.client, now)]
            if pair and len(account) >= lim.account:  # this address already failed on an account under attack
                waits.append(pair[-1] + lim.window_s - now)
            if not self.trusted(client, now):
                waits.append(self._wait(self._total, lim.total, now))
            if (wait := max(waits)) > 0:
                return max(1, int(wait + 0.999))
            for times in (pair, by_client, account, self._total):
                times.append(now)
            self._pair[(username, client)], self._client[client], self._account[username] = pair, by_client, account
            return 0

    def _drop(self, username: str, client: str, at: float) -> None:
        for times in (self._pair.get((username, client)), self._client.get(client), self._account.get(username),
                      self._total):
            if times is not None and at in times:
                times.remove(at)

    def abandoned(self, username: str, client: str) -> None:
        """An allowed attempt whose password was never checked (the checks were busy): not a failure."""
        with self._lock:
            pending = self._pair.get((username, client))
            if pending:
                self._drop(username, client, pending[-1])

    def succeeded(self, username: str, client: str) -> None:
        """The right password: the pair's failures go and the address is trusted; its failures on
        other usernames stay (knowing one password buys no more guesses at others)."""
        with self._lock:
            pending = self._pair.get((username, client))
            if pending:
                self._drop(username, client, pending[-1])
            self._pair.pop((username, client), None)
            self._trusted[client] = self.clock()


class PasswordChecks:
    """At most ``limit`` password checks at once. A login waits up to ``wait_s`` for a slot on the
    event loop (no thread held, a few hundred bytes), then is refused: memory stays at ``limit``
    × 64 MiB whatever the number of parallel logins, and the thread pool stays free for others."""

    def __init__(self, limit: int, wait_s: float = CHECK_WAIT_S) -> None:
        self._slots, self.wait_s = asyncio.Semaphore(limit), wait_s

    async def acquire(self) -> bool:
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_s)
        except TimeoutError:
            return False
        return True

    def release(self) -> None:
        self._slots.release()
