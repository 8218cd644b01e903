"""Who is connected to the rtu-gateway, and who goes when it is full (issue 21, item 2).

A public port is reached by anyone: 2,000 idle sockets from one address (0.1 s to open) used to
fill ``max_connections`` and lock every RTU out. Now a new connection is always let in, and when
the gateway is full (``max_connections``) or its peer address is (``max_connections_per_address``)
the oldest idle connection goes to make room: first those that never logged in (no station
identified itself on them), oldest first, then logged-in ones, the longest silent first. An
attacker's sockets thus push out each other, not the RTUs.

Both orders are kept in insertion-ordered dicts (moved to the end when a station is heard), so
choosing whom to drop costs O(1) whatever the number of connections.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from watertel.edge_agent.rtu_gateway.config import PeerAddress, peer_address


@dataclass(eq=False)
class Connection:
    """One TCP connection: its peer, when a logged-in station was last heard on it, its failures."""

    host: str  # the peer address as text: the key of the per-address cap and of the quiet logs
    port: int
    writer: asyncio.StreamWriter
    address: PeerAddress | None = None
    opened: float = field(default_factory=time.monotonic)
    last_heard: float = 0.0  # monotonic; the idle timeout counts from here (from opening until a login)
    stations: set[str] = field(default_factory=set)  # stations that logged in on it
    failures: int = 0  # frames refused as unknown address, wrong password or not allowed

    def __post_init__(self) -> None:
        self.address = peer_address(self.host)
        self.last_heard = self.last_heard or self.opened

    @property
    def peer(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def logged_in(self) -> bool:
        return bool(self.stations)

    def drop(self) -> None:
        """Close at once (RST): its task sees the end of the stream and finishes."""
        self.writer.transport.abort()


class _Ordered:
    """Connections not logged in (oldest first) and logged in (longest silent first)."""

    def __init__(self) -> None:
        self.waiting: dict[Connection, None] = {}
        self.active: dict[Connection, None] = {}

    def __len__(self) -> int:
        return len(self.waiting) + len(self.active)

    def oldest(self) -> Connection | None:
        for order in (self.waiting, self.active):
            if order:
                return next(iter(order))
        return None

    def heard(self, conn: Connection) -> None:
        self.waiting.pop(conn, None)
        self.active.pop(conn, None)
        self.active[conn] = None

    def remove(self, conn: Connection) -> None:
        self.waiting.pop(conn, None)
        self.active.pop(conn, None)


class ConnectionTable:
    """The open connections, capped in total and per peer address."""

    def __init__(self, max_total: int, max_per_address: int) -> None:
        self.max_total, self.max_per_address = max_total, max_per_address
        self.all = _Ordered()
        self.by_host: dict[str, _Ordered] = {}

    def __len__(self) -> int:
        return len(self.all)

    def __iter__(self):
        return iter([*self.all.waiting, *self.all.active])

    def admit(self, conn: Connection) -> list[Connection]:
        """Add ``conn``; return the connections removed to make room (the caller drops them)."""
        victims = []
        same_host = self.by_host.get(conn.host)
        if same_host is not None and len(same_host) >= self.max_per_address:
            victims.append(same_host.oldest())
            self.remove(victims[-1])
        if len(self.all) >= self.max_total:
            victims.append(self.all.oldest())
            self.remove(victims[-1])
        self.all.waiting[conn] = None
        self.by_host.setdefault(conn.host, _Ordered()).waiting[conn] = None
        return victims

    def heard(self, conn: Connection) -> None:
        """A logged-in station's frame came on ``conn``: it becomes the most recently heard."""
        if conn in self.all.waiting or conn in self.all.active:
            conn.last_heard = time.monotonic()
            self.all.heard(conn)
            self.by_host[conn.host].heard(conn)

    def remove(self, conn: Connection) -> None:
        self.all.remove(conn)
        same_host = self.by_host.get(conn.host)
        if same_host is not None:
            same_host.remove(conn)
            if not same_host:
                del self.by_host[conn.host]
