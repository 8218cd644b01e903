"""The ``notifications:`` section of the cloud config: channels, contacts and routes::

    notifications:
      every_s: 10                      # how often new events are routed and due deliveries tried
      retry: {first_s: 30, max_s: 3600, factor: 2}
      console_url: https://watertel.example   # robots and SMS link to <console_url>/alarms?alarm=<id>
      language: zh                     # robot and SMS text: zh (default) or en
      webhooks:
        - {id: dispatch, url: "https://ops.example/hooks/watertel", secret_file: secrets/hook}
      robots:                          # group robots; the credential from token_file, never in the YAML
        - {id: hz-wecom, kind: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
           token_file: secrets/wecom-hz}
        - {id: hz-ding, kind: dingtalk, url: "https://oapi.dingtalk.com/robot/send",
           token_file: secrets/ding-hz, secret_file: secrets/ding-hz.sign}
        - {id: hz-feishu, kind: feishu, url: "https://open.feishu.cn/open-apis/bot/v2/hook",
           token_file: secrets/feishu-hz, secret_file: secrets/feishu-hz.sign}
      smtp: {host: mail.example, port: 587, starttls: true, username: watertel,
             password_file: secrets/smtp, sender: watertel@example}
      sms: {url: "https://sms.example/send", auth_file: secrets/sms,
            body: {to: "{phone}", content: "{text}"}, ok_field: code, ok_value: 0}
      contacts:
        - {id: duty-hz, email: duty-hz@example, webhook: dispatch, robot: hz-wecom}
        - {id: manager, email: manager@example, phone: "+8613800000000", role: admin,
           quiet_hours: "22:00-07:00"}
        - {id: crew-1, phone: "13900000000", role: crew}
      routes:                          # each event goes to every route it matches
        - {regions: [zj-hz], severities: [red, orange, yellow], level: 0, contacts: [duty-hz]}
        - {severities: [red, orange], level: 0, roles: [crew], quiet_hours: "22:00-07:00"}
        - {severities: [red], level: 1, contacts: [manager]}   # escalation: nobody acknowledged

A route matches an alarm of one of its ``severities`` (none: any) at a station in one of its
``regions`` (province, city or county; none: anywhere) when the event's contact level is the
route's ``level``: 0 for a new alarm, 1, 2, … as it escalates (cloud/alarms/lifecycle.py); an
overdue work order goes to level 1. It reaches its ``contacts`` and every contact whose ``role``
is in its ``roles``. During a route's or a contact's ``quiet_hours`` (local time in the report
time zone; may cross midnight) a notification that is not red waits in the outbox until they end.
Secrets are read from their files when used, never kept, never logged.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from watertel.cloud.alarms.lifecycle import Severity
from watertel.cloud.registry import load_registry
from watertel.config import Strict, resolve

NAME = r"^[A-Za-z0-9_.-]+$"
# The API's roles (cloud/users.py Role) as the plain strings routes and contacts are written with;
# tests/unit/cloud/notify/test_notify_channels.py checks that the two agree.
RoleName = Literal["admin", "operator", "crew", "viewer"]


@dataclass(frozen=True)
class QuietHours:
    """A daily window of local time, ``22:00-07:00``; ``end`` before ``start`` crosses midnight."""

    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, value: Any) -> Any:
        """``"HH:MM-HH:MM"`` → QuietHours; anything else is left for pydantic to refuse."""
        if not isinstance(value, str):
            return value
        try:
            start, end = (dt.time.fromisoformat(part.strip()) for part in value.replace("–", "-").split("-"))
        except ValueError:
            raise ValueError("quiet hours are written HH:MM-HH:MM (e.g. \"22:00-07:00\", local time)") from None
        if start == end:
            raise ValueError("quiet hours start and end at the same time (give a window, e.g. \"22:00-07:00\")")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: dt.datetime) -> bool:
        t = local.time()
        return self.start <= t < self.end if self.start < self.end else t >= self.start or t < self.end

    def end_after(self, local: dt.datetime) -> dt.datetime:
        """The first end of the window after ``local`` (the same day's or the next)."""
        end = dt.datetime.combine(local.date(), self.end, local.tzinfo)
        return end if end > local else dt.datetime.combine(local.date() + dt.timedelta(days=1), self.end, local.tzinfo)


Quiet = Annotated[QuietHours, BeforeValidator(QuietHours.parse)]


class WebhookConfig(Strict):
    """A JSON POST; with ``secret_file``, the body's HMAC-SHA256 goes in X-Watertel-Signature."""

    id: str = Field(pattern=NAME)
    url: str = Field(pattern=r"^https?://")
    secret_file: Path | None = None
    timeout_s: float = Field(10.0, gt=0)


class RobotKind(str, Enum):
    WECOM = "wecom"  # 企业微信群机器人: key in the URL, no signature
    DINGTALK = "dingtalk"  # 钉钉自定义机器人: access_token in the URL; optional timestamp + sign
    FEISHU = "feishu"  # 飞书自定义机器人: token in the path; optional timestamp + sign in the body


# Where each robot's credential goes in its URL, and what it looks like when written in the URL.
TOKEN_IN_URL = {RobotKind.WECOM: "key=", RobotKind.DINGTALK: "access_token=", RobotKind.FEISHU: "/hook/"}


class RobotConfig(Strict):
    """A group robot. ``token_file`` holds the credential of its URL (WeCom ``key``, DingTalk
    ``access_token``, Feishu hook token), so the YAML can be shown; ``secret_file`` the signing
    secret of DingTalk's or Feishu's 加签 / 签名校验 setting."""

    id: str = Field(pattern=NAME)
    kind: RobotKind
    url: str = Field(pattern=r"^https?://")
    token_file: Path | None = None
    secret_file: Path | None = None
    msg_type: Literal["interactive", "text"] | None = None  # Feishu only: card (default) or plain text
    timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> RobotConfig:
        if self.kind is RobotKind.WECOM and self.secret_file is not None:
            raise ValueError(f"robot {self.id!r}: WeCom robots are not signed (remove secret_file; the key is the credential)")
        if self.msg_type is not None and self.kind is not RobotKind.FEISHU:
            raise ValueError(f"robot {self.id!r}: msg_type is a Feishu setting (remove it for {self.kind.value})")
        if self.token_file is None and TOKEN_IN_URL[self.kind] not in self.url:
            raise ValueError(f"robot {self.id!r}: the url has no {TOKEN_IN_URL[self.kind]}… credential"
                             " (give token_file, or copy the whole webhook address)")
        return self


class SmtpConfig(Strict):
    host: str
    port: int = Field(25, ge=1, le=65535)
    starttls: bool = False  # upgrade the connection before logging in (port 587)
    ca_file: Path | None = None  # the server certificate's CA, when not a public one
    username: str | None = None
    password_file: Path | None = None
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    timeout_s: float = Field(10.0, gt=0)


class SmsConfig(Strict):
    """An HTTP SMS gateway. ``{phone}`` and ``{text}`` are filled into ``url`` (URL-encoded) and
    into every string of the JSON ``body`` template; the header ``auth_header`` gets the content of
    ``auth_file``. Sent when the reply is 2xx and, with ``ok_field`` (dotted path in the JSON
    reply), that field equals ``ok_value``. The text is cut to ``max_chars`` (70: one Chinese SMS)."""

    url: str = Field(pattern=r"^https?://")
    method: Literal["POST", "PUT", "GET"] = "POST"
    body: dict[str, Any] | None = None
    auth_header: str = Field("Authorization", pattern=r"^[A-Za-z0-9-]+$")
    auth_file: Path | None = None
    ok_field: str | None = None
    ok_value: str | int | bool = 0
    max_chars: int = Field(70, ge=10, le=1000)
    timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _template(self) -> SmsConfig:
        if self.method == "GET" and self.body is not None:
            raise ValueError("a GET request has no body (put {phone} and {text} in the url, or use POST)")
        template = self.url + json.dumps(self.body or {}, ensure_ascii=False)
        missing = [p for p in ("{phone}", "{text}") if p not in template]
        if missing:
            raise ValueError(f"{' and '.join(missing)} in neither url nor body"
                             " (put them where the gateway expects the number and the message)")
        return self


class Contact(Strict):
    id: str = Field(pattern=NAME)
    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")
    webhook: str | None = None  # a webhook id
    robot: str | None = None  # a robot id: the contact is a group chat, or reads one
    phone: str | None = Field(None, pattern=r"^\+?[0-9]{5,20}$")  # by SMS
    role: RoleName | None = None  # routes with ``roles:`` reach the contacts of those roles
    quiet_hours: Quiet | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not (self.email or self.webhook or self.robot or self.phone):
            raise ValueError(f"contact {self.id!r}: give an email, a webhook, a robot or a phone")
        return self


class Route(Strict):
    regions: list[str] = []
    severities: list[Severity] = []
    level: int = Field(0, ge=0)
    contacts: list[str] = []
    roles: list[RoleName] = []
    quiet_hours: Quiet | None = None

    @model_validator(mode="after")
    def _someone(self) -> Route:
        if not self.contacts and not self.roles:
            raise ValueError("a route needs contacts, roles or both (who is told)")
        return self


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
    console_url: str | None = Field(None, pattern=r"^https?://")
    language: Literal["zh", "en"] = "zh"
    webhooks: list[WebhookConfig] = []
    robots: list[RobotConfig] = []
    smtp: SmtpConfig | None = None
    sms: SmsConfig | None = None
    contacts: list[Contact] = []
    routes: list[Route] = []

    @model_validator(mode="after")
    def _references(self) -> NotificationsConfig:
        problems = _duplicates("webhooks", self.webhooks) + _duplicates("robots", self.robots) \
            + _duplicates("contacts", self.contacts)
        hooks, robots, contacts = {w.id for w in self.webhooks}, {r.id for r in self.robots}, {c.id for c in self.contacts}
        problems += [f"contacts: {c.id!r}: webhook {c.webhook!r} is not in webhooks (have {sorted(hooks)})"
                     for c in self.contacts if c.webhook and c.webhook not in hooks]
        problems += [f"contacts: {c.id!r}: robot {c.robot!r} is not in robots (have {sorted(robots)})"
                     for c in self.contacts if c.robot and c.robot not in robots]
        problems += [f"contacts: {c.id!r}: an email address needs the smtp section" for c in self.contacts
                     if c.email and self.smtp is None]
        problems += [f"contacts: {c.id!r}: a phone number needs the sms section (the gateway)" for c in self.contacts
                     if c.phone and self.sms is None]
        problems += [f"routes.{i}: contact {name!r} is not in contacts" for i, r in enumerate(self.routes)
                     for name in r.contacts if name not in contacts]
        roles = {c.role for c in self.contacts}
        problems += [f"routes.{i}: role {role!r}: no contact has it (give a contact role: {role})"
                     for i, r in enumerate(self.routes) for role in r.roles if role not in roles]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def reached_by(self, route: Route) -> list[Contact]:
        """The contacts a route names, then those of its roles, each once."""
        named = [c for name in route.contacts for c in self.contacts if c.id == name]
        return named + [c for c in self.contacts if c.role in route.roles and c not in named]

    def resolved(self, base: Path) -> NotificationsConfig:
        """Secret files relative to the config file's folder."""
        return self.model_copy(update={
            "webhooks": [w.model_copy(update={"secret_file": resolve(base, w.secret_file)}) for w in self.webhooks],
            "robots": [r.model_copy(update={"token_file": resolve(base, r.token_file),
                                            "secret_file": resolve(base, r.secret_file)}) for r in self.robots],
            "smtp": self.smtp and self.smtp.model_copy(update={"password_file": resolve(base, self.smtp.password_file),
                                                           "ca_file": resolve(base, self.smtp.ca_file)}),
            "sms": self.sms and self.sms.model_copy(update={"auth_file": resolve(base, self.sms.auth_file)}),
        })

    def region_problems(self, config_path: Path, registry_file: Path | None) -> list[str]:
        """Routes naming regions need the registry, and regions it has."""
        named = [(i, r) for i, route in enumerate(self.routes) for r in route.regions]
        if not named:
            return []
        if registry_file is None:
            return [f"{config_path}: notifications.routes.{i}.regions: needs registry_file" for i, _ in named[:1]]
        known = set(load_registry(registry_file).regions())
        return [f"{config_path}: notifications.routes.{i}.regions: {r!r} is not a region in {registry_file.name}"
                for i, r in named if r not in known]


def _duplicates(section: str, items: list) -> list[str]:
    seen: set[str] = set()
    twice = sorted({i.id for i in items if i.id in seen or seen.add(i.id)})
    return [f"{section}: id {name!r} appears twice (ids name one entry each)" for name in twice]
