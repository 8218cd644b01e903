"""The cloud's MQTT connection (the ``mqtt:`` section of the cloud config): the broker ingest
subscribes to and commands and resend requests are published on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiomqtt
from pydantic import Field

from watertel.config import Strict
from watertel.tls import TlsConfig


class MqttConfig(Strict):
    """``mqtt:``: where the broker is, how to log in, and the topics' prefix."""

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
        password = self.password_file.read_text().strip() if self.password_file else None
        return aiomqtt.Client(self.host, self.port, identifier=identifier, username=self.username, password=password,
                              tls_context=self.tls.context() if self.tls else None, **options)
