"""rtu-gateway configuration (YAML, validated on load; relative paths against its folder).

Which RTU address is which registered station, and which element of its reports is which point::

    stations:
      - protocol: szy206
        address: "330102-1234"      # division code (6 digits) - station address (0-65535)
        station: ST-0001
        points:
          flow_1: {point: flow, unit: m3/h}     # flow of the report's first point
          volume_1: {point: total, unit: m3}
      - protocol: sl651
        address: "0011223344"       # station address, 10 digits
        password: "1A2B"            # the RTU's SL 651 password, 4 hex digits (checked on every frame)
        allow: [10.64.0.0/16]       # optional: the addresses it may connect from (addresses or CIDR)
        station: ST-0002
        points:
          flow: {point: flow, unit: m3/s}       # element 27H
          water_level: {point: level, unit: m}  # element 39H

SZY 206 keys: ``flow_N``, ``volume_N`` (data type 3, point N), ``pressure_N`` (type 15), the
water-quality parameter names of ``watertel.protocols.szy206.WATER_QUALITY`` (type 10),
``alarm_state`` and ``terminal_state``. SL 651 keys: the element names of
``watertel.protocols.sl651.ELEMENTS`` except the hourly 5-minute series (F4H-FCH).

Who may report as a station (issue 21): an SL 651 station's frames must carry its ``password``
(required: SL 651 frames carry one); ``allow`` (any station) limits the peer addresses it may
connect from. SZY 206 uplink frames carry no password, so ``allow`` is a SZY 206 station's only
check beyond its address: the gateway warns at start for each one without it. A frame that fails
either check is treated as one from an unknown address (no answer), so a scanner cannot tell them
apart; wrong SL 651 passwords from one address lock it out of the station for a while. The
connection caps, the idle timeout before a station has logged in and the window around
the receive time that sample times must fall in are the gateway-level settings below.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import Field, ValidationInfo, field_validator

from watertel.edge_agent.config import BatchConfig, BufferConfig, KeyConfig, UplinkConfig, identity_paths, key_problems
from watertel.config import ConfigError, Strict, parse_yaml, problem_at, validate
from watertel.ids import ID_PATTERN
from watertel.protocols import Protocol, sl651, szy206

NAME = ID_PATTERN
SZY_ADDRESS = re.compile(r"^(\d{6})-(\d{1,5})$")
SL_ADDRESS = re.compile(r"^\d{10}$")
SZY_KEYS = re.compile(r"^(flow|volume|pressure)_[1-9][0-9]?$")
SZY_NAMES = frozenset(name for name, _, _ in szy206.WATER_QUALITY.values()) | {"alarm_state", "terminal_state"}
SL_NAMES = frozenset(name for ident, (name, _) in sl651.ELEMENTS.items() if ident not in sl651.SERIES)


def szy_address(division: str, station: int) -> str:
    """How a SZY 206 RTU is named in the config and the logs: ``330102-1234``."""
    return f"{division}-{station}"


class PointTarget(Strict):
    point: str = Field(pattern=NAME)
    unit: str = Field(min_length=1)  # the frame does not carry it (SZY flow: m3/h or m3/s per station)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PeerAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def peer_address(host: str) -> PeerAddress | None:
    """The peer's address as the allow-lists compare it (IPv4-mapped IPv6 as IPv4); None if unparsable."""
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


class StationMapping(Strict):
    protocol: Protocol
    address: str
    password: str | None = None  # SL 651: 4 hex digits, as set in the RTU
    allow: list[str] = []  # addresses or networks (CIDR) it may connect from; empty: any
    station: str = Field(pattern=NAME)
    points: dict[str, PointTarget] = Field(min_length=1)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str, info: ValidationInfo) -> str:
        protocol = info.data.get("protocol")
        if protocol == Protocol.SZY206:
            match = SZY_ADDRESS.match(value)
            if not match or int(match[2]) > 0xFFFF:
                raise ValueError("a SZY 206 address is the division code and station address "
                                 "(write it like 330102-1234)")
            return szy_address(match[1], int(match[2]))  # 330102-01234 and 330102-1234 are one RTU
        if protocol == Protocol.SL651 and not SL_ADDRESS.match(value):
            raise ValueError("an SL 651 address is 10 digits (write it like 0011223344)")
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("protocol") == Protocol.SZY206:
            raise ValueError("SZY 206 uplink frames carry no password (limit the station with allow: [its addresses])")
        if not re.fullmatch(r"[0-9A-Fa-f]{4}", value):
            raise ValueError(f"an SL 651 password is 4 hex digits, as set in the RTU (got {len(value)} characters; "
                             "write it quoted, like \"1A2B\")")
        return value.upper()

    @field_validator("allow")
    @classmethod
    def _allow(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=True)
            except ValueError as err:
                raise ValueError(f"{entry!r} is not an address or network ({err}; write 10.64.0.0/16 or "
                                 "203.0.113.7)") from None
        return value

    @property
    def password_value(self) -> int | None:
        """The password as the frame carries it (two bytes), or None when not set."""
        return int(self.password, 16) if self.password is not None else None

    @property
    def networks(self) -> list[Network]:
        return [ipaddress.ip_network(entry) for entry in self.allow]

    def allows(self, peer: PeerAddress | None) -> bool:
        """Whether ``peer`` may report as this station (any peer when ``allow`` is empty)."""
        if not self.allow:
            return True
        return peer is not None and any(peer in net for net in self.networks)

    @field_validator("points")
    @classmethod
    def _keys(cls, points: dict[str, PointTarget], info: ValidationInfo) -> dict[str, PointTarget]:
        protocol = info.data.get("protocol")
        if protocol == Protocol.SZY206:
            bad = [k for k in points if not SZY_KEYS.match(k) and k not in SZY_NAMES]
            if bad:
                raise ValueError(f"{bad[0]!r} is not a SZY 206 value (use flow_1, volume_1, pressure_1, a water "
                                 f"quality name such as ph, alarm_state or terminal_state)")
        if protocol == Protocol.SL651:
            bad = [k for k in points if k not in SL_NAMES]
            if bad:
                raise ValueError(f"{bad[0]!r} is not an SL 651 element (use a name such as flow, water_level, "
                                 f"water_pressure_1, supply_voltage; the hourly 5-minute series are not supported)")
        targets = [(t.point) for t in points.values()]
        repeated = sorted({p for p in targets if targets.count(p) > 1})
        if repeated:
            raise ValueError(f"two values map to point {repeated[0]!r} (give each its own point)")
        return points


