"""Group robots of the chat platforms duty staff use, each in its own message format and signing.

WeCom (企业微信群机器人) — the key in the URL is the only credential::

    POST <url>?key=<token>          {"msgtype": "markdown", "markdown": {"content": "…"}}
    reply                           {"errcode": 0, "errmsg": "ok"}

DingTalk (钉钉自定义机器人), with 加签 when ``secret_file`` is set::

    POST <url>?access_token=<token>&timestamp=<ms>&sign=<urlencoded base64 HMAC-SHA256>
         key = secret, message = "<ms>\\n<secret>"
                                    {"msgtype": "markdown", "markdown": {"title": "…", "text": "…"}}
    reply                           {"errcode": 0, "errmsg": "ok"}

Feishu (飞书自定义机器人), with 签名校验 when ``secret_file`` is set::

    POST <url>/<token>              {"timestamp": "<s>", "sign": "<base64 HMAC-SHA256>",
         key = "<s>\\n<secret>", message empty    "msg_type": "interactive", "card": {…}}
    reply                           {"code": 0, "msg": "success", "data": {}}

All three answer HTTP 200 to a refused message: the code in the reply decides, and a non-zero one
is a failure, retried like any other. The signing timestamp is the real clock's (the platforms
refuse one more than an hour off), not the notifier's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Callable

from watertel.cloud.notify.channels import DELIVERY_HEADER, DeliveryError, http_request, read_secret
from watertel.cloud.notify.config import RobotConfig, RobotKind
from watertel.cloud.notify.message import Message

WECOM_COLOUR = {"red": "warning", "orange": "warning", "yellow": "comment", "blue": "info"}  # its only three
DINGTALK_COLOUR = {"red": "#FF0000", "orange": "#FF8C00", "yellow": "#D4A017", "blue": "#1E90FF"}
FEISHU_TEMPLATE = {"red": "red", "orange": "orange", "yellow": "yellow", "blue": "blue"}  # card header colours


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's sign parameter before URL-encoding: base64(HMAC-SHA256(secret, "ts\\nsecret"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's sign: base64(HMAC-SHA256 keyed with "ts\\nsecret" over nothing)."""
    return base64.b64encode(hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


def _markdown(msg: Message, colour: str) -> str:
    lines = [f"**{label}**{msg.colon}{value}" for label, value in msg.lines]
    link = [f"[{msg.link_text}]({msg.link})"] if msg.link else []
    return "\n".join([f"### <font color=\"{colour}\">{msg.title}</font>", *(f"> {line}" for line in lines), *link])


def wecom_body(msg: Message) -> dict:
    return {"msgtype": "markdown", "markdown": {"content": _markdown(msg, WECOM_COLOUR.get(msg.severity, "comment"))}}


def dingtalk_body(msg: Message) -> dict:
    # DingTalk's markdown needs blank lines between paragraphs; its title is the notification preview
    text = _markdown(msg, DINGTALK_COLOUR.get(msg.severity, "#808080")).replace("\n", "\n\n")
    return {"msgtype": "markdown", "markdown": {"title": msg.title, "text": text}}


def feishu_body(msg: Message, msg_type: str) -> dict:
    if msg_type == "text":
        return {"msg_type": "text", "content": {"text": msg.plain()}}
    elements: list[dict] = [{"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(
        f"**{label}**{msg.colon}{value}" for label, value in msg.lines)}}]
    if msg.link:
        elements.append({"tag": "action", "actions": [{"tag": "button", "type": "primary", "url": msg.link,
                                                         "text": {"tag": "plain_text", "content": msg.link_text}}]})
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"template": FEISHU_TEMPLATE.get(msg.severity, "grey"), "title": {"tag": "plain_text", "content": msg.title}},
        "elements": elements}}


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)


def request_of(robot: RobotConfig, msg: Message, now: float) -> tuple[str, dict]:
    """(url, JSON body) of one message: the credential and signature where the platform wants them."""
    token = robot.token_file and read_secret("robot", robot.id, "token_file", robot.token_file)
    secret = robot.secret_file and read_secret("robot", robot.id, "secret_file", robot.secret_file)
    url = robot.url
    if robot.kind is RobotKind.WECOM:
        return (_with_query(url, {"key": token}) if token else url), wecom_body(msg)
    if robot.kind is RobotKind.DINGTALK:
        url = _with_query(url, {"access_token": token}) if token else url
        if secret:
            ts = int(now * 1000)
            url = _with_query(url, {"timestamp": str(ts), "sign": dingtalk_sign(secret, ts)})
        return url, dingtalk_body(msg)
    url = f"{url.rstrip('/')}/{token}" if token else url
    body = feishu_body(msg, robot.msg_type or "interactive")
    if secret:
        ts = int(now)
        body = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **body}
    return url, body


def reply_problem(kind: RobotKind, reply: bytes) -> str | None:
    """Why a 200 reply still means the message was refused, or None when it was taken."""
    try:
        answer = json.loads(reply)
    except ValueError:
        return f"the reply is not JSON: {reply[:80]!r}"
    if not isinstance(answer, dict):
        return f"the reply is not a JSON object: {reply[:80]!r}"
    if kind is RobotKind.FEISHU:  # {"code": …, "msg": …}; older hooks answer {"StatusCode": …, "StatusMessage": …}
        code, text = answer.get("code", answer.get("StatusCode")), answer.get("msg", answer.get("StatusMessage"))
        return None if code == 0 else f"code {code}: {text}"
    code = answer.get("errcode")
    return None if code == 0 else f"errcode {code}: {answer.get('errmsg')}"


def send_robot(robot: RobotConfig, msg: Message, delivery_id: int, now: Callable[[], float] = time.time) -> None:
    """Post one message; a refusal in the reply raises ``DeliveryError`` like a network failure."""
    url, body = request_of(robot, msg, now())
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", DELIVERY_HEADER: str(delivery_id)}
    _, reply = http_request("robot", robot.id, url, data, headers, robot.timeout_s)
    problem = reply_problem(robot.kind, reply)
    if problem:
        raise DeliveryError("robot", robot.id, f"{robot.kind.value} refused: {problem}")
