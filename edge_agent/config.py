"""Edge agent configuration (`watertel edge check --config FILE` validates it without running).

Relative paths (buffer, key) are resolved against the configuration file's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from watertel import firmware_profiles
from watertel.config import ConfigError, PayloadKeyConfig, Strict, load_model, resolve
from watertel.ids import ID_PATTERN
from watertel.tls import TlsConfig

NAME = ID_PATTERN


class KeyConfig(Strict):
    private_key: Path  # PKCS#8 PEM from `watertel keys new`
    key_id: str = Field(pattern=NAME)
    payload_key: PayloadKeyConfig | None = None  # set: readings travel SM4-GCM encrypted


class UplinkConfig(Strict):
    brokers: list[str] = Field(min_length=1)  # mqtt://host:port or mqtts://host:port, tried in turn
    client_id: str | None = None  # default: the gateway id
    username: str | None = None
    password_file: Path | None = None  # the password never sits in the YAML
    tls: TlsConfig | None = None
    topic_prefix: str = Field("watertel", pattern=r"^[A-Za-z0-9_/-]+$")
    max_in_flight: int = Field(8, ge=1, le=100)
    # after an outage: the backlog drains (oldest first, behind the newest batch) at most this fast
    backlog_readings_per_s: float | None = Field(None, gt=0)
    # the retained status message (version, config hash, buffer, clock, conditions) is refreshed this often
    status_every_s: float = Field(60.0, gt=0)

    @field_validator("brokers")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
                raise ValueError(f"broker URL must look like mqtt://host:1883 or mqtts://host:8883 (got {url!r})")
        return urls

    @model_validator(mode="after")
    def _tls_for_mqtts(self) -> UplinkConfig:
        if any(url.startswith("mqtts:") for url in self.brokers) and self.tls is None:
            raise ValueError("mqtts:// brokers need a tls section (at least tls.ca_file, the broker's CA)")
        return self


class BufferConfig(Strict):
    path: Path
    max_mb: float = Field(512.0, ge=1)  # the buffer's database never grows past this
    # when unsent data alone reaches max_mb: drop the oldest unsent readings, or stop recording new ones
    when_full: Literal["drop_oldest", "drop_newest"] = "drop_oldest"
    # the buffer_full condition (sent to the cloud, raising an alarm) ends this long after the last drop
    full_clear_after_s: float = Field(300.0, gt=0)


class BatchConfig(Strict):
    max_readings: int = Field(500, ge=1, le=20_000)
    max_latency_s: float = Field(2.0, gt=0)


class TcpBus(Strict):
    kind: Literal["tcp"] = "tcp"
    host: str
    port: int = Field(502, ge=1, le=65535)


class RtuBus(Strict):
    kind: Literal["rtu"] = "rtu"
    port: str  # /dev/ttyUSB0, /dev/ttyAMA0, …
    baudrate: int = Field(9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1


class DeviceConfig(Strict):
    name: str = Field(pattern=NAME)
    profile: str  # shipped profile name or path to a YAML file
    unit_id: int = Field(ge=1, le=247)
    station: str = Field(pattern=NAME)
    poll_interval_s: float = Field(60.0, gt=0)


class BusConfig(Strict):
    name: str = Field(pattern=NAME)
    transport: TcpBus | RtuBus = Field(discriminator="kind")
    timeout_s: float = Field(1.0, gt=0, le=60)
    devices: list[DeviceConfig] = Field(min_length=1)


class ClockCommandsConfig(Strict):
    """check_clock and set_time: the gateway's offset against the command's signed timestamp.

    That timestamp is one-way (the delivery delay counts as offset), so offsets under
    ``tolerance_ms`` are left alone, and NTP, where the gateway has it, stays in charge.
    """

    adjust: bool = False  # set_time may slew or step the clock (the agent then needs CAP_SYS_TIME)
    tolerance_ms: int = Field(1000, ge=0)
    max_slew_ms: int = Field(5000, ge=0)  # up to this the clock is slewed (stays monotonic), beyond it stepped
    # a command's timestamp further than this from the gateway's clock is refused (replay window)
    max_offset_s: float = Field(7 * 86_400, gt=0)


class CommandsConfig(Strict):
    """Signed commands from the cloud: which ones this gateway obeys, and which points it may write."""

    cloud_public_key: Path  # the cloud's SM2 public key (PEM): commands must be signed with its pair
    # resend (publish sent batches again, the cloud asks when a broker lost some) only repeats bytes already signed
    allow: list[Literal["read_now", "set_poll_interval", "write_point", "set_config", "check_clock", "set_time",
                        "resend"]] = ["read_now", "resend"]
    writable: list[str] = []  # "device.point" pairs a write_point may touch (the profile's limits apply too)
    # set_config: the new file must connect to a broker and get a batch acknowledged within this, or it is
    # rolled back to the previous file by the agent itself
    config_probation_s: float = Field(120.0, ge=1, le=3600)
    clock: ClockCommandsConfig = ClockCommandsConfig()


class EdgeConfig(Strict):
    gateway_id: str = Field(pattern=NAME)
    key: KeyConfig
    uplink: UplinkConfig
    buffer: BufferConfig
    batching: BatchConfig = BatchConfig()
    buses: list[BusConfig] = Field(min_length=1)
    status_file: Path | None = None  # health for `watertel edge status`; default: beside the buffer
    # readings taken while the kernel says the clock is not synchronised are CLOCK_UNSYNCED
    flag_unsynced_clock: bool = True
    commands: CommandsConfig | None = None  # none: the gateway takes no commands at all

    @property
    def status_path(self) -> Path:
        return self.status_file or self.buffer.path.with_suffix(".status.json")

    @model_validator(mode="after")
    def _unique_devices(self) -> EdgeConfig:
        names = [dev.name for bus in self.buses for dev in bus.devices]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"device names must be unique on a gateway (repeated: {', '.join(repeated)})")
        return self

    @model_validator(mode="after")
    def _one_bus_per_endpoint(self) -> EdgeConfig:
        """Many Modbus TCP gateways and PLCs accept one connection only, and an RS-485 line allows
        one request at a time: each endpoint must be one bus (one connection, requests in turn)."""
        seen: dict[str, str] = {}
        for bus in self.buses:
            t = bus.transport
            endpoint = f"{t.host}:{t.port}" if t.kind == "tcp" else t.port
            if endpoint in seen:
                raise ValueError(f"buses {seen[endpoint]!r} and {bus.name!r} both use {endpoint}: "
                                 "put their devices on one bus (one connection, requests in turn)")
            seen[endpoint] = bus.name
        return self


def profile_ref(base: Path, profile: str) -> str | Path:
    """A shipped profile name as is; a YAML path resolved against the config's folder."""
    return resolve(base, Path(profile)) if profile.endswith((".yaml", ".yml")) else profile


