"""Cloud service configuration (YAML, validated on load; relative paths against its folder)."""

from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.alarms.lifecycle import LifecycleConfig
from watertel.cloud.notify.config import NotificationsConfig
from watertel.cloud.quality.config import RatesConfig, ReportsConfig
from watertel.cloud.store.config import InfluxConfig, PostgresStoreConfig, RetentionConfig, SqliteStoreConfig
from watertel.config import ConfigError, PayloadKeyConfig, Strict, load_model, resolve
from watertel.tls import TlsConfig

if TYPE_CHECKING:
    import aiomqtt

NAME = r"^[A-Za-z0-9_.-]+$"


class PreviousKey(Strict):
    """A key being rotated out: still accepted for envelopes created before ``valid_until``."""

    key_id: str = Field(pattern=NAME)
    public_key: Path
    valid_until: dt.datetime  # ISO 8601 with offset, e.g. 2026-12-01T00:00:00+08:00

    @field_validator("valid_until")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-12-01T00:00:00+08:00")
        return value


class PreviousPayloadKey(PayloadKeyConfig):
    """An SM4 payload key being rotated out: still decrypts envelopes created before ``valid_until``."""

    valid_until: dt.datetime  # ISO 8601 with offset

    _aware = field_validator("valid_until")(PreviousKey._aware.__func__)


class GatewayEntry(Strict):
    """A registered gateway: its signing key and the stations it may report for.

    Rotation: the new key becomes ``key_id``/``public_key`` and the old one moves to
    ``previous_keys`` with the end of the overlap. Revocation: its id goes to ``revoked_keys``
    and envelopes signed with it are refused as ``key_revoked`` whenever they were made.
    SM4 payload keys rotate the same way: ``payload_key`` is the current one, the old one moves to
    ``previous_payload_keys`` (refused as ``payload_key_expired`` after ``valid_until``), and a
    key id in ``retired_payload_keys`` is refused as ``payload_key_retired`` whenever used.
    """

    id: str = Field(pattern=NAME)
    key_id: str = Field(pattern=NAME)
    public_key: Path  # SubjectPublicKeyInfo PEM from `watertel keys new`
    stations: list[str] = Field(min_length=1)
    previous_keys: list[PreviousKey] = []
    revoked_keys: list[str] = []

    @model_validator(mode="after")
    def _consistent(self) -> GatewayEntry:
        ids = [self.key_id, *(k.key_id for k in self.previous_keys)]
        if len(set(ids)) != len(ids):
            raise ValueError("a key id may appear only once among key_id and previous_keys")
        if set(ids) & set(self.revoked_keys):
            raise ValueError(f"revoked keys cannot also be valid: {sorted(set(ids) & set(self.revoked_keys))}")
        return self
    payload_key: PayloadKeyConfig | None = None  # set: this gateway's payloads must be SM4-GCM encrypted
    previous_payload_keys: list[PreviousPayloadKey] = []
    retired_payload_keys: list[str] = []

    @model_validator(mode="after")
    def _payload_keys_consistent(self) -> GatewayEntry:
        if self.previous_payload_keys and not self.payload_key:
            raise ValueError("previous_payload_keys needs a current payload_key (the one the gateway encrypts with now)")
        ids = [k.key_id for k in ([self.payload_key] if self.payload_key else []) + self.previous_payload_keys]
        if len(set(ids)) != len(ids):
            raise ValueError("an SM4 key id may appear only once among payload_key and previous_payload_keys")
        if set(ids) & set(self.retired_payload_keys):
            raise ValueError(f"retired payload keys cannot also be valid: {sorted(set(ids) & set(self.retired_payload_keys))}")
        return self


class MqttConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = Field("watertel", pattern=r"^[A-Za-z0-9_/-]+$")
    client_id: str = "watertel-ingest"
    username: str | None = None
    password_file: Path | None = None
    tls: TlsConfig | None = None  # set in production: the broker's CA (and a client certificate)
    shared_group: str | None = None  # `$share/<group>/…` so several workers split the load

    def client(self, identifier: str, **options: Any) -> aiomqtt.Client:
        """A client of this broker with these credentials and TLS (the password read now)."""
        import aiomqtt

        password = self.password_file.read_text().strip() if self.password_file else None
        return aiomqtt.Client(self.host, self.port, identifier=identifier, username=self.username, password=password,
                              tls_context=self.tls.context() if self.tls else None, **options)


class Role(str, Enum):
    """What a user may do: admins everything; operators read and write; crews and viewers read
    (crews will get their own work-order writes); the checks are in cloud/api/deps.py."""

    ADMIN = "admin"
    OPERATOR = "operator"
    CREW = "crew"
    VIEWER = "viewer"


