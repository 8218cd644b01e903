"""Group robots, SMS, routing by role and quiet hours, against real receiving servers.

Each robot receiver is an HTTP server on a free loopback port that checks the request the way its
platform documents it (WeCom: the key; DingTalk: access_token, timestamp and HMAC-SHA256 sign in
the query; Feishu: timestamp and sign in the body) and answers in the platform's reply shape,
including its refusals with HTTP 200 and a non-zero code.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/notify/test_notify_channels.py."""

from __future__ import annotations

import pytest

from watertel.cloud.config import load_cloud_config
from watertel.cloud.notify.config import NotificationsConfig, RoleName
from watertel.cloud.notify.message import cut
from watertel.cloud.users import Role
from watertel.config import ConfigError

from tests.support.paths import ROOT

OK_JSON = (200, {"errcode": 0, "errmsg": "ok"})


# --- receivers checking the way each platform documents ------------------------------------------


# --- SMS ------------------------------------------------------------------------------------------


def test_cut_keeps_whole_characters_and_drops_punctuation_before_the_ellipsis():
    assert cut("短信", 70) == "短信"
    assert cut("一二三四五，六七八", 6) == "一二三四五…"
    assert len(cut("水" * 200, 70)) == 70


# --- routing by role and quiet hours ------------------------------------------------------------


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
    import yaml

    text = (ROOT / "deploy" / "cloud.example.yaml").read_text(encoding="utf-8")
    block = text[text.index("\n# notifications:") + 1:].split("\n\n")[0]
    cfg = NotificationsConfig.model_validate(yaml.safe_load(
        "\n".join(line[2:] for line in block.splitlines() if line.startswith("# ")))["notifications"])
    assert [r.kind.value for r in cfg.robots] == ["wecom", "dingtalk", "feishu"] and cfg.sms.max_chars == 70
    assert [c.id for c in cfg.reached_by(cfg.routes[0])] == ["duty-hz", "crew-xh"]
    assert str(cfg.routes[0].quiet_hours) == "22:00-07:00"
