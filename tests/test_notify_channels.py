"""Group robots, SMS, routing by role and quiet hours, against real receiving servers.

Each robot receiver is an HTTP server on a free loopback port that checks the request the way its
platform documents it (WeCom: the key; DingTalk: access_token, timestamp and HMAC-SHA256 sign in
the query; Feishu: timestamp and sign in the body) and answers in the platform's reply shape,
including its refusals with HTTP 200 and a non-zero code."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from watertel.cloud.config import load_cloud_config
from watertel.cloud.users import Role
from watertel.cloud.notify.config import NotificationsConfig, RoleName
from watertel.cloud.notify.message import cut
from watertel.cloud.notify.outbox import Notifier
from watertel.cloud.store.sqlite import SqliteStore
from watertel.config import ConfigError
from watertel.ports import free_port

TZ = ZoneInfo("Asia/Shanghai")
ANCESTRY = {"ST-XH": ["zj-hz-xh", "zj-hz", "zj"], "ST-NB": ["zj-nb-hs", "zj-nb", "zj"]}.get
OK_JSON = (200, {"errcode": 0, "errmsg": "ok"})


def local_ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp() * 1000)


class Clock:
    def __init__(self, t_ms: int) -> None:
        self.t_ms = t_ms

    def __call__(self) -> float:
        return self.t_ms / 1000


class Server:
    """An HTTP server on a free loopback port; ``answer(path, query, headers, body)`` gives
    (status, JSON reply); every request is kept in ``got``."""

    def __init__(self, answer: Callable[[str, dict, dict, dict], tuple[int, dict]]) -> None:
        self.got: list[tuple[str, dict, dict, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw) if raw else {}
                outer.got.append((url.path, query, dict(self.headers), body))
                status, reply = answer(url.path, query, dict(self.headers), body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_PUT = _any  # noqa: N815 - the http.server API

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="vendor receiver", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def serve():
    started = []

    def start(answer) -> Server:
        started.append(Server(answer))
        return started[-1]

    yield start
    for s in started:
        s.stop()


# --- receivers checking the way each platform documents ------------------------------------------


def wecom(key: str, refusals: list[dict]):
    def answer(path, query, headers, body):
        if query.get("key") != key:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        if body.get("msgtype") != "markdown" or not body["markdown"].get("content"):
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        return (200, refusals.pop(0)) if refusals else OK_JSON
    return answer


def dingtalk(token: str, secret: str, refusals: list[dict]):
    def answer(path, query, headers, body):
        if query.get("access_token") != token:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        ts = query.get("timestamp", "0")
        if abs(int(ts) - time.time() * 1000) > 3_600_000:  # documented: within an hour of the server's time
            return 200, {"errcode": 310000, "errmsg": "invalid timestamp"}
        # string_to_sign = timestamp + "\n" + secret; HmacSHA256 keyed with the secret; Base64; urlEncode
        expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
        if query.get("sign") != expected:
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        if body.get("msgtype") != "markdown" or not {"title", "text"} <= set(body["markdown"]):
            return 200, {"errcode": 40035, "errmsg": "缺少参数 markdown"}
        return (200, refusals.pop(0)) if refusals else OK_JSON
    return answer


def feishu(token: str, secret: str):
    def answer(path, query, headers, body):
        if path != f"/open-apis/bot/v2/hook/{token}":
            return 404, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
        ts = body.get("timestamp", "0")
        # string_to_sign = timestamp + "\n" + secret, used as the HmacSHA256 key over empty data; Base64
        expected = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
        if abs(int(ts) - time.time()) > 3600 or body.get("sign") != expected:
            return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        if body.get("msg_type") not in ("text", "interactive"):
            return 200, {"code": 19002, "msg": "params error, msg_type need"}
        return 200, {"code": 0, "msg": "success", "data": {}}
    return answer


def secret_file(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text + "\n", encoding="utf-8")
    return str(path)


def robots_config(tmp_path, servers: dict[str, Server], ding_secret: str = "SECding") -> NotificationsConfig:
    return NotificationsConfig.model_validate({
        "retry": {"first_s": 30, "max_s": 600},
        "console_url": "https://console.example/",
        "robots": [
            {"id": "wx", "kind": "wecom", "url": servers["wecom"].url + "/cgi-bin/webhook/send",
             "token_file": secret_file(tmp_path, "wx.key", "wx-key-1")},
            {"id": "ding", "kind": "dingtalk", "url": servers["dingtalk"].url + "/robot/send",
             "token_file": secret_file(tmp_path, "ding.token", "ding-token"),
             "secret_file": secret_file(tmp_path, "ding.sign", ding_secret)},
            {"id": "fs", "kind": "feishu", "url": servers["feishu"].url + "/open-apis/bot/v2/hook",
             "token_file": secret_file(tmp_path, "fs.token", "fs-hook"),
             "secret_file": secret_file(tmp_path, "fs.sign", "fs-secret")},
        ],
        "contacts": [{"id": "hz-group", "robot": "wx"}, {"id": "ding-group", "robot": "ding"},
                     {"id": "fs-group", "robot": "fs"}],
        "routes": [{"contacts": ["hz-group", "ding-group", "fs-group"]}],
    })


def test_each_robot_gets_its_format_signed_as_its_platform_checks_and_a_refusal_is_retried_and_logged(tmp_path, serve):
    ding_refusals = [{"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}]
    servers = {"wecom": serve(wecom("wx-key-1", [])), "dingtalk": serve(dingtalk("ding-token", "SECding", ding_refusals)),
               "feishu": serve(feishu("fs-hook", "fs-secret"))}
    store, t0 = SqliteStore(tmp_path / "w.db"), local_ms("2026-10-28 09:30")
    notifier = Notifier(store, robots_config(tmp_path, servers), ANCESTRY, clock=Clock(t0))
    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "浊度 1.5 NTU 超过 1.0", t0)
    (alarm_id,) = [a["id"] for a in store.alarms(open_only=True)]
    assert notifier.route() == 3
    assert notifier.deliver() == (2, 1), "DingTalk answers 200 with errcode 130101"
    (row,) = store.outbox(pending=True)
    assert (row["channel"], row["address"], row["attempts"]) == ("robot", "ding", 1)
    assert row["last_error"] == "dingtalk refused: errcode 130101: send too fast, exceed 20 times per minute"
    assert row["next_ms"] == t0 + 30_000
    notifier.clock.t_ms = t0 + 30_000
    assert notifier.deliver() == (1, 0) and store.outbox(pending=True) == []

    ((_, _, headers, body),) = servers["wecom"].got
    content = body["markdown"]["content"]
    assert '<font color="warning">【红色告警】水质超标 ST-XH</font>' in content
    assert "2026-10-28 09:30 CST" in content and "浊度 1.5 NTU 超过 1.0" in content
    assert f"[查看告警](https://console.example/alarms?alarm={alarm_id})" in content
    assert headers["X-Watertel-Delivery"].isdigit()
    assert len(servers["dingtalk"].got) == 2
    ding = servers["dingtalk"].got[-1][3]["markdown"]
    assert ding["title"] == "【红色告警】水质超标 ST-XH" and "<font color=\"#FF0000\">" in ding["text"]
    ((_, _, _, card),) = servers["feishu"].got
    assert card["msg_type"] == "interactive" and card["card"]["header"]["template"] == "red"
    assert card["card"]["header"]["title"]["content"] == "【红色告警】水质超标 ST-XH"
    assert card["card"]["elements"][1]["actions"][0]["url"] == f"https://console.example/alarms?alarm={alarm_id}"
    for path in (tmp_path / "wx.key", tmp_path / "ding.sign", tmp_path / "fs.sign"):  # secrets: never in the log
        secret = path.read_text().strip()
        assert all(secret not in r["last_error"] and secret not in r["payload"] for r in store.outbox(pending=False))
    store.close()


def test_a_wrong_signing_secret_is_refused_by_the_platform_and_kept_for_retry(tmp_path, serve):
    servers = {"wecom": serve(wecom("another-key", [])), "dingtalk": serve(dingtalk("ding-token", "SECding", [])),
               "feishu": serve(feishu("fs-hook", "fs-secret"))}
    cfg = robots_config(tmp_path, servers, ding_secret="SECwrong")
    (tmp_path / "fs.sign").write_text("not-the-secret")
    store, t0 = SqliteStore(tmp_path / "w.db"), local_ms("2026-10-28 09:30")
    notifier = Notifier(store, cfg, ANCESTRY, clock=Clock(t0))
    store.raise_alarm("ST-XH", "*", "data_stopped", "orange", "08:00 起无数据", t0)
    assert notifier.route() == 3 and notifier.deliver() == (0, 3)
    errors = {r["address"]: r["last_error"] for r in store.outbox(pending=True)}
    assert errors == {"wx": "wecom refused: errcode 93000: invalid webhook url",
                      "ding": "dingtalk refused: errcode 310000: sign not match",
                      "fs": "feishu refused: code 19021: sign match fail or timestamp is not within one hour from current time"}
    (tmp_path / "fs.sign").write_text("fs-secret\n")  # fixed: read again at the next attempt, no restart
    notifier.clock.t_ms = t0 + 30_000
    assert notifier.deliver() == (1, 2)
    store.close()


def test_feishu_plain_text_and_an_unsigned_dingtalk_robot(tmp_path, serve):
    fs = serve(lambda path, q, h, body: (200, {"code": 0, "msg": "success", "data": {}}))
    ding = serve(lambda path, q, h, body: OK_JSON if "sign" not in q else (200, {"errcode": 1, "errmsg": "unexpected"}))
    cfg = NotificationsConfig.model_validate({
        "language": "en",
        "robots": [{"id": "fs", "kind": "feishu", "url": fs.url + "/open-apis/bot/v2/hook/abc", "msg_type": "text"},
                   {"id": "ding", "kind": "dingtalk", "url": ding.url + "/robot/send?access_token=t"}],
        "contacts": [{"id": "a", "robot": "fs"}, {"id": "b", "robot": "ding"}], "routes": [{"contacts": ["a", "b"]}]})
    store, t0 = SqliteStore(tmp_path / "w.db"), local_ms("2026-10-28 09:30")
    notifier = Notifier(store, cfg, ANCESTRY, clock=Clock(t0))
    store.raise_alarm("ST-NB", "flow", "spike", "yellow", "flow 900 m3/h after 20", t0)
    assert notifier.route() == 2 and notifier.deliver() == (2, 0)
    ((path, _, _, body),) = fs.got
    assert path == "/open-apis/bot/v2/hook/abc" and set(body) == {"msg_type", "content"}
    assert body["content"]["text"].startswith("[Yellow alarm] spike ST-NB\nEvent: raised\nStation: ST-NB flow")
    assert ding.got[0][1] == {"access_token": "t"}
    store.close()


# --- SMS ------------------------------------------------------------------------------------------


def test_sms_through_a_gateway_with_auth_text_cut_to_70_and_the_reply_field_checked(tmp_path, serve):
    replies = [{"code": "E17", "msg": "余额不足"}]
    seen_auth = []

    def gateway(path, query, headers, body):
        seen_auth.append(headers.get("X-Api-Key"))
        if headers.get("X-Api-Key") != "sms-token":
            return 401, {"code": "E401"}
        return 200, replies.pop(0) if replies else {"code": "0", "msg": "ok", "data": {"id": "m1"}}

    gw = serve(gateway)
    cfg = NotificationsConfig.model_validate({
        "retry": {"first_s": 60},
        "sms": {"url": gw.url + "/v1/send?sign=watertel", "auth_header": "X-Api-Key",
                "auth_file": secret_file(tmp_path, "sms.key", "sms-token"),
                "body": {"mobile": "{phone}", "content": "{text}", "tags": ["alarm", "{phone}"]},
                "ok_field": "code", "ok_value": "0"},
        "contacts": [{"id": "duty", "phone": "+8613812345678"}], "routes": [{"contacts": ["duty"]}]})
    store, t0 = SqliteStore(tmp_path / "w.db"), local_ms("2026-10-28 09:30")
    notifier = Notifier(store, cfg, ANCESTRY, clock=Clock(t0))
    store.raise_alarm("ST-XH", "turbidity", "water_quality", "red", "浊度 " + "很高" * 60, t0)
    assert notifier.route() == 1 and notifier.deliver() == (0, 1)
    (row,) = store.outbox(pending=True)
    assert row["last_error"] == "gateway refused: code = 'E17' (sent when '0')"
    notifier.clock.t_ms = t0 + 60_000
    assert notifier.deliver() == (1, 0)
    path, query, headers, body = gw.got[-1]
    assert (path, query, body["mobile"], body["tags"]) == ("/v1/send", {"sign": "watertel"}, "+8613812345678",
                                                           ["alarm", "+8613812345678"])
    text = body["content"]
    assert len(text) == 70 and text.endswith("…") and text.startswith("【红色告警】告警发生：水质超标 ST-XH turbidity 10-28 09:30 #1 浊度")
    assert seen_auth == ["sms-token", "sms-token"]
    store.close()


def test_sms_by_get_with_the_phone_in_the_url_and_a_masked_number_in_errors(tmp_path, serve):
    gw = serve(lambda path, q, h, body: (200, {"ok": True}) if q.get("to") == "13900001111" else (500, {}))
    cfg = NotificationsConfig.model_validate({
        "sms": {"url": gw.url + "/send?to={phone}&msg={text}", "method": "GET"},
        "contacts": [{"id": "a", "phone": "13900001111"}, {"id": "b", "phone": "13900002222"}],
        "routes": [{"contacts": ["a", "b"]}]})
    store, t0 = SqliteStore(tmp_path / "w.db"), local_ms("2026-10-28 09:30")
    notifier = Notifier(store, cfg, ANCESTRY, clock=Clock(t0))
    store.raise_alarm("ST-XH", "*", "gateway_offline", "orange", "离线 10 分钟", t0)
    assert notifier.route() == 2 and notifier.deliver() == (1, 1)
    assert [q["msg"] for _, q, _, _ in gw.got if q["to"] == "13900001111"] == [
        "【橙色告警】告警发生：网关离线 ST-XH 全站 10-28 09:30 #1 离线 10 分钟"]
    (row,) = store.outbox(pending=True)
    assert row["address"] == "13900002222" and row["last_error"] == "HTTP 500 Internal Server Error"
    store.close()


def test_cut_keeps_whole_characters_and_drops_punctuation_before_the_ellipsis():
    assert cut("短信", 70) == "短信"
    assert cut("一二三四五，六七八", 6) == "一二三四五…"
    assert len(cut("水" * 200, 70)) == 70


# --- routing by role and quiet hours ------------------------------------------------------------


def hook_config(url: str, **extra) -> NotificationsConfig:
    return NotificationsConfig.model_validate({
        "retry": {"first_s": 30},
        "webhooks": [{"id": n, "url": f"{url}/{n}"} for n in ("crew1", "crew2", "op", "viewer", "night")],
        "contacts": [{"id": "crew1", "webhook": "crew1", "role": "crew"},
                     {"id": "crew2", "webhook": "crew2", "role": "crew", "quiet_hours": "22:00-07:00"},
                     {"id": "op", "webhook": "op", "role": "operator"},
                     {"id": "viewer", "webhook": "viewer", "role": "viewer"},
                     {"id": "night", "webhook": "night"}],
        **extra})


def test_routes_reach_the_contacts_of_their_roles(tmp_path, serve):
    receiver = serve(lambda *a: (204, {}))
    cfg = hook_config(receiver.url, routes=[
        {"regions": ["zj-hz"], "severities": ["red"], "roles": ["crew"]},
        {"severities": ["red", "orange"], "roles": ["operator"], "contacts": ["night"]}])
    store, t0 = SqliteStore(tmp_path / "w.db"), local_ms("2026-10-28 12:00")
    notifier = Notifier(store, cfg, ANCESTRY, clock=Clock(t0))
    store.raise_alarm("ST-XH", "ph", "water_quality", "red", "ph 9.5", t0)
    store.raise_alarm("ST-NB", "ph", "water_quality", "orange", "ph 9.0", t0)
    assert notifier.route() == 6 and notifier.deliver() == (6, 0)
    got = sorted((path, body["alarm"]["station"]) for path, _, _, body in receiver.got)
    assert got == [("/crew1", "ST-XH"), ("/crew2", "ST-XH"), ("/night", "ST-NB"), ("/night", "ST-XH"),
                   ("/op", "ST-NB"), ("/op", "ST-XH")], "the viewer is in no route; ST-NB is not in zj-hz"
    store.close()


def test_quiet_hours_hold_what_is_not_red_until_they_end_and_red_goes_at_once(tmp_path, serve):
    receiver = serve(lambda *a: (204, {}))
    cfg = hook_config(receiver.url, routes=[
        {"roles": ["crew"]},  # crew2 has quiet hours of its own
        {"contacts": ["night"], "quiet_hours": "23:00-06:30"},
        {"contacts": ["op"], "quiet_hours": "22:00-07:00"}, {"severities": ["yellow"], "contacts": ["op"]}])
    store, t0 = SqliteStore(tmp_path / "w.db"), local_ms("2026-10-28 23:30")
    clock = Clock(t0)
    notifier = Notifier(store, cfg, ANCESTRY, clock=clock)
    store.raise_alarm("ST-XH", "flow", "spike", "orange", "spike", t0)
    store.raise_alarm("ST-XH", "ph", "water_quality", "red", "ph 10", t0)
    store.raise_alarm("ST-NB", "flow", "volume_change", "yellow", "volume", t0)
    assert notifier.route() == 12
    assert notifier.deliver() == (7, 0)
    # red to everyone; crew1 has no quiet hours; op is quiet on one route but not on the yellow one
    assert sorted((path, body["alarm"]["type"]) for path, _, _, body in receiver.got) == [
        ("/crew1", "spike"), ("/crew1", "volume_change"), ("/crew1", "water_quality"), ("/crew2", "water_quality"),
        ("/night", "water_quality"), ("/op", "volume_change"), ("/op", "water_quality")]
    held = {(r["address"], json.loads(r["payload"])["alarm"]["type"]): r for r in store.outbox(pending=True)}
    assert {k: (r["next_ms"], r["attempts"]) for k, r in held.items()} == {
        ("crew2", "spike"): (local_ms("2026-10-29 07:00"), 0), ("crew2", "volume_change"): (local_ms("2026-10-29 07:00"), 0),
        ("night", "spike"): (local_ms("2026-10-29 06:30"), 0), ("night", "volume_change"): (local_ms("2026-10-29 06:30"), 0),
        ("op", "spike"): (local_ms("2026-10-29 07:00"), 0)}  # a hold is not a failed attempt
    assert held[("crew2", "spike")]["last_error"] == "held: quiet hours until 2026-10-29 07:00 CST"
    clock.t_ms = local_ms("2026-10-29 06:29")
    assert notifier.deliver() == (0, 0), "still quiet: nothing due"
    clock.t_ms = local_ms("2026-10-29 06:30")
    assert notifier.deliver() == (2, 0), "the night route's quiet hours ended"
    assert {b["alarm"]["type"] for p, _, _, b in receiver.got[7:]} == {"spike", "volume_change"}
    clock.t_ms = local_ms("2026-10-29 07:00")
    assert notifier.deliver() == (3, 0) and store.outbox(pending=True) == [], "nothing dropped"
    store.close()


# --- configuration ------------------------------------------------------------------------------


def test_the_roles_are_the_apis():
    from typing import get_args

    assert set(get_args(RoleName)) == {r.value for r in Role}


@pytest.mark.parametrize(("yaml_body", "message"), [
    ("  robots: [{id: wx, kind: wecom, url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send', token_file: k,"
     " secret_file: s}]\n",
     r"cloud.yaml:3: notifications.robots.0: robot 'wx': WeCom robots are not signed \(remove secret_file"),
    ("  robots: [{id: fs, kind: feishu, url: 'https://open.feishu.cn/open-apis/bot/v2/'}]\n",
     r"cloud.yaml:3: notifications.robots.0: .*no /hook/… credential \(give token_file"),
    ("  robots: [{id: d, kind: dingtalk, url: 'https://x/robot/send?access_token=t', msg_type: text}]\n",
     r"notifications.robots.0: robot 'd': msg_type is a Feishu setting \(remove it for dingtalk\)"),
    ("  sms: {url: 'https://sms.example/send', body: {to: '{phone}'}}\n",
     r"cloud.yaml:3: notifications.sms: \{text\} in neither url nor body \(put them where"),
    ("  sms: {url: 'https://sms.example/?p={phone}&t={text}', method: GET, body: {a: b}}\n",
     r"notifications.sms: a GET request has no body"),
    ("  webhooks: [{id: h, url: 'http://x/'}]\n  contacts: [{id: a, webhook: h, quiet_hours: '22:00-25:00'}]\n",
     r"cloud.yaml:4: notifications.contacts.0.quiet_hours: quiet hours are written HH:MM-HH:MM, got '22:00-25:00'"),
    ("  webhooks: [{id: h, url: 'http://x/'}]\n  contacts: [{id: a, webhook: h, role: boss}]\n",
     r"notifications.contacts.0.role: .*got 'boss' \(use one of 'admin', 'operator', 'crew' or 'viewer'\)"),
    ("  webhooks: [{id: h, url: 'http://x/'}]\n  contacts: [{id: a, webhook: h, role: crew}, {id: b, phone: '13800000000'}]\n"
     "  routes: [{roles: [viewer]}, {contacts: [a], quiet_hours: '07:00-07:00'}]\n",
     r"notifications.routes.1.quiet_hours: quiet hours start and end at the same time"),
    ("  webhooks: [{id: h, url: 'http://x/'}]\n  contacts: [{id: a, webhook: h, role: crew}, {id: b, phone: '13800000000'},"
     " {id: a, robot: wy}]\n  routes: [{roles: [viewer]}]\n",
     r"id 'a' appears twice.*robot 'wy' is not in robots.*'b': a phone number needs the sms section"
     r".*routes.0: role 'viewer': no contact has it \(give a contact role: viewer\)"),
    ("  webhooks: [{id: h, url: 'http://x/'}]\n  contacts: [{id: a, webhook: h}]\n  routes: [{severities: [red]}]\n",
     r"notifications.routes.0: a route needs contacts, roles or both"),
])
def test_config_errors_name_file_key_and_fix(tmp_path, yaml_body, message):
    (tmp_path / "cloud.yaml").write_text("data_dir: d\nnotifications:\n" + yaml_body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_cloud_config(tmp_path / "cloud.yaml")


def test_secret_files_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "cloud.yaml").write_text(
        "data_dir: d\nnotifications:\n"
        "  robots: [{id: d, kind: dingtalk, url: 'https://oapi.dingtalk.com/robot/send', token_file: s/t,"
        " secret_file: s/k}]\n  sms: {url: 'https://sms/?to={phone}&m={text}', method: GET, auth_file: s/sms}\n",
        encoding="utf-8")
    cfg = load_cloud_config(tmp_path / "cloud.yaml").notifications
    assert cfg.robots[0].token_file == tmp_path / "s/t" and cfg.robots[0].secret_file == tmp_path / "s/k"
    assert cfg.sms.auth_file == tmp_path / "s/sms"


def test_the_example_shows_robots_sms_roles_and_quiet_hours():
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[1] / "deploy" / "cloud.example.yaml").read_text(encoding="utf-8")
    block = text[text.index("\n# notifications:") + 1:].split("\n\n")[0]
    cfg = NotificationsConfig.model_validate(yaml.safe_load(
        "\n".join(line[2:] for line in block.splitlines() if line.startswith("# ")))["notifications"])
    assert [r.kind.value for r in cfg.robots] == ["wecom", "dingtalk", "feishu"] and cfg.sms.max_chars == 70
    assert [c.id for c in cfg.reached_by(cfg.routes[0])] == ["duty-hz", "crew-xh"]
    assert str(cfg.routes[0].quiet_hours) == "22:00-07:00"
