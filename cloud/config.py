"""Cloud service configuration (YAML, validated on load; relative paths against its folder).

Each section's model belongs to the package that uses it (``store:`` to cloud/store/config.py,
``alarms:`` to cloud/alarms/config.py, ``mqtt:`` to cloud/mqtt.py, …); this module assembles them
into ``CloudConfig``, reads the files some sections may live in (gateways, users, notifications)
and checks what spans sections. Only ``api:`` is defined here: the API sits above the config (it
is handed the assembled sections), so its settings cannot live in its own package.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.audit.config import AuditConfig
from watertel.cloud.alarms.lifecycle import LifecycleConfig
from watertel.cloud.console_map import GeoJsonError, MapConfig, load_regions, region_ids
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.gateways_file import load_gateways_file
from watertel.cloud.ingest.config import IngestConfig
from watertel.cloud.mqtt import MqttConfig
from watertel.cloud.notify.config import NotificationsConfig
from watertel.cloud.notify.notifications_file import load_notifications_file
from watertel.cloud.quality.config import RatesConfig, ReportsConfig
from watertel.cloud.registry import load_registry
from watertel.cloud.resend import ResendConfig
from watertel.cloud.store.config import InfluxConfig, PostgresStoreConfig, RetentionConfig, SqliteStoreConfig
from watertel.cloud.users import UserEntry
from watertel.cloud.users_file import load_users_file
from watertel.config import ConfigError, Strict, load_model, resolve


class ApiConfig(Strict):
    """``api:``: where the API and console listen, the users (or their file) and the login limits."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    users: list[UserEntry] = []
    session_hours: float = Field(12.0, gt=0)
    login_max_failures: int = Field(5, ge=1)  # per username and client address, within login_window_s
    login_window_s: float = Field(300.0, gt=0)
    login_max_failures_per_client: int = Field(20, ge=1)  # one address, any usernames (password spraying)
    login_max_failures_per_account: int = Field(20, ge=1)  # one username, all addresses: past it, one try per address
    login_max_failures_total: int = Field(200, ge=1)  # all logins: past it, only addresses that logged in before
    login_max_checks: int = Field(2, ge=1, le=64)  # password checks at once (argon2: 64 MiB and a core each); more: 429
    forwarded_allow_ips: list[str] = []  # reverse proxies whose X-Forwarded-For is believed; none: the peer's address
    max_body_kb: int = Field(64, ge=1, le=65536)  # request bodies (JSON); work-order photos: their own max_kb
    docs: bool = False  # /docs: Swagger UI from the vendored files (cloud/api/docs.py); /openapi.json always public
    secure_cookies: bool = False  # true when the console is served over HTTPS (e.g. behind a TLS proxy); adds HSTS
    users_file: Path | None = None  # set: the users live in this YAML (cloud/users_file.py), admins edit them in the API
    map: MapConfig = MapConfig()  # the console's station map: tiles, region boundaries (cloud/console_map.py)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"forwarded_allow_ips: {item!r} is not an IP address or network (give the reverse"
                                 " proxy's address, e.g. 127.0.0.1 or 10.0.0.0/24; never '*')") from None
        return value

    @model_validator(mode="after")
    def _unique(self) -> ApiConfig:
        if self.users and self.users_file is not None:
            raise ValueError("users and users_file: give one (move the users into users_file, then remove users)")
        names = [u.username for u in self.users]
        if len(set(names)) != len(names):
            raise ValueError(f"users: each username only once (twice: {sorted({n for n in names if names.count(n) > 1})})")
        return self


