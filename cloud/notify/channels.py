"""The delivery channels: a signed JSON webhook and e-mail over SMTP (group robots:
cloud/notify/robots.py; SMS: cloud/notify/sms.py), and the HTTP request they share.

Webhook request::

    POST <url>
    Content-Type: application/json
    X-Watertel-Delivery: <outbox id>            the same on every retry: receivers deduplicate
    X-Watertel-Signature: sha256=<hex HMAC-SHA256 of the body with the webhook's secret>

    {"event": "raised"|"escalated"|"work_order.overdue", "level": 0, "text": "…",
     "alarm": {…row of /api/alarms…}, "history": {…row of /api/alarms/{id}/history…}}

A failure raises ``DeliveryError`` naming the channel, address and reason; never a secret (URLs
of robots carry their credential, so robots are named by id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage

from watertel.cloud.notify.config import SmtpConfig, WebhookConfig

SIGNATURE_HEADER = "X-Watertel-Signature"
DELIVERY_HEADER = "X-Watertel-Delivery"


class DeliveryError(Exception):
    def __init__(self, channel: str, address: str, reason: str) -> None:
        self.channel, self.address, self.reason = channel, address, reason
        super().__init__(f"{channel} {address}: {reason}")


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def read_secret(channel: str, address: str, what: str, path) -> str:
    """A secret from its file, read when used (so rotating it needs no restart)."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as err:
        raise DeliveryError(channel, address, f"{what} {path}: {err.strerror}") from err


def http_request(channel: str, address: str, url: str, body: bytes | None, headers: dict[str, str],
                 timeout_s: float, method: str = "POST") -> tuple[int, bytes]:
    """(status, reply body) of a 2xx answer; anything else is a ``DeliveryError`` that names
    ``address``, never ``url``."""
    request = urllib.request.Request(url, data=body, method=method, headers={"User-Agent": "watertel", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        raise DeliveryError(channel, address, f"HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        raise DeliveryError(channel, address, str(getattr(err, "reason", err))) from err


def post_webhook(hook: WebhookConfig, payload: dict, delivery_id: int) -> None:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: str(delivery_id)}
    if hook.secret_file is not None:
        secret = read_secret("webhook", hook.id, "secret_file", hook.secret_file)
        headers[SIGNATURE_HEADER] = signature(secret.encode(), body)
    http_request("webhook", hook.id, hook.url, body, headers, hook.timeout_s)


def send_email(smtp: SmtpConfig, to: str, subject: str, text: str, delivery_id: int) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp.sender, to, subject
    message["X-Watertel-Delivery"] = str(delivery_id)
    message.set_content(text)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
            if smtp.username:
                password = smtp.password_file.read_text().strip() if smtp.password_file else ""
                client.login(smtp.username, password)
            client.send_message(message)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as err:
        raise DeliveryError("email", to, f"{type(err).__name__}: {err}") from err
