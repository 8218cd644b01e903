"""Cloud service configuration (YAML, validated on load; relative paths against its folder)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from watertel.config import Strict, load_model, resolve

NAME = r"^[A-Za-z0-9_.-]+$"


class GatewayEntry(Strict):
    """A registered gateway: its signing key and the stations it may report for."""

    id: str = Field(pattern=NAME)
    key_id: str = Field(pattern=NAME)
    public_key: Path  # SubjectPublicKeyInfo PEM from `watertel keys new`
    stations: list[str] = Field(min_length=1)


class MqttConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    topic_prefix: str = Field("watertel", pattern=r"^[A-Za-z0-9_/-]+$")
    client_id: str = "watertel-ingest"
    username: str | None = None
    password_file: Path | None = None
    shared_group: str | None = None  # `$share/<group>/…` so several workers split the load


class UserEntry(Strict):
    username: str = Field(pattern=NAME)
    password_hash: str  # from `watertel cloud hash-password`; never a clear-text password


class ApiConfig(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    users: list[UserEntry] = []
    session_hours: float = Field(12.0, gt=0)


class CloudConfig(Strict):
    data_dir: Path
    mqtt: MqttConfig = MqttConfig()
    api: ApiConfig = ApiConfig()
    gateways: list[GatewayEntry] = []


def load_cloud_config(path: Path | str) -> CloudConfig:
    path = Path(path)
    cfg, base = load_model(path, CloudConfig), path.parent
    return cfg.model_copy(update={
        "data_dir": resolve(base, cfg.data_dir),
        "gateways": [g.model_copy(update={"public_key": resolve(base, g.public_key)}) for g in cfg.gateways],
        "mqtt": cfg.mqtt.model_copy(update={"password_file": resolve(base, cfg.mqtt.password_file)}),
    })