class RtuGatewayConfig(Strict):
    """The readings of each protocol travel as their own gateway, ``<gateway_id>.<protocol>``
    (e.g. ``rtu-hz.szy206``): its own buffer, hash chain and topic, signed with ``key``."""

    gateway_id: str = Field(pattern=NAME)
    key: KeyConfig
    uplink: UplinkConfig
    buffer: BufferConfig  # path: the szy206 buffer is <stem>.szy206<suffix> beside it, and so on
    batching: BatchConfig = BatchConfig()
    listen: str = Field("0.0.0.0:9206", pattern=r"^[^:\s]*:[0-9]{1,5}$")  # HOST:PORT, both protocols
    idle_timeout_s: float = Field(300.0, gt=0)  # no frame of a logged-in station this long: closed
    max_connections: int = Field(2000, ge=1)  # when full, the oldest idle connection is dropped for a new one
    max_connections_per_address: int = Field(64, ge=1)  # from one peer address (RTUs behind one NAT: raise it)
    max_auth_failures: int = Field(3, ge=1)  # frames failing address/password/allow-list before a connection is closed
    max_password_failures: int = Field(10, ge=1)  # wrong SL 651 passwords for a station from one peer address ...
    password_lockout_s: float = Field(600.0, ge=0)  # ... before that address is refused as it for this long
    max_sample_age_s: float = Field(86400.0, gt=0)  # sample times older than this at receipt are refused
    max_sample_ahead_s: float = Field(600.0, ge=0)  # ... and later than this ahead of the receive time
    ack_timeout_s: float = Field(10.0, gt=0)  # a report not in the buffer by then is not acknowledged
    sl651_reply: Literal["esc", "eot"] = "esc"  # ESC: the RTU stays online (long connection); EOT: it may hang up
    stations: list[StationMapping] = Field(min_length=1)

    def gateway_id_for(self, protocol: Protocol) -> str:
        return f"{self.gateway_id}.{protocol.value}"

    def buffer_path(self, protocol: Protocol) -> Path:
        path = self.buffer.path
        return path.with_name(f"{path.stem}.{protocol.value}{path.suffix or '.db'}")

    def protocols(self) -> list[Protocol]:
        return [p for p in Protocol if any(s.protocol == p for s in self.stations)]

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host or "0.0.0.0", int(port)


def _cross_problems(cfg: RtuGatewayConfig) -> Iterable[tuple[tuple[Any, ...], str]]:
    seen: dict[tuple[Protocol, str], int] = {}
    for i, s in enumerate(cfg.stations):
        first = seen.setdefault((s.protocol, s.address), i)
        if first != i:
            yield ("stations", i, "address"), (f"{s.protocol.value} address {s.address} is also stations.{first} "
                                               "(one RTU, one entry)")
    for i, s in enumerate(cfg.stations):
        if s.protocol == Protocol.SL651 and s.password is None:
            yield ("stations", i, "password"), ("an SL 651 station needs its password (the 4 hex digits set in the "
                                                 "RTU, quoted, like \"1A2B\"; SL 651 frames carry it)")
    if cfg.host_port[1] > 65535:
        yield ("listen",), f"port {cfg.host_port[1]} is not 0-65535 (0: any free port)"


def load_rtu_config(path: Path | str, listen: str | None = None) -> RtuGatewayConfig:
    """Load and validate; ``listen`` (HOST:PORT from the command line) replaces the file's."""
    path = Path(path)
    data, node = parse_yaml(path)
    if listen is not None and isinstance(data, dict):
        data = {**data, "listen": listen}
    cfg = validate(path, data, node, RtuGatewayConfig)
    problems = [problem_at(path, node, loc, problem) for loc, problem in _cross_problems(cfg)]
    cfg = cfg.model_copy(update=identity_paths(cfg.key, cfg.buffer, cfg.uplink, path.parent))
    problems += key_problems(path, cfg.key)
    if problems:
        raise ConfigError(path, problems)
    return cfg
