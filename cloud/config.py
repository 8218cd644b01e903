"""Cloud service configuration (YAML, validated on load; relative paths against its folder)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from watertel.config import ConfigError, PayloadKeyConfig, Strict, load_model, resolve
from watertel.tls import TlsConfig

NAME = r"^[A-Za-z0-9_.-]+$"


class GatewayEntry(Strict):
    """A registered gateway: its signing key and the stations it may report for."""

    id: str = Field(pattern=NAME)
    key_id: str = Field(pattern=NAME)
    public_key: Path  # SubjectPublicKeyInfo PEM from `watertel keys new`
    stations: list[str] = Field(min_length=1)
    payload_key: PayloadKeyConfig | None = None  # set: this gateway's payloads must be SM4-GCM encrypted


class MqttConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = Field("watertel", pattern=r"^[A-Za-z0-9_/-]+$")
    client_id: str = "watertel-ingest"
    username: str | None = None
    password_file: Path | None = None
    tls: TlsConfig | None = None  # set in production: the broker's CA (and a client certificate)
    shared_group: str | None = None  # `$share/<group>/…` so several workers split the load


class UserEntry(Strict):
    username: str = Field(pattern=NAME)
    password_hash: str  # from `watertel cloud hash-password`; never a clear-text password

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, value: str) -> str:
        if not re.fullmatch(r"scrypt\$[0-9]+\$[0-9a-f]{32}\$[0-9a-f]{64,}", value):
            raise ValueError("not a password hash (paste what `watertel cloud hash-password` prints)")
        return value


class ApiConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    users: list[UserEntry] = []
    session_hours: float = Field(12.0, gt=0)


class SqliteStoreConfig(Strict):
    kind: Literal["sqlite"] = "sqlite"  # watertel.db in data_dir


class PostgresStoreConfig(Strict):
    kind: Literal["postgres"] = "postgres"
    dsn: str  # libpq connection string without the password, e.g. "host=db.local dbname=watertel user=watertel"
    password_file: Path | None = None  # the password never sits in the YAML

    def connection(self) -> str:
        if not self.password_file:
            return self.dsn
        password = self.password_file.read_text().strip().replace("\\", "\\\\").replace("'", "\\'")
        return f"{self.dsn} password='{password}'"


class CloudConfig(Strict):
    data_dir: Path
    store: SqliteStoreConfig | PostgresStoreConfig = Field(SqliteStoreConfig(), discriminator="kind")
    mqtt: MqttConfig = MqttConfig()
    api: ApiConfig = ApiConfig()
    gateways: list[GatewayEntry] = []


def load_cloud_config(path: Path | str) -> CloudConfig:
    """Load, validate, resolve relative paths and check that every gateway's key file exists."""
    path = Path(path)
    cfg, base = load_model(path, CloudConfig), path.parent
    cfg = cfg.model_copy(update={
        "data_dir": resolve(base, cfg.data_dir),
        "gateways": [g.model_copy(update={"public_key": resolve(base, g.public_key),
                                          "payload_key": g.payload_key and g.payload_key.resolved(base)})
                     for g in cfg.gateways],
        "mqtt": cfg.mqtt.model_copy(update={
            "password_file": resolve(base, cfg.mqtt.password_file), "tls": cfg.mqtt.tls and cfg.mqtt.tls.resolved(base),
        }),
    })
    problems = [f"{path}: gateways.{i}.public_key: {g.public_key} does not exist (copy it from `watertel keys new`)"
                for i, g in enumerate(cfg.gateways) if not g.public_key.exists()]
    problems += [problem for i, g in enumerate(cfg.gateways)
                 if g.payload_key and (problem := g.payload_key.problem(path, f"gateways.{i}.payload_key"))]
    if problems:
        raise ConfigError(path, problems)
    return cfg
