"""The store's own settings, sections of the cloud config: ``store:`` (which database),
``retention:`` (how long readings and hour rollups are kept) and ``influx:`` (the optional mirror).

They live here, not in cloud/config.py, so opening a store needs nothing of the cloud's other
sections: ``open_store(cfg.store, cfg.data_dir)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from watertel.config import Strict, resolve

NAME = r"^[A-Za-z0-9_.-]+$"
SQLITE_FILE = "watertel.db"  # the SQLite store's file in the data directory


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

    def resolved(self, base: Path) -> PostgresStoreConfig:
        return self.model_copy(update={"password_file": resolve(base, self.password_file)})


StoreConfig = Annotated[SqliteStoreConfig | PostgresStoreConfig, Field(discriminator="kind")]


def sqlite_path(data_dir: Path) -> Path:
    """Where the SQLite store of this data directory lives."""
    return Path(data_dir) / SQLITE_FILE


class RetentionConfig(Strict):
    """How long raw readings and hour rollups are kept (none: for ever); applied in the background
    in small batches, cutoffs on whole hours (cloud/service.py).

    ``raw_days_by_point``: raw readings of these point names kept this long instead of
    ``raw_days`` (e.g. ``{turbidity: 90, total: 3650}``). ``hourly_days``: the hour rollups
    (``point_hours``, cloud/quality/hourly.py) that series and day figures use once raw data is gone.
    """

    raw_days: float | None = Field(None, gt=0)
    raw_days_by_point: dict[str, float] = {}
    hourly_days: float | None = Field(3650.0, gt=0)
    every_s: float = Field(3600.0, gt=0)

    @field_validator("raw_days_by_point")
    @classmethod
    def _points(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [f"{k}: {v}" for k, v in value.items() if not re.fullmatch(r"[a-z][a-z0-9_]*", k) or not v > 0]
        if bad:
            raise ValueError(f"each key a point name (a-z, 0-9, _) and each value > 0 days (got {', '.join(bad)})")
        return value

    @model_validator(mode="after")
    def _hours_outlive_raw(self) -> RetentionConfig:
        raw = {"raw_days": self.raw_days, **{f"raw_days_by_point.{p}": d for p, d in self.raw_days_by_point.items()}}
        longer = [f"{key} ({days:g})" for key, days in raw.items() if days and self.hourly_days and days > self.hourly_days]
        if longer:
            raise ValueError(f"hourly_days ({self.hourly_days:g}) is shorter than {', '.join(longer)}: hour rollups"
                             " must outlive the raw readings they come from (raise hourly_days)")
        return self


class InfluxConfig(Strict):
    """Optional mirror of stored readings to InfluxDB 2/3 (cloud/store/influx_mirror.py); the SQL
    store stays the record. The token is read from ``token_file`` when the mirror starts, never
    from the YAML and never logged."""

    enabled: bool = False
    url: str = Field("http://127.0.0.1:8086", pattern=r"^https?://")
    org: str = ""
    bucket: str = "watertel"
    token_file: Path | None = None
    measurement: str = Field("reading", pattern=NAME)
    batch_size: int = Field(1000, ge=1, le=100_000)  # readings per POST /api/v2/write
    flush_interval_ms: int = Field(1000, ge=10)  # a partial batch is sent after this long
    max_retries: int = Field(5, ge=0)  # 5xx, 429, timeouts and lost connections; then the batch counts as failed
    retry_interval_ms: int = Field(1000, gt=0)  # first back-off, doubled each retry up to max_retry_delay_ms
    max_retry_delay_ms: int = Field(30_000, gt=0)
    timeout_ms: int = Field(10_000, gt=0)  # per HTTP request
    queue_size: int = Field(100_000, ge=1)  # readings waiting; beyond it new ones are dropped (counted)

    @model_validator(mode="after")
    def _complete(self) -> InfluxConfig:
        if self.enabled and not (self.org and self.bucket and self.token_file):
            raise ValueError("enabled: needs org, bucket and token_file (a file holding the API token)")
        return self

    def resolved(self, base: Path) -> InfluxConfig:
        return self.model_copy(update={"token_file": resolve(base, self.token_file)})