def identity_paths(key: KeyConfig, buffer: BufferConfig, uplink: UplinkConfig, base: Path) -> dict[str, Strict]:
    """A gateway identity's key, buffer and uplink (an edge agent's, or an RTU gateway's) with
    their relative paths resolved against ``base``, the config file's folder."""
    return {
        "key": key.model_copy(update={"private_key": resolve(base, key.private_key),
                                      "payload_key": key.payload_key and key.payload_key.resolved(base)}),
        "buffer": buffer.model_copy(update={"path": resolve(base, buffer.path)}),
        "uplink": uplink.model_copy(update={"tls": uplink.tls and uplink.tls.resolved(base),
                                            "password_file": resolve(base, uplink.password_file)}),
    }


def key_problems(path: Path, key: KeyConfig) -> list[str]:
    """The signing key file is missing, or the SM4 payload key cannot be used."""
    problems = []
    if not key.private_key.exists():
        problems.append(f"{path}: key.private_key: {key.private_key} does not exist (run `watertel keys new`)")
    if key.payload_key and (problem := key.payload_key.problem(path, "key.payload_key")):
        problems.append(problem)
    return problems


def load_edge_config(path: Path | str) -> EdgeConfig:
    """Load, validate, resolve relative paths and check that every profile loads."""
    path = Path(path)
    cfg = load_model(path, EdgeConfig)
    base = path.parent
    cfg = cfg.model_copy(update={
        **identity_paths(cfg.key, cfg.buffer, cfg.uplink, base),
        "status_file": resolve(base, cfg.status_file),
        "commands": cfg.commands and cfg.commands.model_copy(
            update={"cloud_public_key": resolve(base, cfg.commands.cloud_public_key)}),
        "buses": [
            bus.model_copy(update={"devices": [
                dev.model_copy(update={"profile": str(profile_ref(base, dev.profile))}) for dev in bus.devices
            ]})
            for bus in cfg.buses
        ],
    })
    problems = []
    for b, bus in enumerate(cfg.buses):
        for d, dev in enumerate(bus.devices):
            try:
                firmware_profiles.load(dev.profile)
            except ConfigError as err:
                problems.append(f"{path}: buses.{b}.devices.{d}.profile: cannot load {dev.profile!r} ({err.problems[0]})")
    if cfg.commands and not cfg.commands.cloud_public_key.exists():
        problems.append(f"{path}: commands.cloud_public_key: {cfg.commands.cloud_public_key} does not exist"
                        " (copy the cloud's public key here)")
    problems += key_problems(path, cfg.key)
    if problems:
        raise ConfigError(path, problems)
    return cfg
