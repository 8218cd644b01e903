"""The ``notifications:`` section of the cloud config: channels, contacts and routes::

    notifications:
      every_s: 10                      # how often new events are routed and due deliveries tried
      retry: {first_s: 30, max_s: 3600, factor: 2}
      webhooks:
        - {id: dispatch, url: "https://ops.example/hooks/watertel", secret_file: secrets/hook}
      smtp: {host: mail.example, port: 587, starttls: true, username: watertel,
             password_file: secrets/smtp, sender: watertel@example}
      contacts:
        - {id: duty-hz, email: duty-hz@example, webhook: dispatch}
        - {id: manager, email: manager@example}
      routes:                          # each event goes to every route it matches
        - {regions: [zj-hz], severities: [red, orange, yellow], level: 0, contacts: [duty-hz]}
        - {severities: [red], level: 1, contacts: [manager]}   # escalation: nobody acknowledged

A route matches an alarm of one of its ``severities`` (none: any) at a station in one of its
``regions`` (province, city or county; none: anywhere) when the event's contact level is the
route's ``level``: 0 for a new alarm, 1, 2, … as it escalates (cloud/alarms/lifecycle.py); an
overdue work order goes to level 1. Secrets are read from their files when used, never kept.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from cloud.alarms.lifecycle import Severity
from watertel.config import Strict, resolve

NAME = r"^[A-Za-z0-9_.-]+$"


class WebhookConfig(Strict):
    """A JSON POST; with ``secret_file``, the body's HMAC-SHA256 goes in X-Watertel-Signature."""

    id: str = Field(pattern=NAME)
    url: str = Field(pattern=r"^https?://")
    secret_file: Path | None = None
    timeout_s: float = Field(10.0, gt=0)


class SmtpConfig(Strict):
    host: str
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False  # upgrade the connection before logging in (port 587)
    ca_file: Path | None = None  # the server certificate's CA, when not a public one
    username: str | None = None
    password_file: Path | None = None
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    timeout_s: float = Field(10.0, gt=0)


class Contact(Strict):
    id: str = Field(pattern=NAME)
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")
    webhook: str | None = None  # a webhook id

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not self.email and not self.webhook:
            raise ValueError(f"contact {self.id!r}: give an email, a webhook or both")
        return self


class Route(Strict):
    regions: list[str] = []
    severities: list[Severity] = []
    level: int = Field(0, ge=0)
    contacts: list[str] = Field(min_length=1)


class RetryConfig(Strict):
    """Back-off between attempts of one delivery: first_s × factor^(attempts−1), at most max_s;
    a delivery is retried until it succeeds (it is never dropped)."""

    first_s: float = Field(30.0, gt=0)
    max_s: float = Field(3600.0, gt=0)
    factor: float = Field(2.0, ge=1)

    def delay_ms(self, attempts: int) -> int:
        return int(min(self.max_s, self.first_s * self.factor ** max(0, attempts - 1)) * 1000)


class NotificationsConfig(Strict):
    every_s: float = Field(10.0, gt=0)
    retry: RetryConfig = RetryConfig()
    webhooks: list[WebhookConfig] = []
    smtp: SmtpConfig | None = None
    contacts: list[Contact] = []
    routes: list[Route] = []

    @model_validator(mode="after")
    def _references(self) -> NotificationsConfig:
        hooks, contacts = {w.id for w in self.webhooks}, {c.id for c in self.contacts}
        problems = [f"contacts: {c.id!r}: webhook {c.webhook!r} is not in webhooks (have {sorted(hooks)})"
                    for c in self.contacts if c.webhook and c.webhook not in hooks]
        problems += [f"contacts: {c.id!r}: an email address needs the smtp section" for c in self.contacts
                     if c.email and self.smtp is None]
        problems += [f"routes.{i}: contact {name!r} is not in contacts" for i, r in enumerate(self.routes)
                     for name in r.contacts if name not in contacts]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def resolved(self, base: Path) -> NotificationsConfig:
        """Secret files relative to the config file's folder."""
        return self.model_copy(update={
            "webhooks": [w.model_copy(update={"secret_file": resolve(base, w.secret_file)}) for w in self.webhooks],
            "smtp": self.smtp and self.smtp.model_copy(update={"password_file": resolve(base, self.smtp.password_file),
                                                           "ca_file": resolve(base, self.smtp.ca_file)}),
        })

    def region_problems(self, config_path: Path, registry_file: Path | None) -> list[str]:
        """Routes naming regions need the registry, and regions it has."""
        named = [(i, r) for i, route in enumerate(self.routes) for r in route.regions]
        if not named:
            return []
        if registry_file is None:
            return [f"{config_path}: notifications.routes.{i}.regions: needs registry_file" for i, _ in named[:1]]
        from cloud.registry import load_registry

        known = set(load_registry(registry_file).regions())
        return [f"{config_path}: notifications.routes.{i}.regions: {r!r} is not a region in {registry_file.name}"
                for i, r in named if r not in known]
