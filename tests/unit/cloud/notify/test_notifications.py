"""Notifications against real receivers: a local HTTP server for the webhook (HMAC checked, down
at first, then failing, then up), a real SMTP server (aiosmtpd, plain and STARTTLS); the outbox
keeps every notification across a restart of the notifier, and failures are counted.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/notify/test_notifications.py."""

from __future__ import annotations

import pytest

from watertel.cloud.config import load_cloud_config
from watertel.cloud.notify.config import NotificationsConfig
from watertel.config import ConfigError

from tests.support.paths import ROOT


def test_a_route_to_an_unknown_contact_is_refused_naming_the_key(tmp_path):
    (tmp_path / "cloud.yaml").write_text(
        "data_dir: d\nnotifications:\n  webhooks: [{id: h, url: 'http://x/'}]\n"
        "  contacts: [{id: c, webhook: nope}]\n  routes: [{contacts: [c, ghost]}]\n")
    with pytest.raises(ConfigError, match=r"webhook 'nope' is not in webhooks.*routes.0: contact 'ghost' is not in contacts"):
        load_cloud_config(tmp_path / "cloud.yaml")
    (tmp_path / "cloud.yaml").write_text("data_dir: d\nnotifications:\n  contacts: [{id: c, email: a@b.c}]\n")
    with pytest.raises(ConfigError, match="an email address needs the smtp section"):
        load_cloud_config(tmp_path / "cloud.yaml")


def test_the_commented_example_in_cloud_example_yaml_is_valid():
    import yaml

    from watertel.cloud.alarms.lifecycle import LifecycleConfig

    text = (ROOT / "deploy" / "cloud.example.yaml").read_text(encoding="utf-8")
    data = {}
    for key in ("lifecycle", "notifications"):
        block = text[text.index(f"\n# {key}:") + 1:].split("\n\n")[0]
        data.update(yaml.safe_load("\n".join(line[2:] for line in block.splitlines() if line.startswith("# "))))
    shown = LifecycleConfig.model_validate(data["lifecycle"])
    default = LifecycleConfig()
    assert shown.ack_within_ms() == default.ack_within_ms() and shown.flapping == default.flapping, "the defaults shown"
    assert [shown.work_orders.due_ms({"type": t, "severity": s}, 0) for t, s in [("data_stopped", "orange"), ("spike", "red"),
            ("spike", "yellow")]] == [72 * 3_600_000, 12 * 3_600_000, 4 * 3_600_000]
    cfg = NotificationsConfig.model_validate(data["notifications"])
    assert [r.level for r in cfg.routes] == [0, 1] and cfg.smtp.starttls


def test_a_route_to_a_region_the_registry_lacks_is_refused(tmp_path):
    (tmp_path / "registry.yaml").write_text(
        "provinces: [{id: zj, name: 浙江, cities: [{id: zj-hz, name: 杭州, counties: [{id: zj-hz-xh, name: 西湖}]}]}]\n"
        "stations: []\n", encoding="utf-8")
    (tmp_path / "cloud.yaml").write_text(
        "data_dir: d\nregistry_file: registry.yaml\nnotifications:\n  webhooks: [{id: h, url: 'http://x/'}]\n"
        "  contacts: [{id: c, webhook: h}]\n  routes: [{regions: [zj-hz, zj-nb], contacts: [c]}]\n")
    with pytest.raises(ConfigError, match=r"notifications.routes.0.regions: 'zj-nb' is not a region in registry.yaml"):
        load_cloud_config(tmp_path / "cloud.yaml")
