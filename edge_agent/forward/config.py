"""forward.yaml: which platform to report to, and which point is which protocol element.

One platform (one protocol) per file; run a second forwarder, with its own ``state`` file, to
report to a second platform. Relative paths are resolved against the file's folder::

    source: {buffer: /var/lib/watertel/gw-1.db}     # the edge agent's buffer, read only
    state: /var/lib/watertel/forward-szy.db         # cursor and outbox of this forwarder
    platform:
      protocol: szy206                              # or sl651
      connect: 10.20.30.40:9206
    stations:
      - station: ST-0001                            # as in the edge config's readings
        address: "330102-1234"                      # SZY: division-station; SL: 10 digits
        points:
          flow: {element: flow_1}
          total: {element: volume_1}

Elements use the rtu-gateway's keys: SZY 206 ``flow_N`` / ``volume_N`` (data type 3, always in
pairs from 1), ``pressure_N`` (type 15, from 1), the water-quality names of
``szy206.WATER_QUALITY`` (type 10), ``alarm_state``, ``terminal_state``; SL 651 the element names
of ``sl651.ELEMENTS`` (not the hourly 5-minute series), each with its size and decimals
(``bytes``, ``decimals``; defaults for the common ones in :data:`SL_DEFINITIONS`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable, Literal

from pydantic import Field

from watertel.config import ConfigError, Strict, parse_yaml, problem_at, resolve, validate
from watertel.ids import ID_PATTERN
from watertel.protocols import Protocol, sl651, szy206

NAME = ID_PATTERN
SZY_ADDRESS = re.compile(r"^(\d{6})-(\d{1,5})$")
SL_ADDRESS = re.compile(r"^\d{10}$")
SZY_NUMBERED = re.compile(r"^(flow|volume|pressure)_([1-9][0-9]?)$")
SZY_QUALITY = {name: bit for bit, (name, _, _) in szy206.WATER_QUALITY.items()}
SZY_STATE = ("alarm_state", "terminal_state")
SL_IDENTS = {name: ident for ident, (name, _) in sl651.ELEMENTS.items() if ident not in sl651.SERIES}
# element name: (bytes, decimals) as the standard's tables give them (N(9,3) flow: 5 bytes, 3 decimals)
SL_DEFINITIONS = {
    "flow": (5, 3), "water_level": (4, 3), "level_upstream": (4, 3), "level_downstream": (4, 3),
    "supply_voltage": (2, 2), "water_temperature": (2, 1), "ph": (2, 2), "rainfall_1h": (3, 1),
    "rainfall_day": (3, 1), "rainfall_current": (3, 1), "rainfall_total": (3, 1), "status_alarm_bits": (4, 0),
}
SZY_POINTS_MAX = 20  # flow/volume pairs: 20 x 10 bytes keep a self-report in one frame


class Source(Strict):
    buffer: Path  # the edge agent's buffer file (buffer.path in edge.yaml)
    start: Literal["oldest", "newest"] = "oldest"  # first run: everything the buffer holds, or only new readings


class Platform(Strict):
    protocol: Protocol
    connect: str = Field(pattern=r"^[^:\s]+:[0-9]{1,5}$")  # HOST:PORT of the platform's receiver
    centre: int = Field(1, ge=0, le=255)  # SL 651: the centre's address
    password: str = Field("0000", pattern=r"^[0-9A-Fa-f]{4}$")  # SL 651: 2 bytes, as 4 hex digits
    delay_min: int = Field(10, ge=0, le=255)  # SZY 206: allowed delay in the time label
    keepalive_s: float = Field(40.0, gt=0)  # a link check after this long without traffic
    ack_timeout_s: float = Field(10.0, gt=0)  # no answer by then: the frame is sent again after a back-off
    retry_first_s: float = Field(1.0, gt=0)  # back-off after a failure, doubled each time up to retry_max_s
    retry_max_s: float = Field(60.0, gt=0)

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.connect.rpartition(":")
        return host, int(port)


class Element(Strict):
    element: str
    bytes: int | None = Field(None, ge=1, le=31)  # SL 651 only: the value's BCD bytes
    decimals: int | None = Field(None, ge=0, le=7)  # SL 651 only


class StationConfig(Strict):
    station: str = Field(pattern=NAME)
    address: str
    category: Literal[tuple(c.name.lower() for c in sl651.Category)] = "intake"  # SL 651 station category
    points: dict[str, Element] = Field(min_length=1)


class ForwardConfig(Strict):
    source: Source
    state: Path  # this forwarder's SQLite file: cursor into the buffer, frames until acknowledged
    platform: Platform
    stations: list[StationConfig] = Field(min_length=1)
    poll_s: float = Field(1.0, gt=0)  # how often the buffer is read for new readings
    settle_s: float = Field(5.0, ge=0)  # an incomplete report waits this long past its time slot for the rest
    keep_acked: int = Field(10_000, ge=0)  # acknowledged frames kept in the state file (for inspection)


def _szy_problems(i: int, s: StationConfig) -> Iterable[tuple[tuple[Any, ...], str]]:
    match = SZY_ADDRESS.match(s.address)
    if not match or int(match[2]) > 0xFFFF:
        yield ("stations", i, "address"), (f"a SZY 206 address is the division code and station address, "
                                           f"got {s.address!r} (write it like 330102-1234)")
    numbered: dict[str, set[int]] = {"flow": set(), "volume": set(), "pressure": set()}
    for point, el in s.points.items():
        where = ("stations", i, "points", point)
        m = SZY_NUMBERED.match(el.element)
        if m:
            numbered[m[1]].add(int(m[2]))
        elif el.element not in SZY_QUALITY and el.element not in SZY_STATE:
            yield (*where, "element"), (f"{el.element!r} is not a SZY 206 value (use flow_1, volume_1, pressure_1, "
                                        f"a water quality name such as ph, alarm_state or terminal_state)")
        if el.bytes is not None or el.decimals is not None:
            yield where, "bytes and decimals are for SL 651 elements (remove them: SZY 206 fixes each value's size)"
    if numbered["flow"] != numbered["volume"]:
        yield ("stations", i, "points"), ("flow_N and volume_N come in pairs in a SZY 206 report, got flow "
                                          f"{sorted(numbered['flow'])} and volume {sorted(numbered['volume'])} "
                                          "(map both of each pair)")
    for kind in ("flow", "pressure"):
        if numbered[kind] and numbered[kind] != set(range(1, len(numbered[kind]) + 1)):
            yield ("stations", i, "points"), (f"{kind}_N must be numbered from 1 without gaps, got "
                                              f"{sorted(numbered[kind])} (the report carries points in order)")
        if len(numbered[kind]) > SZY_POINTS_MAX:
            yield ("stations", i, "points"), f"at most {SZY_POINTS_MAX} {kind} points per station (split the station)"


def _sl_problems(i: int, s: StationConfig) -> Iterable[tuple[tuple[Any, ...], str]]:
    if not SL_ADDRESS.match(s.address):
        yield ("stations", i, "address"), (f"an SL 651 address is 10 digits, got {s.address!r} "
                                           "(write it like 0011223344)")
    for point, el in s.points.items():
        where = ("stations", i, "points", point)
        if el.element not in SL_IDENTS:
            yield (*where, "element"), (f"{el.element!r} is not an SL 651 element (use a name such as flow, "
                                        "water_level, water_pressure_1, supply_voltage)")
        elif (el.bytes is None or el.decimals is None) and el.element not in SL_DEFINITIONS:
            yield where, (f"element {el.element} has no default size "
                          "(give bytes and decimals, e.g. bytes: 4, decimals: 2)")
        elif el.decimals is not None and el.bytes is not None and el.decimals > 2 * el.bytes:
            yield where, f"{el.decimals} decimals do not fit {el.bytes} BCD bytes (give more bytes)"


def _cross_problems(cfg: ForwardConfig) -> Iterable[tuple[tuple[Any, ...], str]]:
    seen: dict[str, int] = {}
    addresses: dict[str, int] = {}
    for i, s in enumerate(cfg.stations):
        if seen.setdefault(s.station, i) != i:
            yield ("stations", i, "station"), f"station {s.station} is also stations.{seen[s.station]} (one entry each)"
        if addresses.setdefault(s.address, i) != i:
            yield ("stations", i, "address"), f"address {s.address} is also stations.{addresses[s.address]}"
        yield from (_szy_problems if cfg.platform.protocol == Protocol.SZY206 else _sl_problems)(i, s)
        elements = [el.element for el in s.points.values()]
        repeated = sorted({e for e in elements if elements.count(e) > 1})
        if repeated:
            yield ("stations", i, "points"), f"two points map to element {repeated[0]} (one point per element)"
    if cfg.platform.host_port[1] > 65535:
        yield ("platform", "connect"), f"port {cfg.platform.host_port[1]} is not 1-65535"
    if cfg.platform.retry_max_s < cfg.platform.retry_first_s:
        yield ("platform", "retry_max_s"), "is below retry_first_s (make it at least as long)"


def load_forward_config(path: Path | str) -> ForwardConfig:
    """Load and validate; every problem as ``file:line: key: problem (fix)``."""
    path = Path(path)
    data, node = parse_yaml(path)
    cfg = validate(path, data, node, ForwardConfig)
    problems = [problem_at(path, node, loc, problem) for loc, problem in _cross_problems(cfg)]
    if problems:
        raise ConfigError(path, problems)
    base = path.parent
    return cfg.model_copy(update={"state": resolve(base, cfg.state),
                                  "source": cfg.source.model_copy(update={"buffer": resolve(base, cfg.source.buffer)})})