class CloudConfig(Strict):
    data_dir: Path
    store: SqliteStoreConfig | PostgresStoreConfig = Field(SqliteStoreConfig(), discriminator="kind")
    chain_gap_after_s: float = Field(600.0, gt=0)  # a missing envelope raises chain_gap after this long
    command_key: Path | None = None  # the cloud's SM2 private key (PEM) that signs commands to gateways
    resend: ResendConfig = ResendConfig()  # ask gateways again for envelopes a broker lost (with command_key)
    retention: RetentionConfig = RetentionConfig()
    mqtt: MqttConfig = MqttConfig()
    ingest: IngestConfig = IngestConfig()  # what refused messages may leave (quarantine, logs); sample-time window
    api: ApiConfig = ApiConfig()
    gateways: list[GatewayEntry] = []
    gateways_file: Path | None = None  # set: the gateways live in this YAML (cloud/gateways_file.py), edited by the API
    registry_file: Path | None = None  # stations, regions, intervals, maintenance (cloud/registry.py)
    quality: RatesConfig = RatesConfig()  # data-quality rates: targets, rules, calendar
    reports: ReportsConfig = ReportsConfig()  # scheduled daily/monthly/quarterly rates reports
    alarms: AlarmsConfig = AlarmsConfig()  # data alarms: stopped, zeros, spikes, volume change; per-station overrides
    lifecycle: LifecycleConfig = LifecycleConfig()  # escalation, flapping, work-order due times
    notifications: NotificationsConfig = NotificationsConfig()  # webhook and e-mail routes (cloud/notify)
    notifications_file: Path | None = None  # set: the notifications: section lives in this YAML (cloud/notify/notifications_file.py), edited by the API
    influx: InfluxConfig = InfluxConfig()  # optional mirror of stored readings to InfluxDB (off by default)
    audit: AuditConfig = AuditConfig()  # the audit log's key and signed checkpoints (cloud/audit/config.py)

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
        "gateways": [g.resolved(base) for g in cfg.gateways],
        "store": cfg.store.resolved(base) if isinstance(cfg.store, PostgresStoreConfig) else cfg.store,
        "notifications": cfg.notifications.resolved(base),
        "influx": cfg.influx.resolved(base),
        "audit": cfg.audit.resolved(base),
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
    if cfg.audit.signing_key is not None and not cfg.audit.signing_key.is_file():
        problems.append(f"{path}: audit.signing_key: {cfg.audit.signing_key} does not exist (an SM2 key from"
                        " `watertel keys new`, or leave it out to sign the audit checkpoints with command_key)")
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
    update: dict[str, Any] = {}
    problems: list[str] = []
    if cfg.gateways_file is not None:
        update["gateways_file"] = gateways_file = resolve(path.parent, cfg.gateways_file)
        try:
            update["gateways"] = load_gateways_file(gateways_file)
        except ConfigError as err:
            problems += err.problems
    api: dict[str, Any] = {}
    if cfg.api.users_file is not None:
        api["users_file"] = resolve(path.parent, cfg.api.users_file)
        try:
            api["users"] = load_users_file(api["users_file"])
        except ConfigError as err:
            problems += err.problems
    if cfg.api.map.regions_geojson is not None:
        api["map"] = cfg.api.map.model_copy(update={"regions_geojson": resolve(path.parent, cfg.api.map.regions_geojson)})
        problems += _map_problems(path, api["map"].regions_geojson, cfg.registry_file)
    if api:
        update["api"] = cfg.api.model_copy(update=api)
    if cfg.notifications_file is not None:
        update["notifications_file"] = notifications_file = resolve(path.parent, cfg.notifications_file)
        try:
            update["notifications"] = load_notifications_file(notifications_file, cfg.registry_file)
        except ConfigError as err:
            problems += err.problems
    return cfg.model_copy(update=update), problems


def _map_problems(path: Path, geojson: Path, registry_file: Path | None) -> list[str]:
    """The map's regions file draws (cloud/console_map.py), and the regions it names are the registry's."""
    where = f"{path}: api.map.regions_geojson: {geojson}"
    try:
        named = region_ids(load_regions(geojson))
    except GeoJsonError as err:
        return [f"{where}: {err}"]
    if not named:
        return []
    if registry_file is None:
        return [f"{where}: its features name regions (properties.region): needs registry_file (the regions are defined there)"]
    known = set(load_registry(registry_file).regions())
    return [f"{where}: features.{i}.properties.region: {region!r} is not a region in {registry_file.name}"
            " (use a province, city or county id, or leave it out)" for i, region in named if region not in known]


def _permit_retention_problems(path: Path, cfg: CloudConfig) -> list[str]:
    """Over-permit alarms read a permit year of raw counter readings: retention must keep them."""
    ret = cfg.retention
    if cfg.registry_file is None or not (ret.raw_days or ret.raw_days_by_point):
        return []
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
    known = set(load_registry(cfg.registry_file).regions())
    return [f"{path}: api.users.{i}.regions: {r!r} is not a region in {cfg.registry_file.name} (use a province, city or county id)"
            for i, u in scoped for r in u.regions if r not in known]