PASSWORD_HASH = (r"\$argon2(id|i|d)\$v=[0-9]+\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
                 r"|scrypt\$[0-9]+\$[0-9a-f]{32}\$[0-9a-f]{64,}")  # argon2 now; scrypt from before still verifies


class UserEntry(Strict):
    username: str = Field(pattern=NAME)
    password_hash: str  # from `watertel cloud hash-password`; never a clear-text password
    role: Role = Role.VIEWER  # least privilege when not given (users configured before roles existed)
    regions: list[str] = []  # region ids from the registry (province, city or county); empty: all regions

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, value: str) -> str:
        if not re.fullmatch(PASSWORD_HASH, value):
            raise ValueError("not a password hash (paste what `watertel cloud hash-password` prints)")
        return value


class ApiConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    users: list[UserEntry] = []
    session_hours: float = Field(12.0, gt=0)
    login_max_failures: int = Field(5, ge=1)  # per username and client address, within login_window_s
    login_window_s: float = Field(300.0, gt=0)
    secure_cookies: bool = False  # true when the console is served over HTTPS (e.g. behind a TLS proxy)
    users_file: Path | None = None  # set: the users live in this YAML (cloud/users_file.py), admins edit them in the API

    @model_validator(mode="after")
    def _unique(self) -> ApiConfig:
        if self.users and self.users_file is not None:
            raise ValueError("users and users_file: give one (move the users into users_file, then remove users)")
        names = [u.username for u in self.users]
        if len(set(names)) != len(names):
            raise ValueError(f"users: each username only once (twice: {sorted({n for n in names if names.count(n) > 1})})")
        return self


class ResendConfig(Strict):
    """``resend:`` when the cloud asks a gateway for envelopes missing from its chain (cloud/resend.py;
    needs ``command_key``, and the gateway's ``commands`` section)."""

    after_s: float = Field(20.0, gt=0)  # a hole this old (since the envelope after it arrived) is asked for
    repeat_s: float = Field(120.0, gt=0)  # and again this often while it stays open


class CloudConfig(Strict):
    data_dir: Path
    store: SqliteStoreConfig | PostgresStoreConfig = Field(SqliteStoreConfig(), discriminator="kind")
    chain_gap_after_s: float = Field(600.0, gt=0)  # a missing envelope raises chain_gap after this long
    command_key: Path | None = None  # the cloud's SM2 private key (PEM) that signs commands to gateways
    resend: ResendConfig = ResendConfig()  # ask gateways again for envelopes a broker lost (with command_key)
    retention: RetentionConfig = RetentionConfig()
    mqtt: MqttConfig = MqttConfig()
    api: ApiConfig = ApiConfig()
    gateways: list[GatewayEntry] = []
    gateways_file: Path | None = None  # set: the gateways live in this YAML (cloud/gateways_file.py), edited by the API
    registry_file: Path | None = None  # stations, regions, intervals, maintenance (cloud/registry.py)
    quality: RatesConfig = RatesConfig()  # data-quality rates: targets, rules, calendar
    reports: ReportsConfig = ReportsConfig()  # scheduled daily/monthly/quarterly rates reports
    alarms: AlarmsConfig = AlarmsConfig()  # data alarms: stopped, zeros, spikes, volume change; per-station overrides
    lifecycle: LifecycleConfig = LifecycleConfig()  # escalation, flapping, work-order due times
    notifications: NotificationsConfig = NotificationsConfig()  # webhook and e-mail routes (cloud/notify)
    notifications_file: Path | None = None  # set: the notifications: section lives in this YAML (cloud/notifications_file.py), edited by the API
    influx: InfluxConfig = InfluxConfig()  # optional mirror of stored readings to InfluxDB (off by default)

    @model_validator(mode="after")
    def _one_gateway_list(self) -> CloudConfig:
        if self.gateways and self.gateways_file is not None:
            raise ValueError("gateways and gateways_file: give one (move the gateways into gateways_file, then remove gateways)")
        if "notifications" in self.model_fields_set and self.notifications_file is not None:
            raise ValueError("notifications and notifications_file: give one (move the notifications: section into"
                             " notifications_file, then remove it here)")
        return self


