"""Who may report as a station, and which sample times are believed (issue 21, item 3).

A frame is answered, and its readings stored, only if its address is a configured station, its
peer address is in the station's ``allow`` list (when it has one) and, for SL 651, it carries the
station's password. A frame that fails any of these is refused the same way (no answer, counted,
logged once a minute per peer address), so a scanner learns nothing about which addresses exist.
Each refusal counts against the connection (``max_auth_failures``), and only a frame that passes
keeps a connection alive (see ``connections``).

The SL 651 password has 16 bits: ``max_password_failures`` wrong ones for a station from one peer
address lock that address out of that station for ``password_lockout_s`` (its frames as that
station are refused even with the right password), so guessing takes thousands of addresses,
while the real RTU, from its own address, goes on reporting.

Sample times must fall in a window around the receive time (``max_sample_age_s`` before it,
``max_sample_ahead_s`` after it): an RTU whose clock is wrong (or a forger's frame dated 2041,
which kept a station "online" until 2041) is refused and counted, and not acknowledged, so the
RTU keeps the report and the station shows as stopped until its clock is set.
"""

from __future__ import annotations

import time
from collections import Counter

from watertel.edge_agent.rtu_gateway.config import RtuGatewayConfig, StationMapping
from watertel.edge_agent.rtu_gateway.connections import Connection
from watertel.edge_agent.rtu_gateway.mapping import StationMap, address_of
from watertel.edge_agent.rtu_gateway.quiet import Quiet
from watertel.protocols import Protocol, sl651, szy206
from watertel.readings import Reading


MAX_GUESSERS = 10_000  # (peer address, station) pairs remembered; beyond, the ones not locked out are forgotten


class Admission:
    def __init__(self, cfg: RtuGatewayConfig, stats: Counter[str], quiet: Quiet) -> None:
        self.cfg, self.stats, self.quiet = cfg, stats, quiet
        self.stations = StationMap(cfg)
        self.guesses: dict[tuple[str, str], tuple[int, float]] = {}  # (host, station) → (wrong passwords, locked until)

    def station(self, protocol: Protocol, frame: szy206.Frame | sl651.Frame, conn: Connection) -> StationMapping | None:
        """The station the frame is from, if it may speak as it; None (refused, counted) if not."""
        address = address_of(frame)
        entry = self.stations.find(protocol, address)
        if entry is None:
            reason = "unknown_address"
        elif not entry.allows(conn.address):
            reason = "not_allowed"
        elif self._locked_out(conn.host, entry):
            reason = "locked_out"
        elif protocol == Protocol.SL651 and frame.password != entry.password_value:
            reason = "wrong_password"
            self._guessed(conn.host, entry)
        else:
            return entry
        conn.failures += 1
        self.stats[reason] += 1
        self.stats["refused_frames"] += 1
        self.quiet.warn(f"refused:{conn.host}", "%s frame for address %s from %s refused (%s): not answered",
                        protocol.value, address, conn.peer, reason.replace("_", " "))
        return None

    def _locked_out(self, host: str, entry: StationMapping) -> bool:
        _, until = self.guesses.get((host, entry.station), (0, 0.0))
        return until > time.monotonic()

    def _guessed(self, host: str, entry: StationMapping) -> None:
        """Count a wrong password; at ``max_password_failures`` the address is locked out of the station."""
        key = (host, entry.station)
        count, _ = self.guesses.pop(key, (0, 0.0))
        count += 1
        if count < self.cfg.max_password_failures:
            self.guesses[key] = (count, 0.0)
        else:
            self.guesses[key] = (0, time.monotonic() + self.cfg.password_lockout_s)
            self.stats["lockouts"] += 1
            self.quiet.warn(f"lockout:{host}", "%d wrong passwords for %s from %s: that address is refused as it for "
                            "%g s", count, entry.station, host, self.cfg.password_lockout_s)
        if len(self.guesses) > MAX_GUESSERS:
            now = time.monotonic()
            self.guesses = {k: v for k, v in self.guesses.items() if v[1] > now}

    def in_window(self, entry: StationMapping, readings: list[Reading], now_s: float | None = None) -> bool:
        """Whether every sample time is within the window around now; if not, counted and logged."""
        now_ms = (time.time() if now_s is None else now_s) * 1000
        earliest = now_ms - self.cfg.max_sample_age_s * 1000
        latest = now_ms + self.cfg.max_sample_ahead_s * 1000
        outside = [r.t_ms for r in readings if not earliest <= r.t_ms <= latest]
        if not outside:
            return True
        self.stats["out_of_window"] += 1
        self.quiet.warn(f"window:{entry.station}", "report of %s refused: sample time %s is outside %g s before to "
                        "%g s after the receive time (is the RTU's clock set?)", entry.station,
                        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(outside[0] / 1000)),
                        self.cfg.max_sample_age_s, self.cfg.max_sample_ahead_s)
        return False
