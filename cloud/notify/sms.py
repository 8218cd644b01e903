"""SMS through an HTTP gateway, described in config rather than code (every provider differs)::

    <method> <url with {phone} and {text} URL-encoded>
    Content-Type: application/json
    <auth_header>: <content of auth_file>
    X-Watertel-Delivery: <outbox id>

    <body template, {phone} and {text} filled into each string>

Sent when the status is 2xx and, with ``ok_field``, the reply's field equals ``ok_value``.
The phone number is masked in errors and logs (138****0000).
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from watertel.cloud.notify.channels import DELIVERY_HEADER, DeliveryError, http_request, read_secret
from watertel.cloud.notify.config import SmsConfig
from watertel.cloud.notify.message import cut


def masked(phone: str) -> str:
    return phone[:-8] + "****" + phone[-4:] if len(phone) >= 11 else phone[:2] + "***" + phone[-2:]


def fill(template: Any, values: dict[str, str]) -> Any:
    """The template with each ``{name}`` in its strings replaced (not str.format: other braces stay)."""
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def field(reply: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(reply, dict) and part in reply:
            reply = reply[part]
        elif isinstance(reply, list) and part.isdigit() and int(part) < len(reply):
            reply = reply[int(part)]
        else:
            raise KeyError(dotted)
    return reply


def send_sms(sms: SmsConfig, phone: str, text: str, delivery_id: int) -> None:
    """Send ``text`` (cut to ``max_chars``) to ``phone``; ``DeliveryError`` unless the gateway took it."""
    who, text = masked(phone), cut(text, sms.max_chars)
    values = {"phone": phone, "text": text}
    url = fill(sms.url, {k: urllib.parse.quote(v, safe="") for k, v in values.items()})
    headers = {DELIVERY_HEADER: str(delivery_id)}
    body = None
    if sms.body is not None:
        body = json.dumps(fill(sms.body, values), ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json; charset=utf-8"
    if sms.auth_file is not None:
        headers[sms.auth_header] = read_secret("sms", who, "auth_file", sms.auth_file)
    _, reply = http_request("sms", who, url, body, headers, sms.timeout_s, sms.method)
    if sms.ok_field is None:
        return
    try:
        got = field(json.loads(reply), sms.ok_field)
    except (ValueError, KeyError):
        raise DeliveryError("sms", who, f"the reply has no {sms.ok_field}: {reply[:80]!r}") from None
    if got != sms.ok_value and str(got) != str(sms.ok_value):
        raise DeliveryError("sms", who, f"gateway refused: {sms.ok_field} = {got!r} (sent when {sms.ok_value!r})")