def load_cloud_config(path: Path | str) -> CloudConfig:
    """Load, validate, resolve relative paths and check that every gateway's key file exists."""
    path = Path(path)
    cfg, base = load_model(path, CloudConfig), path.parent
    cfg = cfg.model_copy(update={
        "data_dir": resolve(base, cfg.data_dir),
        "command_key": resolve(base, cfg.command_key),
        "registry_file": resolve(base, cfg.registry_file),
        "gateways": [g.model_copy(update={
            "public_key": resolve(base, g.public_key),
            "previous_keys": [k.model_copy(update={"public_key": resolve(base, k.public_key)}) for k in g.previous_keys],
            "payload_key": g.payload_key and g.payload_key.resolved(base),
            "previous_payload_keys": [k.resolved(base) for k in g.previous_payload_keys],
        }) for g in cfg.gateways],
        "store": cfg.store.resolved(base) if isinstance(cfg.store, PostgresStoreConfig) else cfg.store,
        "notifications": cfg.notifications.resolved(base),
        "influx": cfg.influx.resolved(base),
        "mqtt": cfg.mqtt.model_copy(update={
            "password_file": resolve(base, cfg.mqtt.password_file), "tls": cfg.mqtt.tls and cfg.mqtt.tls.resolved(base),
        }),
    })
    problems = [f"{path}: gateways.{i}.{where}: {file} does not exist (copy it from `watertel keys new`)"
                for i, g in enumerate(cfg.gateways)
                for where, file in [("public_key", g.public_key),
                                    *((f"previous_keys.{j}.public_key", k.public_key) for j, k in enumerate(g.previous_keys))]
                if not file.exists()]
    problems += [problem for i, g in enumerate(cfg.gateways)
                 if g.payload_key and (problem := g.payload_key.problem(path, f"gateways.{i}.payload_key"))]
    problems += [problem for i, g in enumerate(cfg.gateways) for j, k in enumerate(g.previous_payload_keys)
                 if (problem := k.problem(path, f"gateways.{i}.previous_payload_keys.{j}"))]
    cfg, file_problems = _with_files(path, cfg)
    problems += file_problems + _user_region_problems(path, cfg) + _permit_retention_problems(path, cfg)
    if cfg.influx.enabled and not cfg.influx.token_file.is_file():
        problems.append(f"{path}: influx.token_file: {cfg.influx.token_file} does not exist (put the InfluxDB API token in it)")
    if cfg.notifications_file is None:  # the file's routes were checked against the registry as it was read
        problems += cfg.notifications.region_problems(path, cfg.registry_file)
    if problems:
        raise ConfigError(path, problems)
    return cfg


def _with_files(path: Path, cfg: CloudConfig) -> tuple[CloudConfig, list[str]]:
    """The gateways of ``gateways_file``, the users of ``api.users_file`` and the notifications of
    ``notifications_file`` read into the config, so every part uses them as if the config held
    them; problems name their own file."""
    from watertel.cloud.gateways_file import load_gateways_file
    from watertel.cloud.notifications_file import load_notifications_file
    from watertel.cloud.users_file import load_users_file

    update: dict[str, Any] = {}
    problems: list[str] = []
    if cfg.gateways_file is not None:
        update["gateways_file"] = gateways_file = resolve(path.parent, cfg.gateways_file)
        try:
            update["gateways"] = load_gateways_file(gateways_file)
        except ConfigError as err:
            problems += err.problems
    if cfg.api.users_file is not None:
        api: dict[str, Any] = {"users_file": resolve(path.parent, cfg.api.users_file)}
        try:
            api["users"] = load_users_file(api["users_file"])
        except ConfigError as err:
            problems += err.problems
        update["api"] = cfg.api.model_copy(update=api)
    if cfg.notifications_file is not None:
        update["notifications_file"] = notifications_file = resolve(path.parent, cfg.notifications_file)
        try:
            update["notifications"] = load_notifications_file(notifications_file, cfg.registry_file)
        except ConfigError as err:
            problems += err.problems
    return cfg.model_copy(update=update), problems


def _permit_retention_problems(path: Path, cfg: CloudConfig) -> list[str]:
    """Over-permit alarms read a permit year of raw counter readings: retention must keep them."""
    ret = cfg.retention
    if cfg.registry_file is None or not (ret.raw_days or ret.raw_days_by_point):
        return []
    from watertel.cloud.registry import load_registry

    points = sorted({m.point for permit in load_registry(cfg.registry_file).permits for m in permit.meters})
    kept = {point: ret.raw_days_by_point.get(point, ret.raw_days) for point in points}
    return [f"{path}: retention: raw {point} readings kept {days:g} days, less than the permit year the over-permit"
            f" alarms read (set raw_days_by_point.{point}: 731, so last year's profile serves the projection too)"
            for point, days in kept.items() if days is not None and days < 366]


def _user_region_problems(path: Path, cfg: CloudConfig) -> list[str]:
    """Users scoped to regions need the registry, and regions it has."""
    scoped = [(i, u) for i, u in enumerate(cfg.api.users) if u.regions]
    if not scoped:
        return []
    if cfg.registry_file is None:
        return [f"{path}: api.users.{i}.regions: needs registry_file (the regions are defined there)" for i, _ in scoped]
    from watertel.cloud.registry import load_registry

    known = set(load_registry(cfg.registry_file).regions())
    return [f"{path}: api.users.{i}.regions: {r!r} is not a region in {cfg.registry_file.name} (use a province, city or county id)"
            for i, u in scoped for r in u.regions if r not in known]
